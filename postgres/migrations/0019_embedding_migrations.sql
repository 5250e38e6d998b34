-- Switching a tenant's embedding model with zero downtime (issue 14).
--
-- An embedding space is a model at a dimension count: vectors of two
-- spaces are never compared. Each space has its own vector index (a Qdrant
-- collection, an embedded store directory) shared by the tenants in it.
-- embedding_spaces lists every space ever used besides the server's
-- default, so that purging a tenant reaches all of them.
CREATE TABLE embedding_spaces (
    model      text NOT NULL,
    dimensions integer NOT NULL CHECK (dimensions BETWEEN 8 AND 16384),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model, dimensions)
);

-- The space a tenant's searches use; NULL: the server's default
-- (RAGD_EMBEDDING_MODEL, RAGD_EMBEDDING_DIMENSIONS).
ALTER TABLE tenants
    ADD COLUMN embedding_model text,
    ADD COLUMN embedding_dimensions integer,
    ADD CONSTRAINT tenants_embedding_space CHECK ((embedding_model IS NULL) = (embedding_dimensions IS NULL));

-- A migration moves one tenant from one space to another:
--   building     the job embeds every searchable document into the target;
--                search uses the source; new versions go to both
--   active       cut over: search uses the target; the source is kept, and
--                new versions still go to both, until retire_after
--   completed    the source's points are removed
--   cancelled    stopped while building; the target's points are removed
--   rolled_back  search went back to the source; the target's are removed
--   failed       the target's model refused (auth, unknown model, size)
CREATE TABLE embedding_migrations (
    id                uuid PRIMARY KEY,
    tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    from_model        text NOT NULL,
    from_dimensions   integer NOT NULL,
    to_model          text NOT NULL,
    to_dimensions     integer NOT NULL,
    state             text NOT NULL CHECK (state IN ('building', 'active', 'completed', 'cancelled', 'rolled_back', 'failed')),
    rollback_window   interval NOT NULL,
    -- Before it started: what re-embedding everything would take.
    estimated_documents integer NOT NULL,
    estimated_chunks    integer NOT NULL,
    estimated_tokens    bigint NOT NULL,
    estimated_cost_usd  double precision, -- NULL: no price known for the model
    -- Progress of the job's pass over the documents (by id, after cursor).
    cursor            uuid,
    scanned           boolean NOT NULL DEFAULT false,
    done_documents    integer NOT NULL DEFAULT 0,
    done_chunks       integer NOT NULL DEFAULT 0,
    embedding_tokens  bigint NOT NULL DEFAULT 0,
    cache_hits        integer NOT NULL DEFAULT 0,
    error             text,
    created_by        text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    cut_over_at       timestamptz,
    retire_after      timestamptz,
    finished_at       timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (from_model <> to_model OR from_dimensions <> to_dimensions)
);
-- At most one migration of a tenant is under way (building or active).
CREATE UNIQUE INDEX embedding_migrations_live ON embedding_migrations (tenant_id) WHERE state IN ('building', 'active');
CREATE INDEX embedding_migrations_tenant ON embedding_migrations (tenant_id, created_at DESC, id);

-- The documents whose searchable version is in the target: written by the
-- job once their points are, and by the ingest pipeline in the transaction
-- that marks a version ready. The cut-over requires every searchable
-- document here at its searchable version.
CREATE TABLE embedding_migration_documents (
    migration_id    uuid NOT NULL REFERENCES embedding_migrations (id) ON DELETE CASCADE,
    document_id     uuid NOT NULL,
    content_version integer NOT NULL,
    PRIMARY KEY (migration_id, document_id)
);
