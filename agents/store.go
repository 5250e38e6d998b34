package agents

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/postgres"
	"github.com/ragd/ragd/secret"
)

// ControlPlane keeps tenants, API keys and agents in Postgres. It is safe for
// concurrent use.
type ControlPlane struct {
	pool *pgxpool.Pool
	box  *secret.Box
	jobs Jobs
}

// Jobs queues what a tenant's deletion leaves outside Postgres, in the
// transaction that deletes it (the jobs package implements it).
type Jobs interface {
	EnqueuePurgeTenant(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID) error
}

// NewControlPlane returns a ControlPlane on pool that seals agent secrets
// with box. jobs queues the removal of a deleted tenant's points; without
// it (nil), DeleteTenant refuses.
func NewControlPlane(pool *pgxpool.Pool, box *secret.Box, jobs Jobs) *ControlPlane {
	return &ControlPlane{pool: pool, box: box, jobs: jobs}
}

// translate turns Postgres errors into ragd's error kinds. It is the one
// place where pgx.ErrNoRows and constraint names are interpreted.
func translate(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, ragd.ErrNotFound)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505": // unique_violation
			switch pgErr.ConstraintName {
			case "tenants_slug_key":
				return &ragd.ConflictError{Field: "slug", Message: "a tenant with this slug already exists"}
			case "tenants_clerk_org_id_key":
				return &ragd.ConflictError{Field: "clerk_org_id", Message: "another tenant has this clerk_org_id"}
			case "agents_pkey": // (tenant_id, id): ids are unique per tenant
				return agentIDTaken()
			}
		case "23503": // foreign_key_violation: the tenant is gone
			return fmt.Errorf("%s: tenant: %w", what, ragd.ErrNotFound)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// secretsUnreadable refuses an update that gives some of an agent's
// secrets and keeps others that no key of the server opens.
func secretsUnreadable() error {
	return &ragd.ConflictError{Field: "secrets", Message: "the agent's stored secrets (MCP header values, the Langfuse secret_key) open with none of the server's encryption keys: " +
		"RAGD_ENCRYPTION_KEY was changed without the old key in RAGD_ENCRYPTION_KEY_PREVIOUS. Give every one of them again in this update, or none " +
		"(the stored ones are then kept as they are, for when the old key is back)"}
}

// agentIDTaken: the tenant already has an agent with the id asked for.
func agentIDTaken() error {
	return &ragd.ConflictError{Field: "id", Message: "the tenant already has an agent with this id"}
}

// ---- tenants ----

const tenantColumns = "id, name, slug, clerk_org_id, settings, quota_documents, quota_stored_bytes, quota_embedding_tokens, created_at, updated_at"

func scanTenant(row pgx.Row) (Tenant, error) {
	var t Tenant
	var settings []byte
	err := row.Scan(&t.ID, &t.Name, &t.Slug, &t.ClerkOrgID, &settings,
		&t.Quotas.Documents, &t.Quotas.StoredBytes, &t.Quotas.EmbeddingTokensPerMonth, &t.CreatedAt, &t.UpdatedAt)
	t.Settings = settings
	return t, err
}

// CreateTenant creates a tenant from p (name required; slug derived from
// the name when left out).
func (s *ControlPlane) CreateTenant(ctx context.Context, p TenantPatch) (Tenant, error) {
	t, err := p.apply(Tenant{}, true)
	if err != nil {
		return Tenant{}, err
	}
	t.ID = uuid.Must(uuid.NewV7())
	t, err = scanTenant(s.pool.QueryRow(ctx, `
		INSERT INTO tenants (id, name, slug, clerk_org_id, settings, quota_documents, quota_stored_bytes, quota_embedding_tokens)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		RETURNING `+tenantColumns, t.ID, t.Name, t.Slug, t.ClerkOrgID, []byte(t.Settings),
		t.Quotas.Documents, t.Quotas.StoredBytes, t.Quotas.EmbeddingTokensPerMonth))
	if err != nil {
		return Tenant{}, translate(err, "create tenant")
	}
	return t, nil
}

