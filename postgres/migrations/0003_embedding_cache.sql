-- Embeddings already paid for, by (model, dimensions, SHA-256 of the text).
-- Shared across tenants: the same text embeds the same for everyone, and
-- the key reveals nothing that the hash of a chunk would not.
CREATE TABLE embedding_cache (
    model      text NOT NULL,
    dimensions integer NOT NULL,
    sha256     bytea NOT NULL CHECK (length(sha256) = 32),
    vector     bytea NOT NULL, -- little-endian float32s
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model, dimensions, sha256)
);
