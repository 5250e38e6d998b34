-- Usage per tenant and day (UTC), for charts of usage over time. Rows are
-- added to as usage happens, in the statements that count it, so the table
-- starts empty: days before this migration read as zeros.
CREATE TABLE tenant_usage_daily (
    tenant_id          uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    day                date NOT NULL,
    embedding_tokens   bigint NOT NULL DEFAULT 0,
    searches           bigint NOT NULL DEFAULT 0,
    documents_uploaded bigint NOT NULL DEFAULT 0,
    bytes_uploaded     bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, day)
);