// GetTenant returns the tenant with id.
func (s *ControlPlane) GetTenant(ctx context.Context, id uuid.UUID) (Tenant, error) {
	t, err := scanTenant(s.pool.QueryRow(ctx, "SELECT "+tenantColumns+" FROM tenants WHERE id = $1", id))
	if err != nil {
		return Tenant{}, translate(err, "get tenant")
	}
	return t, nil
}

// GetTenantByClerkOrg returns the tenant mapped to an auth provider's org id.
func (s *ControlPlane) GetTenantByClerkOrg(ctx context.Context, orgID string) (Tenant, error) {
	t, err := scanTenant(s.pool.QueryRow(ctx, "SELECT "+tenantColumns+" FROM tenants WHERE clerk_org_id = $1", orgID))
	if err != nil {
		return Tenant{}, translate(err, "get tenant by clerk_org_id")
	}
	return t, nil
}

// GetTenantBySlug returns the tenant with slug.
func (s *ControlPlane) GetTenantBySlug(ctx context.Context, slug string) (Tenant, error) {
	t, err := scanTenant(s.pool.QueryRow(ctx, "SELECT "+tenantColumns+" FROM tenants WHERE slug = $1", slug))
	if err != nil {
		return Tenant{}, translate(err, "get tenant by slug")
	}
	return t, nil
}

// ListTenants returns a page of tenants, oldest first.
func (s *ControlPlane) ListTenants(ctx context.Context, p ragd.Page) ([]Tenant, *ragd.Cursor, error) {
	limit := p.Size()
	at, id := p.Key(time.Time{})
	rows, err := s.pool.Query(ctx, `
		SELECT `+tenantColumns+` FROM tenants
		WHERE (created_at, id::text) > ($1, $2)
		ORDER BY created_at, id::text LIMIT $3`, at, id, limit+1)
	if err != nil {
		return nil, nil, translate(err, "list tenants")
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Tenant, error) { return scanTenant(r) })
	if err != nil {
		return nil, nil, translate(err, "list tenants")
	}
	list, next := ragd.TrimPage(list, limit, func(t Tenant) ragd.Cursor { return ragd.Cursor{Time: t.CreatedAt, ID: t.ID.String()} })
	return list, next, nil
}

// UpdateTenant applies p to the tenant with id.
func (s *ControlPlane) UpdateTenant(ctx context.Context, id uuid.UUID, p TenantPatch) (Tenant, error) {
	var out Tenant
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		t, err := scanTenant(tx.QueryRow(ctx, "SELECT "+tenantColumns+" FROM tenants WHERE id = $1 FOR UPDATE", id))
		if err != nil {
			return translate(err, "update tenant")
		}
		if t, err = p.apply(t, false); err != nil {
			return err
		}
		out, err = scanTenant(tx.QueryRow(ctx, `
			UPDATE tenants SET name = $2, slug = $3, clerk_org_id = $4, settings = $5,
				quota_documents = $6, quota_stored_bytes = $7, quota_embedding_tokens = $8, updated_at = now()
			WHERE id = $1 RETURNING `+tenantColumns, id, t.Name, t.Slug, t.ClerkOrgID, []byte(t.Settings),
			t.Quotas.Documents, t.Quotas.StoredBytes, t.Quotas.EmbeddingTokensPerMonth))
		return translate(err, "update tenant")
	})
	if err != nil {
		return Tenant{}, err
	}
	return out, nil
}

// DeleteTenant deletes a tenant and, by cascade, every row it owns, and
// queues the removal of its points in the same transaction.
func (s *ControlPlane) DeleteTenant(ctx context.Context, id uuid.UUID) error {
	if s.jobs == nil {
		return errors.New("delete tenant: this control plane has no job queue to remove the tenant's points with")
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "DELETE FROM tenants WHERE id = $1", id)
		if err != nil {
			return translate(err, "delete tenant")
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("delete tenant: %w", ragd.ErrNotFound)
		}
		return s.jobs.EnqueuePurgeTenant(ctx, tx, id)
	})
}

// ---- API keys ----

const keyColumns = "id, tenant_id, name, display, scopes, expires_at, revoked_at, last_used_at, created_at"

