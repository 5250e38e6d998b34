// Package agents is ragd's control plane: tenants (customer organisations,
// optionally mapped to an auth provider's org id, with their settings and
// quotas), their API keys (stored as SHA-256 hashes, scoped, revocable,
// expiring) and their agents (chatbot configurations: model, prompt,
// output schema, MCP servers, Langfuse tracing, retrieval settings).
// ControlPlane keeps all three in Postgres, and console sessions.
//
// It is the one writer of tenants: the settings other packages need
// (chunking, quotas, the embedding space their searches use) are read,
// and the embedding space switched, through its typed methods (settings.go),
// which take the caller's transaction when it has one.
//
// Tenant isolation: every method that touches a tenant's data takes
// the tenant id and filters on it in SQL; another tenant's object is
// ErrNotFound, exactly like a missing one. Agent ids are unique per tenant,
// so that no tenant can learn or take another's ids.
//
// Secrets (Langfuse secret keys, MCP header values) are sealed with
// AES-256-GCM before they reach the database, bound to their tenant's and
// agent's ids, and held in memory as secret.String so they print redacted
// everywhere.
package agents
