-- Running totals per tenant that cannot be recomputed from other rows:
-- embedding tokens billed (ingest and queries) and searches made.
CREATE TABLE tenant_usage (
    tenant_id        uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    embedding_tokens bigint NOT NULL DEFAULT 0,
    searches         bigint NOT NULL DEFAULT 0,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
