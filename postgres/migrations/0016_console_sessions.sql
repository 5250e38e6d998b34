-- Console sessions: a person signed in to /console/, with an API key (for
-- development) or through the OIDC issuer. The cookie holds a random token;
-- only its SHA-256 is stored, like an API key's. A key's session lives only
-- while its key does (the join in agents.Store.Session checks revocation
-- and expiry on every request) and takes the key's current scopes; an OIDC
-- session keeps the scopes its role gave at sign-in, for as long as its
-- tenant stays mapped to the organisation it signed in from.
CREATE TABLE console_sessions (
    token_hash bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    api_key_id uuid REFERENCES api_keys (id) ON DELETE CASCADE,
    -- Who signed in: the OIDC subject, or the key's display prefix.
    subject    text NOT NULL,
    -- The organisation an OIDC sign-in came from: the session lives only
    -- while the tenant is still mapped to it (clerk_org_id).
    org_id     text,
    scopes     text[] NOT NULL,
    -- Sent back by the console with every change (X-CSRF-Token or a form
    -- field); not secret from the signed-in browser, unknown to other sites.
    csrf_token text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX console_sessions_expires_idx ON console_sessions (expires_at);
