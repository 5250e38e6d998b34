-- Embeddings already paid for, now per tenant: by (tenant, model,
-- dimensions, SHA-256 of the text). 0003 shared them across tenants, since
-- the same text embeds the same for everyone; but a hit is visible to the
-- tenant that gets it (a document's embedding_tokens of 0 and its
-- embedding_cache_hits, a search's usage.embedding_tokens of 0, a tiny
-- embed time in Server-Timing), so a shared entry told tenant B that
-- tenant A had ingested or searched that exact text. A tenant now hits
-- only its own entries: re-ingesting, reindexing and repeated questions
-- still cost nothing, and a tenant's entries go with it.
--
-- The old rows name no tenant and are only a cache: they are dropped, and
-- the texts are embedded again, once per tenant, as they come.
DROP TABLE embedding_cache;

CREATE TABLE embedding_cache (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    model      text NOT NULL,
    dimensions integer NOT NULL,
    sha256     bytea NOT NULL CHECK (length(sha256) = 32),
    vector     bytea NOT NULL, -- little-endian float32s
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, model, dimensions, sha256)
);
