-- Quotas per tenant, set by the platform admin. NULL takes the default
-- from the environment (RAGD_QUOTA_*); 0 allows nothing (a suspended
-- tenant). Embedding tokens are counted per calendar month (UTC).
ALTER TABLE tenants
    ADD COLUMN quota_documents        bigint CHECK (quota_documents >= 0),
    ADD COLUMN quota_stored_bytes     bigint CHECK (quota_stored_bytes >= 0),
    ADD COLUMN quota_embedding_tokens bigint CHECK (quota_embedding_tokens >= 0);

-- Embedding tokens billed per tenant and month, for the monthly quota.
CREATE TABLE tenant_usage_monthly (
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    month            date NOT NULL,
    embedding_tokens bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, month)
);
