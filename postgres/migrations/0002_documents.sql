-- Documents, their original bytes, their chunks, and upload idempotency.

CREATE TABLE documents (
    id                 uuid PRIMARY KEY,
    tenant_id          uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    title              text NOT NULL,
    filename           text,
    type               text NOT NULL,
    size_bytes         bigint NOT NULL,
    sha256             bytea NOT NULL CHECK (length(sha256) = 32),
    tags               text[] NOT NULL DEFAULT '{}',
    metadata           jsonb NOT NULL DEFAULT '{}'::jsonb,
    external_id        text,
    status             text NOT NULL CHECK (status IN ('queued', 'processing', 'ready', 'failed', 'deleting')),
    stage              text,
    progress           real NOT NULL DEFAULT 0,
    error_code         text,
    error_message      text,
    -- Bumped by reindex; chunks and jobs carry it, so work for an older
    -- version is recognised and dropped.
    content_version    integer NOT NULL DEFAULT 1,
    chunk_max_tokens   integer,
    chunk_overlap      integer,
    page_count         integer,
    char_count         integer,
    chunk_count        integer,
    token_count        integer,
    extract_ms         integer,
    chunk_ms           integer,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    started_at         timestamptz,
    finished_at        timestamptz
);
CREATE INDEX documents_tenant_idx ON documents (tenant_id, created_at, id);
CREATE INDEX documents_sha_idx ON documents (tenant_id, sha256);
CREATE INDEX documents_external_idx ON documents (tenant_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX documents_tags_idx ON documents USING gin (tags);

-- The original file, apart from the row so that lists never read it.
CREATE TABLE document_blobs (
    document_id uuid PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,
    content     bytea NOT NULL
);

CREATE TABLE chunks (
    -- UUIDv5 of (document id, content version, index): a retried job
    -- writes the same ids, never duplicates.
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL,
    document_id     uuid NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    content_version integer NOT NULL,
    idx             integer NOT NULL,
    text            text NOT NULL,
    token_count     integer NOT NULL,
    page_start      integer,
    page_end        integer,
    heading_path    text[] NOT NULL DEFAULT '{}',
    start_offset    integer NOT NULL,
    end_offset      integer NOT NULL,
    sha256          bytea NOT NULL,
    UNIQUE (document_id, content_version, idx)
);
CREATE INDEX chunks_tenant_idx ON chunks (tenant_id, document_id);

-- An Idempotency-Key makes a retried upload answer what the first did.
CREATE TABLE idempotency_keys (
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key          text NOT NULL,
    request_hash bytea NOT NULL,
    document_id  uuid NOT NULL,
    status       integer NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);
