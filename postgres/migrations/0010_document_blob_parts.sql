-- Original files in parts of 1 MiB instead of one bytea each, so that an
-- upload is written, and a download or an ingest job read, one part at a
-- time: no whole file in ragd's memory, however large.
CREATE TABLE document_blob_parts (
    document_id uuid NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    seq         integer NOT NULL CHECK (seq >= 0),
    content     bytea NOT NULL,
    PRIMARY KEY (document_id, seq)
);

-- Move the existing files. Each is read into a PL/pgSQL variable once
-- (detoasted once) and cut there: substring() straight from the table
-- would decompress a compressed value from its start for every part.
-- 1048576 is ingest.BlobPartSize.
DO $$
DECLARE
    doc  uuid;
    data bytea;
BEGIN
    FOR doc IN SELECT document_id FROM document_blobs LOOP
        SELECT content INTO data FROM document_blobs WHERE document_id = doc;
        FOR i IN 0 .. (length(data) + 1048575) / 1048576 - 1 LOOP
            INSERT INTO document_blob_parts (document_id, seq, content)
            VALUES (doc, i, substring(data FROM i * 1048576 + 1 FOR 1048576));
        END LOOP;
    END LOOP;
END
$$;

DROP TABLE document_blobs;
