-- A chunk's place in its document's extracted text, in Unicode code
-- points (start_offset and end_offset are bytes), and its sections: the
-- parts of it under each heading path, [{"heading_path": [...],
-- "char_start": n, "char_end": n}], in order. A chunk of small sections
-- that joined shows each one's path (its heading_path is their common
-- prefix). Null in chunks made before.
ALTER TABLE chunks
    ADD COLUMN char_start integer,
    ADD COLUMN char_end   integer,
    ADD COLUMN sections   jsonb;