func scanKey(row pgx.Row) (APIKey, error) {
	var k APIKey
	var scopes []string
	err := row.Scan(&k.ID, &k.TenantID, &k.Name, &k.Display, &scopes, &k.ExpiresAt, &k.RevokedAt, &k.LastUsedAt, &k.CreatedAt)
	k.Scopes = make([]Scope, len(scopes))
	for i, sc := range scopes {
		k.Scopes[i] = Scope(sc)
	}
	return k, err
}

// CreateKey mints a key for the tenant and returns its record and the key
// itself, which is not stored and cannot be shown again.
func (s *ControlPlane) CreateKey(ctx context.Context, tenantID uuid.UUID, in KeyInput) (APIKey, string, error) {
	in, err := in.validate(time.Now())
	if err != nil {
		return APIKey{}, "", err
	}
	key := newKeySecret()
	scopes := make([]string, len(in.Scopes))
	for i, sc := range in.Scopes {
		scopes[i] = string(sc)
	}
	k, err := scanKey(s.pool.QueryRow(ctx, `
		INSERT INTO api_keys (id, tenant_id, name, display, hash, scopes, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		RETURNING `+keyColumns,
		uuid.Must(uuid.NewV7()), tenantID, in.Name, key[:displayLen], HashKey(key), scopes, in.ExpiresAt))
	if err != nil {
		return APIKey{}, "", translate(err, "create api key")
	}
	return k, key, nil
}

// ListKeys returns a page of the tenant's keys, revoked ones included.
func (s *ControlPlane) ListKeys(ctx context.Context, tenantID uuid.UUID, p ragd.Page) ([]APIKey, *ragd.Cursor, error) {
	limit := p.Size()
	at, id := p.Key(time.Time{})
	rows, err := s.pool.Query(ctx, `
		SELECT `+keyColumns+` FROM api_keys
		WHERE tenant_id = $1 AND (created_at, id::text) > ($2, $3)
		ORDER BY created_at, id::text LIMIT $4`, tenantID, at, id, limit+1)
	if err != nil {
		return nil, nil, translate(err, "list api keys")
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (APIKey, error) { return scanKey(r) })
	if err != nil {
		return nil, nil, translate(err, "list api keys")
	}
	list, next := ragd.TrimPage(list, limit, func(k APIKey) ragd.Cursor { return ragd.Cursor{Time: k.CreatedAt, ID: k.ID.String()} })
	return list, next, nil
}

// RevokeKey revokes the tenant's key at once. Revoking twice is not an
// error; the first revocation time stays.
func (s *ControlPlane) RevokeKey(ctx context.Context, tenantID, keyID uuid.UUID) (APIKey, error) {
	k, err := scanKey(s.pool.QueryRow(ctx, `
		UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
		WHERE tenant_id = $1 AND id = $2 RETURNING `+keyColumns, tenantID, keyID))
	if err != nil {
		return APIKey{}, translate(err, "revoke api key")
	}
	return k, nil
}

// Authenticate returns the live key whose secret is key. Unknown, revoked
// and expired keys are ragd.ErrUnauthorized. last_used_at is written at most
// once per LastUsedGranularity, so most requests cost one indexed read.
func (s *ControlPlane) Authenticate(ctx context.Context, key string) (APIKey, error) {
	if !strings.HasPrefix(key, KeyPrefix) || len(key) > 256 {
		return APIKey{}, ragd.ErrUnauthorized
	}
	var now time.Time
	var k APIKey
	var scopes []string
	err := s.pool.QueryRow(ctx, `SELECT `+keyColumns+`, now() FROM api_keys WHERE hash = $1`, HashKey(key)).
		Scan(&k.ID, &k.TenantID, &k.Name, &k.Display, &scopes, &k.ExpiresAt, &k.RevokedAt, &k.LastUsedAt, &k.CreatedAt, &now)
	if errors.Is(err, pgx.ErrNoRows) {
		return APIKey{}, ragd.ErrUnauthorized
	}
	if err != nil {
		return APIKey{}, translate(err, "authenticate")
	}
	for _, sc := range scopes {
		k.Scopes = append(k.Scopes, Scope(sc))
	}
	if k.RevokedAt != nil || (k.ExpiresAt != nil && !k.ExpiresAt.After(now)) {
		return APIKey{}, ragd.ErrUnauthorized
	}
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) >= LastUsedGranularity {
		// The WHERE clause makes concurrent requests write once between them.
		_, err := s.pool.Exec(ctx, `
			UPDATE api_keys SET last_used_at = $2 WHERE id = $1
			AND (last_used_at IS NULL OR last_used_at <= $2::timestamptz - $3::interval)`,
			k.ID, now, LastUsedGranularity.String())
		if err != nil {
			return APIKey{}, translate(err, "record key use")
		}
		k.LastUsedAt = &now
	}
	return k, nil
}

