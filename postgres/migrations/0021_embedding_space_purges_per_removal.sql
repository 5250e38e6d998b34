-- One row per removal, not per (tenant, space): two removals of the same
-- space can run at once (a cancelled build job's and the settle job's),
-- and the first to end must not lift the second's guard. The rows are
-- transient guards, so the table is made again. A row older than two
-- hours (the settle job's timeout is 30 minutes) is a removal that died,
-- and no longer blocks.
DROP TABLE embedding_space_purges;
CREATE TABLE embedding_space_purges (
    id         uuid PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    model      text NOT NULL,
    dimensions integer NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX embedding_space_purges_space ON embedding_space_purges (tenant_id, model, dimensions);
