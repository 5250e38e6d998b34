package ingest

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/chunker"
	"github.com/ragd/ragd/extract"
	"github.com/ragd/ragd/search"
	"github.com/ragd/ragd/secret"
)

// Document statuses and stages.
const (
	StatusQueued     = "queued"
	StatusProcessing = "processing"
	StatusReady      = "ready"
	StatusFailed     = "failed"
	StatusDeleting   = "deleting"

	StageExtracting = "extracting"
	StageChunking   = "chunking"
	// StageStoring is no longer reported: chunks are stored in the run's
	// final commit. Rows written by older versions may still hold it.
	StageStoring   = "storing"
	StageEmbedding = "embedding"
	StageIndexing  = "indexing"
)

// Document is an uploaded file and what became of it.
type Document struct {
	ID       uuid.UUID `json:"id"`
	TenantID uuid.UUID `json:"tenant_id"`
	Title    string    `json:"title"`
	// TitleSource says where Title came from: TitleUpload,
	// TitleFilename or TitleDocument.
	TitleSource    string          `json:"title_source"`
	Filename       *string         `json:"filename"`
	Type           extract.Type    `json:"type"`
	SizeBytes      int64           `json:"size_bytes"`
	SHA256         string          `json:"sha256"`
	Tags           []string        `json:"tags"`
	Metadata       json.RawMessage `json:"metadata"`
	ExternalID     *string         `json:"external_id"`
	Status         string          `json:"status"`
	Stage          *string         `json:"stage"`
	Progress       float64         `json:"progress"`
	Error          *DocumentError  `json:"error"`
	ContentVersion int             `json:"content_version"`
	PageCount      *int            `json:"page_count"`
	CharCount      *int            `json:"char_count"`
	ChunkCount     *int            `json:"chunk_count"`
	TokenCount     *int            `json:"token_count"`
	// EmbeddingTokens the provider billed for the last run, and the
	// chunks answered from the embedding cache instead.
	EmbeddingTokens    *int `json:"embedding_tokens"`
	EmbeddingCacheHits *int `json:"embedding_cache_hits"`
	ChunkMaxTokens     *int `json:"chunk_max_tokens"`
	// OCR and OCRLanguages are the document's own OCR settings (its
	// upload's or its latest reindex's; null: the server's). OCRPages are
	// the pages OCR recognised in the latest run, with their confidence
	// (null: none).
	OCR          *bool             `json:"ocr"`
	OCRLanguages *string           `json:"ocr_languages"`
	OCRPages     []extract.OCRPage `json:"ocr_pages"`
	ChunkOverlap *int              `json:"chunk_overlap_tokens"`
	Timings      Timings           `json:"timings"`
	CreatedAt    time.Time         `json:"created_at"`
	UpdatedAt    time.Time         `json:"updated_at"`
}

// Where a document's title came from (Document.TitleSource).
const (
	// TitleUpload: the uploader gave it; nothing replaces it.
	TitleUpload = "upload"
	// TitleFilename: the upload's file name (or "Untitled <type>"),
	// until processing derives a title from the document.
	TitleFilename = "filename"
	// TitleDocument: derived from the document itself (HTML <title>,
	// PDF metadata or first large line, DOCX properties or heading,
	// Markdown front matter or heading); each run derives it again.
	TitleDocument = "document"
)

// fallbackTitle is a document's title when neither its uploader nor its
// text gives one.
func fallbackTitle(filename *string, typ extract.Type) string {
	if filename != nil && *filename != "" {
		return *filename
	}
	return "Untitled " + string(typ)
}