// ---- agents ----

const agentColumns = "id, tenant_id, name, model, system_prompt, temperature, output_schema, mcp_servers, langfuse, retrieval, secrets, secrets_bound_to_tenant, version, created_at, updated_at"

// What the agents table holds: the configuration without its secrets ...
type mcpServerRow struct {
	Name         string   `json:"name"`
	URL          string   `json:"url"`
	Transport    string   `json:"transport"`
	HeaderNames  []string `json:"header_names"`
	AllowedTools []string `json:"allowed_tools"`
}

type langfuseRow struct {
	PublicKey  string `json:"public_key"`
	Host       string `json:"host"`
	PromptName string `json:"prompt_name"`
	Label      string `json:"label"`
}

// ... and the secrets, sealed together in one column.
type sealedSecrets struct {
	LangfuseSecretKey string                       `json:"langfuse_secret_key,omitempty"`
	MCPHeaders        map[string]map[string]string `json:"mcp_headers,omitempty"`
}

type agentRow struct {
	servers  []byte
	langfuse []byte
	secrets  []byte
}

// secretsAD is the associated data an agent's secrets are sealed with, so
// that sealed bytes copied onto another agent's row cannot be opened there.
// An agent id names one agent only within its tenant, so secrets are bound
// to both ids; "/" never occurs in an agent id, so a value bound this way
// cannot be opened as an old one, nor the other way round. Secrets sealed
// before migration 0012 (boundToTenant false), when agent ids were unique
// across tenants, are bound to the agent id alone; the next update of the
// agent seals them again, bound to both.
func secretsAD(tenantID uuid.UUID, agentID string, boundToTenant bool) []byte {
	if !boundToTenant {
		return []byte(agentID)
	}
	return []byte(tenantID.String() + "/" + agentID)
}

// SealedSecrets is the column of agents' sealed secrets, for ragd reseal.
var SealedSecrets = postgres.SealedColumn{
	What: "agent secrets", Table: "agents", Column: "secrets",
	Parts: []string{"tenant_id::text", "id", "secrets_bound_to_tenant::text"},
	Binding: func(parts []string) ([]byte, error) {
		tenantID, err := uuid.Parse(parts[0])
		if err != nil {
			return nil, err
		}
		return secretsAD(tenantID, parts[1], parts[2] == "true"), nil
	},
	Name: func(parts []string) string { return "agent " + parts[1] + " of tenant " + parts[0] },
}

