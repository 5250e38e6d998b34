-- Every change of a document row is announced on channel ragd_documents
-- with the document's id, after commit: the events streams of the API wait
-- on one listening connection per process instead of polling the row.
CREATE FUNCTION ragd_notify_document() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('ragd_documents', COALESCE(NEW.id, OLD.id)::text);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER documents_notify AFTER UPDATE OR DELETE ON documents
    FOR EACH ROW EXECUTE FUNCTION ragd_notify_document();
