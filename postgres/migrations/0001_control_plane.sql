-- Control plane: tenants, their API keys and their agents.
-- Everything a tenant owns references it with ON DELETE CASCADE, so deleting
-- a tenant deletes everything it owns in one statement.

CREATE TABLE tenants (
    id           uuid PRIMARY KEY,
    name         text NOT NULL,
    slug         text NOT NULL UNIQUE,
    clerk_org_id text UNIQUE,
    settings     jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(settings) = 'object'),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name         text NOT NULL,
    -- A short, non-secret beginning of the key, to recognise it in lists.
    display      text NOT NULL,
    -- SHA-256 of the whole key; the key itself is never stored.
    hash         bytea NOT NULL UNIQUE CHECK (length(hash) = 32),
    scopes       text[] NOT NULL,
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_keys_tenant_idx ON api_keys (tenant_id, created_at, id);

CREATE TABLE agents (
    -- The public agent id: a slug, unique across all tenants.
    id            text PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name          text NOT NULL,
    model         text NOT NULL,
    system_prompt text NOT NULL DEFAULT '',
    temperature   double precision,
    output_schema jsonb,
    -- MCP servers and Langfuse settings without their secrets ...
    mcp_servers   jsonb NOT NULL DEFAULT '[]'::jsonb,
    langfuse      jsonb,
    retrieval     jsonb NOT NULL,
    -- ... which live here, sealed with AES-256-GCM (see package secret).
    secrets       bytea,
    version       integer NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agents_tenant_idx ON agents (tenant_id, created_at, id);
