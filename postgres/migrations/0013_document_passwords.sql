-- The password given with an upload (or a reindex) of a protected PDF,
-- sealed with RAGD_ENCRYPTION_KEY (AES-256-GCM, bound to the document and
-- its content version), kept only until that version's ingest job has
-- ended: the statement that marks the version ready or failed, or the
-- document deleting, deletes it in the same transaction.
CREATE TABLE document_passwords (
    document_id     uuid PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,
    tenant_id       uuid NOT NULL,
    content_version integer NOT NULL,
    sealed          bytea NOT NULL
);
