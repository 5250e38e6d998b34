// Package ragd holds the vocabulary every ragd package shares: the kinds of
// error the domain packages return (ErrNotFound, ValidationError,
// ConflictError, QuotaError, ...; the HTTP layer maps them to problem
// responses in one place), optional fields for partial updates, and list
// pagination by cursor.
//
// The packages that do the work are its siblings, one concept each:
//
//	agents    the control plane: tenants, API keys, agents
//	ingest    documents: intake, sandboxed extraction, quotas, the pipeline
//	chunker   token-aware, structure-first splitting (pure)
//	embedder  OpenAI-compatible and local embedders, the embedding cache
//	search    vector stores (Qdrant, embedded), BM25, hybrid search
//	jobs      River jobs and workers, the supervisor, the dashboard
//	api       the HTTP API: routes, auth, problem responses
//	postgres  the pool, migrations and the schema check
//	metrics   Prometheus metrics
//	secret    AES-256-GCM sealing and redaction
//
// cmd/ragd wires them into the service and cmd/ragctl is the client.
// Domain packages never import api, jobs or cmd.
package ragd
