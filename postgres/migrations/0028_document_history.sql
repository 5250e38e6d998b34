-- A document's status history (issue 26, finding 10): one row each time
-- its status or content version changes, written by a trigger in the
-- transaction that changes the row, so no path that changes a document
-- (upload, run, reindex, edit, delete) can forget it. The console's
-- document page shows it as the status history and the versions list.
-- The rows go with the document.
CREATE TABLE document_history (
    id              bigserial PRIMARY KEY,
    tenant_id       uuid NOT NULL,
    document_id     uuid NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    content_version integer NOT NULL,
    status          text NOT NULL,
    error_code      text,
    error_message   text,
    page_count      integer,
    chunk_count     integer,
    at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX document_history_document ON document_history (tenant_id, document_id, id);

CREATE FUNCTION ragd_document_history() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status OR NEW.content_version IS DISTINCT FROM OLD.content_version THEN
        INSERT INTO document_history (tenant_id, document_id, content_version, status, error_code, error_message, page_count, chunk_count)
        VALUES (NEW.tenant_id, NEW.id, NEW.content_version, NEW.status, NEW.error_code, NEW.error_message, NEW.page_count, NEW.chunk_count);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER documents_history AFTER INSERT OR UPDATE ON documents
    FOR EACH ROW EXECUTE FUNCTION ragd_document_history();

-- Documents from before keep what is known of them: their state now.
INSERT INTO document_history (tenant_id, document_id, content_version, status, error_code, error_message, page_count, chunk_count, at)
SELECT tenant_id, id, content_version, status, error_code, error_message, page_count, chunk_count, updated_at FROM documents;