// DocumentError says why a document failed.
type DocumentError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Timings of a document's processing (the latest run).
type Timings struct {
	QueuedAt   time.Time  `json:"queued_at"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	ExtractMS  *int       `json:"extract_ms"`
	ChunkMS    *int       `json:"chunk_ms"`
	EmbedMS    *int       `json:"embed_ms"`
	IndexMS    *int       `json:"index_ms"`
	TotalMS    *int       `json:"total_ms"`
}

// Chunk is a stored piece of a document.
type Chunk struct {
	ID          uuid.UUID `json:"id"`
	DocumentID  uuid.UUID `json:"document_id"`
	Index       int       `json:"index"`
	Text        string    `json:"text"`
	TokenCount  int       `json:"token_count"`
	PageStart   *int      `json:"page_start"`
	PageEnd     *int      `json:"page_end"`
	HeadingPath []string  `json:"heading_path"`
	StartOffset int       `json:"start_offset"`
	EndOffset   int       `json:"end_offset"`
	// CharStart and CharEnd are the chunk's offsets in the document's
	// extracted text in Unicode code points (StartOffset and EndOffset
	// are bytes); Sections the parts of it under each heading path.
	// Null and empty for chunks made before they were recorded.
	CharStart *int             `json:"char_start"`
	CharEnd   *int             `json:"char_end"`
	Sections  []search.Section `json:"sections"`
}

// chunkNamespace roots the UUIDv5 chunk ids.
var chunkNamespace = uuid.MustParse("6f1d2a7e-3c59-4b8e-9a53-2d4c8e0b7f11")

// ChunkID is the deterministic id of chunk index of a document version:
// the same work done twice writes the same ids.
func ChunkID(documentID uuid.UUID, version, index int) uuid.UUID {
	return uuid.NewSHA1(chunkNamespace, fmt.Appendf(nil, "%s/%d/%d", documentID, version, index))
}

// Upload is a new document as a client sends it.
type Upload struct {
	Title    string
	Filename string
	// Content is the file; Create reads it once, part by part.
	Content    Content
	Type       extract.Type
	Tags       []string
	Metadata   map[string]any
	ExternalID string
	// Chunking for this document; zero takes the tenant's or the default.
	MaxTokens, OverlapTokens int
	// Password opens a protected PDF ("" for none; other types ignore
	// it). It is kept, sealed, only until the document's ingest job has
	// run (see Store.Create), and never logged or returned.
	Password secret.String
	// OCR settings for this document (the zero value: the server's).
	OCR OCROptions
}

// OCROptions are a document's own OCR settings.
type OCROptions struct {
	// Enabled false turns OCR off for the document (its scanned pages
	// stay empty); nil leaves it to the server (RAGD_OCR).
	Enabled *bool
	// Languages are tesseract's languages for the document, '+'-joined
	// ("eng+deu"); "" takes the server's (RAGD_OCR_LANGUAGES).
	Languages string
}

// validate adds o's problems to probs for a document of type typ.
func (o OCROptions) validate(probs *ragd.Problems, typ extract.Type) {
	if o.Languages != "" && !extract.ValidOCRLanguages(o.Languages) {
		probs.Add("ocr_languages", "must be tesseract languages joined by + (eng, eng+deu)")
	}
	if o.Enabled != nil && !*o.Enabled && typ.IsImage() {
		probs.Add("ocr", "must not be false for an image, which only OCR can read")
	}
}

// apply sets lim's OCR from d's own settings.
func (d Document) applyOCR(lim *extract.Limits) {
	if d.OCR != nil && !*d.OCR {
		lim.Tesseract, lim.Pdftoppm = "", ""
	}
	if d.OCRLanguages != nil && *d.OCRLanguages != "" {
		lim.OCRLanguages = *d.OCRLanguages
	}
}

// Limits on upload fields.
const (
	MaxTags          = 32
	MaxTagLen        = 64
	MaxMetadataKeys  = 64
	MaxMetadataValue = 1024
	MaxExternalIDLen = 256
	MaxTitleLen      = 300
	// MaxPasswordLen bounds a password in bytes (PDF uses at most 127).
	MaxPasswordLen = 1024
)

// Validate checks the fields of an upload (not its bytes). It trims the
// title and tags, and reduces the file name to its BaseName rather than
// refusing it: clients send whatever path their platform gave them.
func (u *Upload) Validate() error {
	var probs ragd.Problems
	u.Title = strings.TrimSpace(u.Title)
	if utf8.RuneCountInString(u.Title) > MaxTitleLen || strings.ContainsFunc(u.Title, isCtl) || !utf8.ValidString(u.Title) {
		probs.Add("title", "must be at most %d characters of UTF-8 text without control characters", MaxTitleLen)
	}
	u.Filename = BaseName(u.Filename)
	if len(u.Password) > MaxPasswordLen {
		probs.Add("password", "must be at most %d bytes", MaxPasswordLen)
	}
	if len(u.Tags) > MaxTags {
		probs.Add("tags", "at most %d tags", MaxTags)
	}
	for i, t := range u.Tags {
		if t = strings.TrimSpace(t); t == "" || utf8.RuneCountInString(t) > MaxTagLen || strings.ContainsFunc(t, isCtl) || !utf8.ValidString(t) {
			probs.Add(fmt.Sprintf("tags[%d]", i), "must be 1 to %d characters of UTF-8 text", MaxTagLen)
		}
		u.Tags[i] = t
	}
	slices.Sort(u.Tags)
	u.Tags = slices.Compact(u.Tags)
	if len(u.Metadata) > MaxMetadataKeys {
		probs.Add("metadata", "at most %d keys", MaxMetadataKeys)
	}
	for k, v := range u.Metadata {
		f := "metadata." + k
		if k == "" || len(k) > 64 || strings.ContainsFunc(k, isCtl) || !utf8.ValidString(k) {
			probs.Add("metadata", "keys must be 1 to 64 characters")
			continue
		}
		switch v := v.(type) {
		case string:
			if len(v) > MaxMetadataValue {
				probs.Add(f, "must be at most %d bytes", MaxMetadataValue)
			}
			if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
				probs.Add(f, "must be UTF-8 text without NUL (U+0000) characters")
			}
		case bool:
		case float64:
			if math.IsNaN(v) || math.IsInf(v, 0) {
				probs.Add(f, "must be a finite number")
			}
		case json.Number:
		default:
			probs.Add(f, "must be a string, a number or a boolean")
		}
	}
	if len(u.ExternalID) > MaxExternalIDLen || strings.ContainsFunc(u.ExternalID, isCtl) || !utf8.ValidString(u.ExternalID) {
		probs.Add("external_id", "must be at most %d characters of UTF-8 text without control characters", MaxExternalIDLen)
	}
	u.OCR.validate(&probs, u.Type)
	if u.MaxTokens != 0 && !chunker.ValidMaxTokens(u.MaxTokens) {
		probs.Add("max_tokens", "must be between %d and %d", chunker.MinMaxTokens, chunker.MaxMaxTokens)
	}
	if !chunker.ValidOverlap(u.OverlapTokens, u.MaxTokens) {
		probs.Add("overlap_tokens", "must be at least 0 and less than half of max_tokens")
	}
	return probs.Err()
}

func isCtl(r rune) bool { return r < 0x20 || r == 0x7f }

func hexSHA(b []byte) string { return hex.EncodeToString(b) }
