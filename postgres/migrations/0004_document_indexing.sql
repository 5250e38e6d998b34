-- Timings and costs of the embedding and indexing stages.
ALTER TABLE documents
    ADD COLUMN embed_ms             integer,
    ADD COLUMN index_ms             integer,
    ADD COLUMN embedding_tokens     integer,
    ADD COLUMN embedding_cache_hits integer;
