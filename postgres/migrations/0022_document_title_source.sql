-- Where a document's title came from: 'upload' (the uploader gave it; it
-- is never replaced), 'filename' (ragd named the document after its file
-- name, or "Untitled <type>" without one, until the document says better)
-- or 'document' (derived from the file itself: HTML <title>, PDF metadata,
-- DOCX core properties, Markdown front matter or first heading). Each run
-- of the pipeline replaces a 'filename' or 'document' title with the one
-- it derives.
--
-- Rows from before this migration could not tell an explicit title from a
-- file name: those whose title is their file name (or "Untitled <type>"
-- without one) become 'filename', so their next reindex derives a title;
-- every other row keeps its title as 'upload'.
ALTER TABLE documents ADD COLUMN title_source text NOT NULL DEFAULT 'upload'
    CONSTRAINT documents_title_source_check CHECK (title_source IN ('upload', 'filename', 'document'));
UPDATE documents SET title_source = 'filename'
    WHERE (filename IS NOT NULL AND title = filename)
       OR (filename IS NULL AND title = 'Untitled ' || type);
