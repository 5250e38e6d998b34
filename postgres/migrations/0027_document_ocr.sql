-- OCR settings of a document, from its upload or its latest reindex
-- (null: the server's, RAGD_OCR and RAGD_OCR_LANGUAGES), and what OCR did
-- in its latest run: the pages it recognised, each with its mean word
-- confidence, word count and whether its text was kept (null: OCR read
-- no page).
ALTER TABLE documents
    ADD COLUMN ocr boolean,
    ADD COLUMN ocr_languages text,
    ADD COLUMN ocr_pages jsonb;