// encodeAgent splits spec into what the row holds, its secrets sealed
// bound to the tenant and the agent id.
func (s *ControlPlane) encodeAgent(tenantID uuid.UUID, id string, spec AgentSpec) (agentRow, error) {
	var row agentRow
	var sec sealedSecrets
	servers := make([]mcpServerRow, len(spec.MCPServers))
	for i, m := range spec.MCPServers {
		names := make([]string, 0, len(m.Headers))
		for name, v := range m.Headers {
			names = append(names, name)
			if sec.MCPHeaders == nil {
				sec.MCPHeaders = map[string]map[string]string{}
			}
			if sec.MCPHeaders[m.Name] == nil {
				sec.MCPHeaders[m.Name] = map[string]string{}
			}
			sec.MCPHeaders[m.Name][name] = v.Reveal()
		}
		servers[i] = mcpServerRow{Name: m.Name, URL: m.URL, Transport: m.Transport, HeaderNames: names, AllowedTools: m.AllowedTools}
	}
	var err error
	if row.servers, err = json.Marshal(servers); err != nil {
		return row, err
	}
	if lf := spec.Langfuse; lf != nil {
		sec.LangfuseSecretKey = lf.SecretKey.Reveal()
		if row.langfuse, err = json.Marshal(langfuseRow{PublicKey: lf.PublicKey, Host: lf.Host, PromptName: lf.PromptName, Label: lf.Label}); err != nil {
			return row, err
		}
	}
	if sec.LangfuseSecretKey != "" || len(sec.MCPHeaders) > 0 {
		plain, err := json.Marshal(sec)
		if err != nil {
			return row, err
		}
		row.secrets = s.box.Seal(plain, secretsAD(tenantID, id, true))
	}
	return row, nil
}

func (s *ControlPlane) scanAgent(row pgx.Row) (Agent, error) {
	var a Agent
	var schema, servers, langfuse, retrieval, sealed []byte
	var boundToTenant bool
	if err := row.Scan(&a.ID, &a.TenantID, &a.Name, &a.Model, &a.SystemPrompt, &a.Temperature,
		&schema, &servers, &langfuse, &retrieval, &sealed, &boundToTenant, &a.Version, &a.CreatedAt, &a.UpdatedAt); err != nil {
		return Agent{}, err
	}
	var sec sealedSecrets
	if sealed != nil {
		plain, err := s.box.Open(sealed, secretsAD(a.TenantID, a.ID, boundToTenant))
		switch {
		case errors.Is(err, secret.ErrOpen):
			// The rest of the agent is readable: say so rather than fail
			// every read (and every list of the tenant's agents).
			a.SecretsUnreadable = true
		case err != nil:
			return Agent{}, fmt.Errorf("agent %s secrets: %w", a.ID, err)
		default:
			if err := json.Unmarshal(plain, &sec); err != nil {
				return Agent{}, fmt.Errorf("agent %s secrets: %w", a.ID, err)
			}
		}
	}
	if schema != nil {
		a.OutputSchema = schema
	}
	var rows []mcpServerRow
	if err := json.Unmarshal(servers, &rows); err != nil {
		return Agent{}, fmt.Errorf("agent %s mcp_servers: %w", a.ID, err)
	}
	a.MCPServers = make([]MCPServer, len(rows))
	for i, r := range rows {
		headers := make(map[string]secret.String, len(r.HeaderNames))
		for _, name := range r.HeaderNames {
			headers[name] = secret.String(sec.MCPHeaders[r.Name][name])
		}
		a.MCPServers[i] = MCPServer{Name: r.Name, URL: r.URL, Transport: r.Transport, Headers: headers, AllowedTools: r.AllowedTools}
	}
	if langfuse != nil {
		var lf langfuseRow
		if err := json.Unmarshal(langfuse, &lf); err != nil {
			return Agent{}, fmt.Errorf("agent %s langfuse: %w", a.ID, err)
		}
		a.Langfuse = &Langfuse{PublicKey: lf.PublicKey, SecretKey: secret.String(sec.LangfuseSecretKey), Host: lf.Host, PromptName: lf.PromptName, Label: lf.Label}
	}
	if err := json.Unmarshal(retrieval, &a.Retrieval); err != nil {
		return Agent{}, fmt.Errorf("agent %s retrieval: %w", a.ID, err)
	}
	return a, nil
}

// CreateAgent creates an agent for the tenant. A missing id is generated
// from the name; a given one must be a slug the tenant does not use yet
// (else *ragd.ConflictError). Other tenants' agents do not matter: ids are
// unique per tenant.
func (s *ControlPlane) CreateAgent(ctx context.Context, tenantID uuid.UUID, p AgentPatch) (Agent, error) {
	return s.createAgent(ctx, tenantID, p, false)
}

