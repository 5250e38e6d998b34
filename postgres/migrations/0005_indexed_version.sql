-- The content version whose points are complete in the vector store:
-- search returns only points of this version, so a document stays
-- searchable (at its previous version) while a reindex runs.
ALTER TABLE documents ADD COLUMN indexed_version integer;
UPDATE documents SET indexed_version = content_version WHERE status = 'ready';
