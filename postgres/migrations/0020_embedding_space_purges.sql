-- A tenant's points being removed from an embedding space it left. The
-- removal (one delete by filter in the vector store) runs outside any
-- transaction, so that it holds no lock the tenant's ingestion waits on;
-- this row keeps a migration back to that space from starting meanwhile
-- (it would record documents whose points the removal then deletes). A
-- row older than an hour is a removal that died, and no longer blocks.
CREATE TABLE embedding_space_purges (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    model      text NOT NULL,
    dimensions integer NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, model, dimensions)
);