// DryRunCreateAgent validates p exactly as CreateAgent does, including
// whether the tenant already has an agent with the id given, and returns
// the agent CreateAgent would create now, writing nothing. A generated id
// is one CreateAgent might choose, not the one it will.
func (s *ControlPlane) DryRunCreateAgent(ctx context.Context, tenantID uuid.UUID, p AgentPatch) (Agent, error) {
	return s.createAgent(ctx, tenantID, p, true)
}

func (s *ControlPlane) createAgent(ctx context.Context, tenantID uuid.UUID, p AgentPatch, dryRun bool) (Agent, error) {
	spec, err := p.apply(AgentSpec{Retrieval: DefaultRetrieval()})
	if err != nil {
		return Agent{}, err
	}
	id := p.ID.Value
	if !p.ID.Present() {
		id = newAgentID(spec.Name)
	}
	if dryRun {
		if p.ID.Present() {
			if taken, err := s.AgentExists(ctx, tenantID, id); err != nil {
				return Agent{}, err
			} else if taken {
				return Agent{}, agentIDTaken()
			}
		}
		now := time.Now().UTC()
		return Agent{ID: id, TenantID: tenantID, AgentSpec: spec, Version: 1, CreatedAt: now, UpdatedAt: now}, nil
	}
	row, err := s.encodeAgent(tenantID, id, spec)
	if err != nil {
		return Agent{}, err
	}
	a, err := s.scanAgent(s.pool.QueryRow(ctx, `
		INSERT INTO agents (id, tenant_id, name, model, system_prompt, temperature, output_schema, mcp_servers, langfuse, retrieval,
			secrets, secrets_bound_to_tenant)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, true)
		RETURNING `+agentColumns,
		id, tenantID, spec.Name, spec.Model, spec.SystemPrompt, spec.Temperature, nullJSON(spec.OutputSchema),
		row.servers, nullJSON(row.langfuse), mustJSON(spec.Retrieval), row.secrets))
	if err != nil {
		return Agent{}, translate(err, "create agent")
	}
	return a, nil
}

// GetAgent returns the tenant's agent with the public id agentID.
func (s *ControlPlane) GetAgent(ctx context.Context, tenantID uuid.UUID, agentID string) (Agent, error) {
	a, err := s.scanAgent(s.pool.QueryRow(ctx, "SELECT "+agentColumns+" FROM agents WHERE tenant_id = $1 AND id = $2", tenantID, agentID))
	if err != nil {
		return Agent{}, translate(err, "get agent")
	}
	return a, nil
}

// AgentExists reports whether the tenant has an agent with the public id,
// without reading (or being able to read) its secrets.
func (s *ControlPlane) AgentExists(ctx context.Context, tenantID uuid.UUID, agentID string) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, "SELECT EXISTS (SELECT FROM agents WHERE tenant_id = $1 AND id = $2)", tenantID, agentID).Scan(&ok)
	if err != nil {
		return false, translate(err, "agent exists")
	}
	return ok, nil
}

// ListAgents returns a page of the tenant's agents, oldest first.
func (s *ControlPlane) ListAgents(ctx context.Context, tenantID uuid.UUID, p ragd.Page) ([]Agent, *ragd.Cursor, error) {
	limit := p.Size()
	at, id := p.Key(time.Time{})
	rows, err := s.pool.Query(ctx, `
		SELECT `+agentColumns+` FROM agents
		WHERE tenant_id = $1 AND (created_at, id) > ($2, $3)
		ORDER BY created_at, id LIMIT $4`, tenantID, at, id, limit+1)
	if err != nil {
		return nil, nil, translate(err, "list agents")
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Agent, error) { return s.scanAgent(r) })
	if err != nil {
		return nil, nil, translate(err, "list agents")
	}
	list, next := ragd.TrimPage(list, limit, func(a Agent) ragd.Cursor { return ragd.Cursor{Time: a.CreatedAt, ID: a.ID} })
	return list, next, nil
}

// UpdateAgent applies p to the tenant's agent. When ifMatch is not nil it
// must equal the agent's current version, else ragd.ErrPreconditionFailed.
// Each update increments the version.
func (s *ControlPlane) UpdateAgent(ctx context.Context, tenantID uuid.UUID, agentID string, p AgentPatch, ifMatch *int) (Agent, error) {
	return s.updateAgent(ctx, tenantID, agentID, p, ifMatch, false)
}

