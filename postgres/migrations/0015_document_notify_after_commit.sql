-- Changes of a document row are now announced by ragd after the commit,
-- in a statement of their own (ingest.Store.announce), not by this trigger
-- inside the writing transaction: Postgres serialises the commits of
-- transactions that notify, holding a lock through their WAL flush, and
-- every ingest run's last commit then queued behind every other's. The
-- trigger stays for deletes (a document deleted with its tenant is
-- announced by no one else).
DROP TRIGGER documents_notify ON documents;
CREATE TRIGGER documents_notify AFTER DELETE ON documents
    FOR EACH ROW EXECUTE FUNCTION ragd_notify_document();
