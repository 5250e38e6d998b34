-- Retrieval evaluations (POST /v1/evaluations): a tenant's judged queries,
-- resolved to document ids at creation, run by an evaluate job over the
-- configurations asked for. spec holds what was asked, results what came
-- out; both are the tenant's and go with it.
CREATE TABLE evaluations (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    status           text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    spec             jsonb NOT NULL,
    progress         real NOT NULL DEFAULT 0,
    results          jsonb,
    error_message    text,
    embedding_tokens bigint NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz
);

CREATE INDEX evaluations_tenant_created ON evaluations (tenant_id, created_at DESC, id DESC);