// DryRunUpdateAgent checks p and ifMatch exactly as UpdateAgent does and
// returns the agent UpdateAgent would make of the current one, writing
// nothing and locking nothing.
func (s *ControlPlane) DryRunUpdateAgent(ctx context.Context, tenantID uuid.UUID, agentID string, p AgentPatch, ifMatch *int) (Agent, error) {
	return s.updateAgent(ctx, tenantID, agentID, p, ifMatch, true)
}

func (s *ControlPlane) updateAgent(ctx context.Context, tenantID uuid.UUID, agentID string, p AgentPatch, ifMatch *int, dryRun bool) (Agent, error) {
	if p.ID.Set && p.ID.Value != agentID {
		return Agent{}, (ragd.Problems{"id": "cannot be changed"}).Err()
	}
	lock := " FOR UPDATE"
	if dryRun {
		lock = ""
	}
	var out Agent
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		cur, err := s.scanAgent(tx.QueryRow(ctx, "SELECT "+agentColumns+" FROM agents WHERE tenant_id = $1 AND id = $2"+lock, tenantID, agentID))
		if err != nil {
			return translate(err, "update agent")
		}
		if ifMatch != nil && *ifMatch != cur.Version {
			return fmt.Errorf("update agent %s: version %d is current: %w", agentID, cur.Version, ragd.ErrPreconditionFailed)
		}
		spec, err := p.apply(cur.AgentSpec)
		if err != nil {
			return err
		}
		// Secrets no key opens read as empty values. An update may keep
		// them all (the sealed bytes stay, for the day the key is back) or
		// replace them all; a mix would seal empty values in place of
		// stored ones.
		keepSealed := false
		if cur.SecretsUnreadable {
			given, kept := spec.secretsGiven()
			switch {
			case kept == 0:
			case given == 0:
				keepSealed = true
			default:
				return secretsUnreadable()
			}
		}
		if dryRun {
			out = cur
			out.AgentSpec, out.Version, out.UpdatedAt = spec, cur.Version+1, time.Now().UTC()
			out.SecretsUnreadable = keepSealed
			return nil
		}
		row, err := s.encodeAgent(tenantID, agentID, spec)
		if err != nil {
			return err
		}
		out, err = s.scanAgent(tx.QueryRow(ctx, `
			UPDATE agents SET name = $3, model = $4, system_prompt = $5, temperature = $6, output_schema = $7,
				mcp_servers = $8, langfuse = $9, retrieval = $10,
				secrets = CASE WHEN $12 THEN secrets ELSE $11 END,
				secrets_bound_to_tenant = CASE WHEN $12 THEN secrets_bound_to_tenant ELSE true END,
				version = version + 1, updated_at = now()
			WHERE tenant_id = $1 AND id = $2 RETURNING `+agentColumns,
			tenantID, agentID, spec.Name, spec.Model, spec.SystemPrompt, spec.Temperature, nullJSON(spec.OutputSchema),
			row.servers, nullJSON(row.langfuse), mustJSON(spec.Retrieval), row.secrets, keepSealed))
		if err != nil {
			return translate(err, "update agent")
		}
		return nil
	})
	if err != nil {
		return Agent{}, err
	}
	return out, nil
}

// DeleteAgent deletes the tenant's agent.
func (s *ControlPlane) DeleteAgent(ctx context.Context, tenantID uuid.UUID, agentID string) error {
	tag, err := s.pool.Exec(ctx, "DELETE FROM agents WHERE tenant_id = $1 AND id = $2", tenantID, agentID)
	if err != nil {
		return translate(err, "delete agent")
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete agent: %w", ragd.ErrNotFound)
	}
	return nil
}

// newAgentID derives a public id from the name plus six random characters,
// so that two agents named alike get different ids.
func newAgentID(name string) string {
	base := Slugify(name, 40)
	if base == "" {
		base = "agent"
	}
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return base + "-" + string(b)
}

func nullJSON(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called on types that always marshal
	}
	return b
}
