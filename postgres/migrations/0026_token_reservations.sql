-- Embedding tokens promised to a document's run before the provider is
-- called (issue 23): a run reserves what its chunks will cost, and only
-- when the month's used and reserved tokens leave room for it; the run's
-- end records what it really cost and removes the reservation, in one
-- transaction. Twenty concurrent uploads against a quota of 3,000 tokens
-- used 5,536 when each run only checked that some tokens were left. A
-- reservation a crashed run leaves behind stops counting when it expires.
CREATE TABLE token_reservations (
    id         uuid PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    tokens     bigint NOT NULL CHECK (tokens >= 0),
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX token_reservations_tenant ON token_reservations (tenant_id, expires_at);
