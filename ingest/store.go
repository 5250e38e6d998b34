package ingest

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/chunker"
	"github.com/ragd/ragd/extract"
	"github.com/ragd/ragd/postgres"
	"github.com/ragd/ragd/search"
	"github.com/ragd/ragd/secret"
	"github.com/ragd/ragd/usage"
)

// Jobs adds a document's jobs in the caller's transaction, so that a
// document and its job commit together or not at all. The jobs package
// implements it.
type Jobs interface {
	EnqueueIngest(ctx context.Context, tx pgx.Tx, doc Document) error
	EnqueueDelete(ctx context.Context, tx pgx.Tx, doc Document) error
	// Enqueued is called after a transaction that may have enqueued
	// ingest jobs committed, so that the jobs are released now rather
	// than at the dispatcher's next tick.
	Enqueued(ctx context.Context)
	// EnqueueRebuild queues the rebuild of a tenant's points from
	// Postgres; one already waiting or running is not doubled.
	EnqueueRebuild(ctx context.Context, tenantID uuid.UUID) error
}

// The events a document's changes are recorded as, for webhooks.
const (
	EventDocumentReady   = "document.ready"
	EventDocumentFailed  = "document.failed"
	EventDocumentDeleted = "document.deleted"
)

// Events records what happened to a document in the transaction that made
// it happen, after the statement that changed the document's row (the
// webhooks package implements it). data is the document as it now is.
type Events interface {
	Record(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, typ string, subjectID uuid.UUID, data any) error
}

// Documents keeps documents, their bytes and their chunks in Postgres. Every
// method takes the tenant id and filters on it.
type Documents struct {
	pool    *pgxpool.Pool
	tenants *agents.ControlPlane
	jobs    Jobs
	quotas  Quotas
	box     *secret.Box
	events  Events
}

// StoreOption configures Documents.
type StoreOption func(*Documents)

// WithDefaultQuotas sets the quotas of tenants that have none of their own.
func WithDefaultQuotas(q Quotas) StoreOption { return func(s *Documents) { s.quotas = q } }

// WithPasswordBox seals the passwords of protected uploads with box while
// they wait for their ingest job. Without it, an upload with a password is
// refused.
func WithPasswordBox(box *secret.Box) StoreOption { return func(s *Documents) { s.box = box } }

// WithEvents records documents turning ready or failed and being deleted
// with events, in the transactions that change them.
func WithEvents(e Events) StoreOption { return func(s *Documents) { s.events = e } }

// record records an event of d's, when the store has Events.
func (s *Documents) record(ctx context.Context, tx pgx.Tx, typ string, d Document) error {
	if s.events == nil {
		return nil
	}
	return s.events.Record(ctx, tx, d.TenantID, typ, d.ID, d)
}

// NewDocuments returns the documents store on pool. tenants answers for
// the tenants' settings (chunking, quotas); jobs enqueues the documents'
// jobs.
func NewDocuments(pool *pgxpool.Pool, tenants *agents.ControlPlane, jobs Jobs, opts ...StoreOption) *Documents {
	s := &Documents{pool: pool, tenants: tenants, jobs: jobs}
	for _, o := range opts {
		o(s)
	}
	return s
}

const docColumns = `id, tenant_id, title, title_source, filename, type, size_bytes, sha256, tags, metadata, external_id,
	status, stage, progress, error_code, error_message, content_version, page_count, char_count,
	chunk_count, token_count, chunk_max_tokens, chunk_overlap, extract_ms, chunk_ms,
	embed_ms, index_ms, embedding_tokens, embedding_cache_hits,
	created_at, updated_at, started_at, finished_at, ocr, ocr_languages, ocr_pages`

// scanDoc scans docColumns, then extra destinations for columns the
// query selects after them.
func scanDoc(row pgx.Row, extra ...any) (Document, error) {
	var d Document
	var sha, meta []byte
	var code, msg *string
	var progress float32
	err := row.Scan(append([]any{&d.ID, &d.TenantID, &d.Title, &d.TitleSource, &d.Filename, &d.Type, &d.SizeBytes, &sha, &d.Tags, &meta, &d.ExternalID,
		&d.Status, &d.Stage, &progress, &code, &msg, &d.ContentVersion, &d.PageCount, &d.CharCount,
		&d.ChunkCount, &d.TokenCount, &d.ChunkMaxTokens, &d.ChunkOverlap, &d.Timings.ExtractMS, &d.Timings.ChunkMS,
		&d.Timings.EmbedMS, &d.Timings.IndexMS, &d.EmbeddingTokens, &d.EmbeddingCacheHits,
		&d.CreatedAt, &d.UpdatedAt, &d.Timings.StartedAt, &d.Timings.FinishedAt, &d.OCR, &d.OCRLanguages, &d.OCRPages}, extra...)...)
	if err != nil {
		return Document{}, err
	}
	d.SHA256 = hexSHA(sha)
	d.Metadata = meta
	d.Progress = math.Round(float64(progress)*1e4) / 1e4 // a real column: 0.95, not 0.949999988079071
	if code != nil {
		d.Error = &DocumentError{Code: *code, Message: deref(msg)}
	}
	d.Timings.QueuedAt = d.CreatedAt
	if d.Timings.StartedAt != nil && d.Timings.FinishedAt != nil {
		ms := int(d.Timings.FinishedAt.Sub(*d.Timings.StartedAt).Milliseconds())
		d.Timings.TotalMS = &ms
	}
	if d.Tags == nil {
		d.Tags = []string{}
	}
	return d, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// CreateOptions change how Create treats repeats.
type CreateOptions struct {
	// AllowDuplicate stores the upload even when the tenant already has a
	// document with the same bytes.
	AllowDuplicate bool
	// IdempotencyKey, when set, makes a retry of the same request answer
	// the first request's document and status.
	IdempotencyKey string
}

// ErrIdempotencyMismatch: the Idempotency-Key was used for another request.
var ErrIdempotencyMismatch = errors.New("the Idempotency-Key was already used for a different request")

// Created is Create's answer: the document and whether it is new (false:
// an existing document with the same bytes, or a replayed request).
type Created struct {
	Document Document
	New      bool
}

// Create stores an upload: the row (queued), its bytes (in parts of
// BlobPartSize, copied from u.Content as they are sent), its ingest job
// and, for a PDF, its password sealed (see sealPassword), in one
// transaction. The bytes stored are the file as uploaded, protected or
// not. The same bytes again with a password, while the tenant's existing
// document with them failed for want of one, queue that document again
// with the password.
func (s *Documents) Create(ctx context.Context, tenantID uuid.UUID, u Upload, opts CreateOptions) (Created, error) {
	if u.Content == nil {
		return Created{}, errors.New("create document: the upload has no content")
	}
	if err := u.Validate(); err != nil {
		return Created{}, err
	}
	if u.Type != extract.TypePDF {
		u.Password = ""
	}
	if u.Password != "" && s.box == nil {
		return Created{}, errors.New("create document: a password was given, and the store has no key to seal it with")
	}
	sum := u.Content.SHA256()
	reqHash := requestHash(sum[:], u, opts.AllowDuplicate)
	meta, err := json.Marshal(orEmpty(u.Metadata))
	if err != nil {
		return Created{}, err
	}
	var out Created
	var requeued bool
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if opts.IdempotencyKey != "" {
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", "ragd:idem:"+tenantID.String()+":"+opts.IdempotencyKey); err != nil {
				return err
			}
			var prevHash []byte
			var docID uuid.UUID
			var status int
			err := tx.QueryRow(ctx, "SELECT request_hash, document_id, status FROM idempotency_keys WHERE tenant_id = $1 AND key = $2",
				tenantID, opts.IdempotencyKey).Scan(&prevHash, &docID, &status)
			switch {
			case err == nil:
				if string(prevHash) != string(reqHash) {
					return ErrIdempotencyMismatch
				}
				d, err := scanDoc(tx.QueryRow(ctx, "SELECT "+docColumns+" FROM documents WHERE tenant_id = $1 AND id = $2", tenantID, docID))
				if err != nil {
					return postgres.NotFound(err, "replay upload")
				}
				out = Created{Document: d, New: status == 202}
				return nil
			case !errors.Is(err, pgx.ErrNoRows):
				return err
			}
		}
		if !opts.AllowDuplicate {
			// Serialise uploads of the same bytes by the same tenant, so
			// two at once still make one document.
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", "ragd:sha:"+tenantID.String()+":"+hexSHA(sum[:])); err != nil {
				return err
			}
			d, err := scanDoc(tx.QueryRow(ctx, "SELECT "+docColumns+` FROM documents
				WHERE tenant_id = $1 AND sha256 = $2 AND status <> 'deleting' ORDER BY created_at LIMIT 1`, tenantID, sum[:]))
			if err == nil {
				if retryWith(d, u) {
					if d, err = s.requeue(ctx, tx, tenantID, d.ID, ReindexOptions{Password: u.Password, OCR: u.OCR}); err != nil {
						return err
					}
					requeued = true
				}
				out = Created{Document: d}
				return s.rememberKey(ctx, tx, tenantID, opts.IdempotencyKey, reqHash, d.ID, 200)
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		}
		// Chunking left unset comes from the tenant's settings:
		// {"chunking": {"max_tokens": 400, "overlap_tokens": 40}}.
		if u.MaxTokens == 0 || u.OverlapTokens == 0 {
			set, err := s.tenants.TenantChunking(ctx, tx, tenantID)
			if err != nil {
				return err
			}
			if m := set.MaxTokens; u.MaxTokens == 0 && chunker.ValidMaxTokens(m) {
				u.MaxTokens = m
			}
			if o := set.OverlapTokens; u.OverlapTokens == 0 && o > 0 && chunker.ValidOverlap(o, u.MaxTokens) {
				u.OverlapTokens = o
			}
		}
		if err := s.checkUploadQuota(ctx, tx, tenantID, u.Content.Size(), 1); err != nil {
			return err
		}
		// Without a title from the uploader, the file name stands in
		// until the pipeline derives one from the document (Process).
		title, source := u.Title, TitleUpload
		if title == "" {
			title, source = fallbackTitle(nilIfEmpty(u.Filename), u.Type), TitleFilename
		}
		d, err := scanDoc(tx.QueryRow(ctx, `
			INSERT INTO documents (id, tenant_id, title, title_source, filename, type, size_bytes, sha256, tags, metadata, external_id,
				status, chunk_max_tokens, chunk_overlap, ocr, ocr_languages)
			VALUES ($1, $2, $3, $13, $4, $5, $6, $7, $8, $9, $10, 'queued', $11, $12, $14, $15)
			RETURNING `+docColumns,
			uuid.Must(uuid.NewV7()), tenantID, title, nilIfEmpty(u.Filename), string(u.Type), u.Content.Size(), sum[:],
			orEmptySlice(u.Tags), meta, nilIfEmpty(u.ExternalID), nilIfZero(u.MaxTokens), nilIfZero(u.OverlapTokens), source,
			u.OCR.Enabled, nilIfEmpty(u.OCR.Languages)))
		if err != nil {
			return postgres.NotFound(err, "insert document")
		}
		if err := writeParts(ctx, tx, d.ID, u.Content); err != nil {
			return fmt.Errorf("insert document bytes: %w", err)
		}
		if err := s.sealPassword(ctx, tx, d, u.Password); err != nil {
			return err
		}
		if err := s.jobs.EnqueueIngest(ctx, tx, d); err != nil {
			return fmt.Errorf("enqueue ingest: %w", err)
		}
		if err := usage.RecordUpload(ctx, tx, tenantID, d.SizeBytes); err != nil {
			return err
		}
		out = Created{Document: d, New: true}
		return s.rememberKey(ctx, tx, tenantID, opts.IdempotencyKey, reqHash, d.ID, 202)
	})
	if err != nil {
		return Created{}, err
	}
	s.jobs.Enqueued(ctx)
	if requeued { // an existing document changed; a new one has no watchers yet
		s.announce(ctx, out.Document.ID)
	}
	return out, nil
}

// announce tells the Watchers of every process that a document changed,
// after the commit that changed it: a statement of its own, because
// Postgres serialises the commits of transactions that notify (holding a
// lock through their WAL flush), and one that only notifies flushes
// nothing. A run's final announcement lost to a crash is made again when
// its job is delivered again (Pipeline.Process); the others are followed
// by later ones.
func (s *Documents) announce(ctx context.Context, id uuid.UUID) {
	_, _ = s.pool.Exec(context.WithoutCancel(ctx), "SELECT pg_notify($1, $2)", notifyChannel, id.String())
}

// BlobPartSize is the size of each stored part of a document's original
// bytes (the last part may be shorter). Migration 0010 cut the older
// single blobs at the same size.
const BlobPartSize = 1 << 20

// writeParts copies c into document_blob_parts with COPY, one part in
// memory at a time.
func writeParts(ctx context.Context, tx pgx.Tx, docID uuid.UUID, c Content) error {
	size := c.Size()
	buf := make([]byte, min(size, BlobPartSize))
	var off int64
	seq := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if off >= size {
			return nil, nil
		}
		// COPY encodes the row before asking for the next one, so buf
		// can be reused.
		part := buf[:min(size-off, BlobPartSize)]
		if n, err := c.ReadAt(part, off); n < len(part) {
			return nil, fmt.Errorf("read upload at %d: %w", off, cmp.Or(err, io.ErrUnexpectedEOF))
		}
		row := []any{docID, seq, part}
		off += int64(len(part))
		seq++
		return row, nil
	})
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"document_blob_parts"}, []string{"document_id", "seq", "content"}, src)
	return err
}

func (s *Documents) rememberKey(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, key string, hash []byte, docID uuid.UUID, status int) error {
	if key == "" {
		return nil
	}
	_, err := tx.Exec(ctx, "INSERT INTO idempotency_keys (tenant_id, key, request_hash, document_id, status) VALUES ($1, $2, $3, $4, $5)",
		tenantID, key, hash, docID, status)
	return err
}

// requestHash identifies an upload request for Idempotency-Key checks.
func requestHash(sum []byte, u Upload, allowDup bool) []byte {
	h := sha256.New()
	h.Write(sum)
	meta, _ := json.Marshal(orEmpty(u.Metadata))
	fmt.Fprintf(h, "\x00%s\x00%s\x00%q\x00%s\x00%s\x00%d\x00%d\x00%t", u.Title, u.Filename, u.Tags, meta, u.ExternalID, u.MaxTokens, u.OverlapTokens, allowDup)
	return h.Sum(nil)
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func orEmptySlice(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nilIfZero(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}

// Get returns the tenant's document.
func (s *Documents) Get(ctx context.Context, tenantID, id uuid.UUID) (Document, error) {
	d, err := scanDoc(s.pool.QueryRow(ctx, "SELECT "+docColumns+" FROM documents WHERE tenant_id = $1 AND id = $2", tenantID, id))
	if err != nil {
		return Document{}, postgres.NotFound(err, "get document")
	}
	return d, nil
}

// getMany returns those of the tenant's documents with the given ids that
// exist, by id: one round trip for a batch.
func (s *Documents) getMany(ctx context.Context, tenantID uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]Document, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+docColumns+" FROM documents WHERE tenant_id = $1 AND id = ANY($2)", tenantID, ids)
	if err != nil {
		return nil, fmt.Errorf("get documents: %w", err)
	}
	docs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Document, error) { return scanDoc(r) })
	if err != nil {
		return nil, fmt.Errorf("get documents: %w", err)
	}
	byID := make(map[uuid.UUID]Document, len(docs))
	for _, d := range docs {
		byID[d.ID] = d
	}
	return byID, nil
}

// Filter narrows List; empty fields do not filter.
type Filter struct {
	Status     string
	Tag        string
	ExternalID string
	// Title keeps documents whose title or file name contains it, in any
	// case (at most MaxTitleLen characters).
	Title string
	// NewestFirst lists in reverse; a cursor continues in the order it was
	// read in.
	NewestFirst bool
	// ByTitle orders by title (case-insensitive), then id, instead of
	// creation time; NewestFirst then means Z to A.
	ByTitle bool
}

// where is the filter's SQL condition on documents, its arguments
// numbered from $2 ($1 is the tenant).
func (f Filter) where() (string, []any) {
	return `($2 = '' OR status = $2) AND (status <> 'deleting' OR $2 = 'deleting') AND ($3 = '' OR $3 = ANY (tags)) AND ($4 = '' OR external_id = $4)
		AND ($5 = '' OR strpos(lower(title), lower($5)) > 0 OR strpos(lower(coalesce(filename, '')), lower($5)) > 0)`,
		[]any{f.Status, f.Tag, f.ExternalID, f.Title}
}

// List returns a page of the tenant's documents, oldest first (or newest
// first with f.NewestFirst, or by title with f.ByTitle). A title-ordered
// page continues after its cursor's document; should that document be
// purged meanwhile, the list ends there.
func (s *Documents) List(ctx context.Context, tenantID uuid.UUID, f Filter, p ragd.Page) ([]Document, *ragd.Cursor, error) {
	limit := p.Size()
	cond, args := f.where()
	args = append([]any{tenantID}, args...)
	var after, order string
	switch {
	case f.ByTitle:
		past, dir := ">", ""
		if f.NewestFirst {
			past, dir = "<", " DESC"
		}
		order = "lower(title)" + dir + ", id::text" + dir
		if p.After != nil {
			args = append(args, p.After.ID)
			after = `(lower(title), id::text) ` + past + ` (SELECT lower(title), id::text FROM documents WHERE tenant_id = $1 AND id::text = $6)`
		}
	default:
		start, past := time.Time{}, ">"
		order = "created_at, id::text"
		if f.NewestFirst {
			start, past, order = ragd.EndOfTime, "<", "created_at DESC, id::text DESC"
		}
		at, id := p.Key(start)
		args = append(args, at, id)
		after = `(created_at, id::text) ` + past + ` ($6, $7)`
	}
	if after == "" {
		after = "true"
	}
	args = append(args, limit+1)
	rows, err := s.pool.Query(ctx, `SELECT `+docColumns+` FROM documents
		WHERE tenant_id = $1 AND `+cond+` AND `+after+`
		ORDER BY `+order+` LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, nil, fmt.Errorf("list documents: %w", err)
	}
	docs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Document, error) { return scanDoc(r) })
	if err != nil {
		return nil, nil, fmt.Errorf("list documents: %w", err)
	}
	docs, next := ragd.TrimPage(docs, limit, func(d Document) ragd.Cursor { return ragd.Cursor{Time: d.CreatedAt, ID: d.ID.String()} })
	return docs, next, nil
}

// Count returns how many of the tenant's documents f keeps (all pages).
func (s *Documents) Count(ctx context.Context, tenantID uuid.UUID, f Filter) (int, error) {
	cond, args := f.where()
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM documents WHERE tenant_id = $1 AND `+cond, append([]any{tenantID}, args...)...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count documents: %w", err)
	}
	return n, nil
}

// Chunks returns a page of the chunks of the document's current version,
// in order.
func (s *Documents) Chunks(ctx context.Context, tenantID, id uuid.UUID, p ragd.Page) ([]Chunk, *ragd.Cursor, error) {
	d, err := s.Get(ctx, tenantID, id)
	if err != nil {
		return nil, nil, err
	}
	limit := p.Size()
	after := -1
	if p.After != nil {
		if after, err = strconv.Atoi(p.After.ID); err != nil {
			return nil, nil, (ragd.Problems{"cursor": "is not a cursor this API returned"}).Err()
		}
	}
	rows, err := s.pool.Query(ctx, `SELECT id, document_id, idx, text, token_count, page_start, page_end, heading_path, start_offset, end_offset,
		char_start, char_end, sections
		FROM chunks WHERE tenant_id = $1 AND document_id = $2 AND content_version = $3 AND idx > $4
		ORDER BY idx LIMIT $5`, tenantID, id, d.ContentVersion, after, limit+1)
	if err != nil {
		return nil, nil, fmt.Errorf("list chunks: %w", err)
	}
	chunks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Chunk, error) {
		var c Chunk
		var sections []byte
		err := r.Scan(&c.ID, &c.DocumentID, &c.Index, &c.Text, &c.TokenCount, &c.PageStart, &c.PageEnd, &c.HeadingPath, &c.StartOffset, &c.EndOffset,
			&c.CharStart, &c.CharEnd, &sections)
		if c.HeadingPath == nil {
			c.HeadingPath = []string{}
		}
		if err == nil {
			c.Sections, err = sectionsFromJSON(sections)
		}
		if c.Sections == nil {
			c.Sections = []search.Section{}
		}
		return c, err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list chunks: %w", err)
	}
	chunks, next := ragd.TrimPage(chunks, limit, func(c Chunk) ragd.Cursor { return ragd.Cursor{ID: strconv.Itoa(c.Index)} })
	return chunks, next, nil
}

// OpenContent returns the document, a reader of its original bytes and
// their size. The reader fetches the stored parts one at a time (at most
// one part is in memory, and no connection is held between reads) and
// fails with io.ErrUnexpectedEOF if the parts end early, for example when
// the document is purged meanwhile. The first part is fetched before
// OpenContent returns, so a missing document or unreadable bytes are
// reported here rather than on the first Read. The caller closes the
// reader.
func (s *Documents) OpenContent(ctx context.Context, tenantID, id uuid.UUID) (Document, io.ReadCloser, int64, error) {
	d, err := s.Get(ctx, tenantID, id)
	if err != nil {
		return Document{}, nil, 0, err
	}
	r, err := s.openParts(ctx, d)
	if err != nil {
		return Document{}, nil, 0, err
	}
	return d, r, d.SizeBytes, nil
}

// openParts is OpenContent for a document already read.
func (s *Documents) openParts(ctx context.Context, d Document) (io.ReadCloser, error) {
	r := &partReader{ctx: ctx, s: s, tenantID: d.TenantID, docID: d.ID, size: d.SizeBytes}
	if err := r.next(); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return r, nil
}

// partReader reads a document's parts in order.
type partReader struct {
	ctx             context.Context
	s               *Documents
	tenantID, docID uuid.UUID
	size, read      int64
	seq             int
	part            []byte // what is left of the current part
	closed          bool
}

// next fetches the next part, or says io.EOF after the last.
func (r *partReader) next() error {
	if r.read >= r.size {
		return io.EOF
	}
	var part []byte
	err := r.s.pool.QueryRow(r.ctx, `SELECT p.content FROM document_blob_parts p JOIN documents d ON d.id = p.document_id
		WHERE d.tenant_id = $1 AND p.document_id = $2 AND p.seq = $3`, r.tenantID, r.docID, r.seq).Scan(&part)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("document content: part %d of %d bytes is missing: %w", r.seq, r.size, io.ErrUnexpectedEOF)
	}
	if err != nil {
		return fmt.Errorf("document content: %w", err)
	}
	if len(part) == 0 || r.read+int64(len(part)) > r.size {
		return fmt.Errorf("document content: part %d does not fit the document's size", r.seq)
	}
	r.part = part
	r.seq++
	r.read += int64(len(part))
	return nil
}

func (r *partReader) Read(p []byte) (int, error) {
	if r.closed {
		return 0, errors.New("document content: read after close")
	}
	if len(r.part) == 0 {
		if err := r.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.part)
	r.part = r.part[n:]
	return n, nil
}

// WriteTo writes each part as it arrives: io.Copy to a response or a pipe
// then needs no buffer of its own.
func (r *partReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if len(r.part) == 0 {
			err := r.next()
			if errors.Is(err, io.EOF) {
				return total, nil
			}
			if err != nil {
				return total, err
			}
		}
		n, err := w.Write(r.part)
		total += int64(n)
		r.part = r.part[n:]
		if err != nil {
			return total, err
		}
	}
}

func (r *partReader) Close() error {
	r.closed, r.part = true, nil
	return nil
}

// Reindex queues the document to be processed again as a new content
// version; its current chunks stay until the new ones are stored. password
// opens a protected PDF for that run ("" for none), as with Create.
func (s *Documents) Reindex(ctx context.Context, tenantID, id uuid.UUID, opts ReindexOptions) (Document, error) {
	var probs ragd.Problems
	if len(opts.Password) > MaxPasswordLen {
		probs.Add("password", "must be at most %d bytes", MaxPasswordLen)
	}
	opts.OCR.validate(&probs, "")
	if err := probs.Err(); err != nil {
		return Document{}, err
	}
	if opts.Password != "" && s.box == nil {
		return Document{}, errors.New("reindex document: a password was given, and the store has no key to seal it with")
	}
	var out Document
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		d, err := s.requeue(ctx, tx, tenantID, id, opts)
		out = d
		return err
	})
	if err == nil {
		s.jobs.Enqueued(ctx)
		s.announce(ctx, id)
	}
	return out, err
}

// retryWith reports whether an upload of d's bytes again is a retry of
// d that its new settings may mend: a password for a PDF that needed one,
// or OCR settings for a document that OCR could not read (or did not).
func retryWith(d Document, u Upload) bool {
	if d.Status != StatusFailed || d.Error == nil {
		return false
	}
	switch d.Error.Code {
	case extract.CodePDFEncrypted:
		return u.Password != ""
	case extract.CodeOCRLowConfidence, extract.CodeNoText:
		return u.OCR != (OCROptions{})
	}
	return false
}

// ReindexOptions are what a reindex may change besides the version.
type ReindexOptions struct {
	// Password opens a protected PDF for this version ("" for none).
	Password secret.String
	// OCR settings replace the document's where given (Enabled non-nil,
	// Languages non-empty); the others stay.
	OCR OCROptions
}

// Edit is a change to a document's description; nil fields keep theirs.
type Edit struct {
	Title    *string
	Tags     *[]string
	Metadata map[string]any
}

// Update changes the document's title, tags or metadata, as validated for
// an upload. Search reads them from the vector store's points (and the
// title is part of the embedded text), so a document that is not failed
// is processed again as a new content version, as by Reindex, with the
// password its waiting run was given (its chunks' embeddings come from the
// cache unless the title changed); a failed document is only changed, and
// a later reindex carries the new values.
// A title set here is the uploader's (TitleUpload): processing keeps it.
func (s *Documents) Update(ctx context.Context, tenantID, id uuid.UUID, e Edit) (Document, error) {
	u := Upload{Metadata: e.Metadata}
	if e.Title != nil {
		u.Title = *e.Title
	}
	if e.Tags != nil {
		u.Tags = slices.Clone(*e.Tags)
	}
	if err := u.Validate(); err != nil {
		return Document{}, err
	}
	if e.Title != nil && u.Title == "" {
		var probs ragd.Problems
		probs.Add("title", "must not be blank")
		return Document{}, probs.Err()
	}
	var meta []byte
	if e.Metadata != nil {
		var err error
		if meta, err = json.Marshal(e.Metadata); err != nil {
			return Document{}, fmt.Errorf("update document: %w", err)
		}
	}
	var tags []string
	if e.Tags != nil {
		tags = orEmptySlice(u.Tags)
	}
	var out Document
	requeued := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		d, err := scanDoc(tx.QueryRow(ctx, `UPDATE documents SET
			title = CASE WHEN $3 THEN $4 ELSE title END, title_source = CASE WHEN $3 THEN 'upload' ELSE title_source END,
			tags = coalesce($5, tags), metadata = coalesce($6::jsonb, metadata), updated_at = now()
			WHERE tenant_id = $1 AND id = $2 AND status <> 'deleting' RETURNING `+docColumns,
			tenantID, id, e.Title != nil, u.Title, tags, meta))
		if err != nil {
			return postgres.NotFound(err, "update document")
		}
		out = d
		if d.Status == StatusFailed {
			return nil
		}
		// A run still waiting for its job keeps the password it was given.
		password, err := s.password(ctx, d)
		if err != nil {
			return err
		}
		requeued = true
		out, err = s.requeue(ctx, tx, tenantID, id, ReindexOptions{Password: password})
		return err
	})
	if err != nil {
		return Document{}, err
	}
	if requeued {
		s.jobs.Enqueued(ctx)
	}
	s.announce(ctx, id)
	return out, nil
}

// HistoryEntry is one change of a document's status or content version.
type HistoryEntry struct {
	ContentVersion int            `json:"content_version"`
	Status         string         `json:"status"`
	Error          *DocumentError `json:"error"`
	PageCount      *int           `json:"page_count"`
	ChunkCount     *int           `json:"chunk_count"`
	At             time.Time      `json:"at"`
}

// History returns the document's status changes, oldest first: every one
// since it was uploaded (documents uploaded before history was kept start
// with their state at that time).
func (s *Documents) History(ctx context.Context, tenantID, id uuid.UUID) ([]HistoryEntry, error) {
	if _, err := s.Get(ctx, tenantID, id); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT content_version, status, error_code, error_message, page_count, chunk_count, at
		FROM document_history WHERE tenant_id = $1 AND document_id = $2 ORDER BY id`, tenantID, id)
	if err != nil {
		return nil, fmt.Errorf("document history: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (HistoryEntry, error) {
		var h HistoryEntry
		var code, msg *string
		err := r.Scan(&h.ContentVersion, &h.Status, &code, &msg, &h.PageCount, &h.ChunkCount, &h.At)
		if code != nil {
			h.Error = &DocumentError{Code: *code, Message: deref(msg)}
		}
		return h, err
	})
	if err != nil {
		return nil, fmt.Errorf("document history: %w", err)
	}
	return out, nil
}

// requeue makes the document's next content version, with its password
// (for a PDF), its OCR settings and its ingest job.
func (s *Documents) requeue(ctx context.Context, tx pgx.Tx, tenantID, id uuid.UUID, opts ReindexOptions) (Document, error) {
	d, err := scanDoc(tx.QueryRow(ctx, `UPDATE documents SET content_version = content_version + 1, status = 'queued',
		stage = NULL, progress = 0, error_code = NULL, error_message = NULL, started_at = NULL, finished_at = NULL, updated_at = now(),
		ocr = coalesce($3, ocr), ocr_languages = coalesce($4, ocr_languages)
		WHERE tenant_id = $1 AND id = $2 AND status <> 'deleting' RETURNING `+docColumns, tenantID, id, opts.OCR.Enabled, nilIfEmpty(opts.OCR.Languages)))
	if err != nil {
		return Document{}, postgres.NotFound(err, "reindex document")
	}
	if d.OCR != nil && !*d.OCR && d.Type.IsImage() {
		var probs ragd.Problems
		probs.Add("ocr", "must not be false for an image, which only OCR can read")
		return Document{}, probs.Err() // rolls the transaction back
	}
	password := opts.Password
	if d.Type != extract.TypePDF {
		password = ""
	}
	if err := s.sealPassword(ctx, tx, d, password); err != nil {
		return Document{}, err
	}
	return d, s.jobs.EnqueueIngest(ctx, tx, d)
}

// sealPassword keeps password ("" for none) for the ingest job of d's
// content version, replacing any earlier version's. It is sealed with the
// server's key (AES-256-GCM) and bound to the document and version, so a
// copy on another row or version does not open. Why keep it at all: the
// job runs later, maybe after retries or in another process, and the
// stored bytes must stay the file the user uploaded (GET .../content
// returns it; duplicates are found by its hash), so the PDF cannot be
// decrypted at upload time. Why not longer: forgetPassword deletes it in
// the transaction that ends the version, or marks the document deleting.
func (s *Documents) sealPassword(ctx context.Context, tx pgx.Tx, d Document, password secret.String) error {
	if password == "" {
		_, err := tx.Exec(ctx, "DELETE FROM document_passwords WHERE document_id = $1", d.ID)
		return err
	}
	sealed := s.box.Seal([]byte(password.Reveal()), passwordBinding(d.ID, d.ContentVersion))
	_, err := tx.Exec(ctx, `INSERT INTO document_passwords (document_id, tenant_id, content_version, sealed) VALUES ($1, $2, $3, $4)
		ON CONFLICT (document_id) DO UPDATE SET content_version = excluded.content_version, sealed = excluded.sealed`,
		d.ID, d.TenantID, d.ContentVersion, sealed)
	if err != nil {
		return fmt.Errorf("store document password: %w", err)
	}
	return nil
}

func passwordBinding(id uuid.UUID, version int) []byte {
	return []byte("ragd document password " + id.String() + " " + strconv.Itoa(version))
}

// SealedPasswords is the column of the sealed passwords kept for waiting
// jobs, for ragd reseal.
var SealedPasswords = postgres.SealedColumn{
	What: "document passwords", Table: "document_passwords", Column: "sealed",
	Parts: []string{"document_id::text", "content_version::text"},
	Binding: func(parts []string) ([]byte, error) {
		id, err := uuid.Parse(parts[0])
		if err != nil {
			return nil, err
		}
		version, err := strconv.Atoi(parts[1])
		return passwordBinding(id, version), err
	},
	Name: func(parts []string) string { return "document " + parts[0] },
}

// password returns the password kept for d's content version, or "".
func (s *Documents) password(ctx context.Context, d Document) (secret.String, error) {
	var sealed []byte
	err := s.pool.QueryRow(ctx, `SELECT sealed FROM document_passwords WHERE tenant_id = $1 AND document_id = $2 AND content_version = $3`,
		d.TenantID, d.ID, d.ContentVersion).Scan(&sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read document password: %w", err)
	}
	if s.box == nil {
		return "", errors.New("read document password: the store has no key to open it")
	}
	plain, err := s.box.Open(sealed, passwordBinding(d.ID, d.ContentVersion))
	if err != nil {
		return "", fmt.Errorf("document password (was RAGD_ENCRYPTION_KEY changed without the old one in RAGD_ENCRYPTION_KEY_PREVIOUS?): %w", err)
	}
	return secret.String(plain), nil
}

// forgetPassword deletes the password kept for d's version (and any
// older): its job has ended.
func forgetPassword(ctx context.Context, tx pgx.Tx, d Document) error {
	_, err := tx.Exec(ctx, "DELETE FROM document_passwords WHERE document_id = $1 AND content_version <= $2", d.ID, d.ContentVersion)
	if err != nil {
		return fmt.Errorf("forget document password: %w", err)
	}
	return nil
}

// Delete marks the document deleting (it leaves lists and results at once)
// and queues the job that removes it.
func (s *Documents) Delete(ctx context.Context, tenantID, id uuid.UUID) (Document, error) {
	var out Document
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		d, err := scanDoc(tx.QueryRow(ctx, `UPDATE documents SET status = 'deleting', updated_at = now()
			WHERE tenant_id = $1 AND id = $2 RETURNING `+docColumns, tenantID, id))
		if err != nil {
			return postgres.NotFound(err, "delete document")
		}
		if err := forgetPassword(ctx, tx, d); err != nil {
			return err
		}
		if err := s.record(ctx, tx, EventDocumentDeleted, d); err != nil {
			return err
		}
		out = d
		return s.jobs.EnqueueDelete(ctx, tx, d)
	})
	if err == nil {
		s.announce(ctx, id)
	}
	return out, err
}

// Purge removes a document, its bytes and its chunks. Purging a document
// that is already gone is not an error.
func (s *Documents) Purge(ctx context.Context, tenantID, id uuid.UUID) error {
	_, err := s.pool.Exec(ctx, "DELETE FROM documents WHERE tenant_id = $1 AND id = $2", tenantID, id)
	if err != nil {
		return fmt.Errorf("purge document: %w", err)
	}
	return nil
}

// readyDocuments lists the ready documents of a tenant (nil: of all
// tenants), oldest first.
func (s *Documents) readyDocuments(ctx context.Context, tenantID *uuid.UUID) ([]Document, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+docColumns+` FROM documents
		WHERE status = 'ready' AND ($1::uuid IS NULL OR tenant_id = $1) ORDER BY created_at, id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list ready documents: %w", err)
	}
	docs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Document, error) { return scanDoc(r) })
	if err != nil {
		return nil, fmt.Errorf("list ready documents: %w", err)
	}
	return docs, nil
}

// indexedVersion returns the document and the content version whose
// points are complete (0: none).
func (s *Documents) indexedVersion(ctx context.Context, tenantID, id uuid.UUID) (Document, int, error) {
	var indexed *int
	d, err := scanDoc(s.pool.QueryRow(ctx, "SELECT "+docColumns+", indexed_version FROM documents WHERE tenant_id = $1 AND id = $2", tenantID, id), &indexed)
	if err != nil {
		return Document{}, 0, postgres.NotFound(err, "get document")
	}
	if indexed == nil {
		return d, 0, nil
	}
	return d, *indexed, nil
}

// storedChunks reads the chunks of a document's current version as the
// chunker made them.
func (s *Documents) storedChunks(ctx context.Context, d Document) ([]chunker.Chunk, error) {
	rows, err := s.pool.Query(ctx, `SELECT idx, text, token_count, coalesce(page_start, 0), coalesce(page_end, 0), heading_path, start_offset, end_offset,
		coalesce(char_start, 0), coalesce(char_end, 0), sections
		FROM chunks WHERE tenant_id = $1 AND document_id = $2 AND content_version = $3 ORDER BY idx`, d.TenantID, d.ID, d.ContentVersion)
	if err != nil {
		return nil, fmt.Errorf("read chunks: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (chunker.Chunk, error) {
		var c chunker.Chunk
		var sections []byte
		err := r.Scan(&c.Index, &c.Text, &c.TokenCount, &c.PageStart, &c.PageEnd, &c.HeadingPath, &c.Start, &c.End, &c.CharStart, &c.CharEnd, &sections)
		if err != nil {
			return c, err
		}
		ss, err := sectionsFromJSON(sections)
		for _, sec := range ss {
			c.Sections = append(c.Sections, chunker.ChunkSection{HeadingPath: sec.HeadingPath, CharStart: sec.CharStart, CharEnd: sec.CharEnd,
				PageStart: sec.PageStart, PageEnd: sec.PageEnd})
		}
		return c, err
	})
}

// sectionsJSON is the chunks.sections column of a chunk's sections (NULL
// for none).
func sectionsJSON(cs []chunker.ChunkSection) ([]byte, error) {
	if len(cs) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(search.SectionsOf(cs))
	if err != nil {
		return nil, fmt.Errorf("chunk sections: %w", err)
	}
	return b, nil
}

// sectionsFromJSON reads the chunks.sections column (nil for NULL: chunks
// made before sections were recorded).
func sectionsFromJSON(b []byte) ([]search.Section, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var ss []search.Section
	if err := json.Unmarshal(b, &ss); err != nil {
		return nil, fmt.Errorf("chunk sections: %w", err)
	}
	return ss, nil
}

// Searchable returns, of the given documents of a tenant, those search may
// show: not being deleted, with a complete indexed version, keyed by id.
func (s *Documents) Searchable(ctx context.Context, tenantID uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]search.DocumentInfo, error) {
	docs, _, err := s.SearchableIn(ctx, tenantID, ids)
	return docs, err
}

// SearchableIn is Searchable, and the tenant's search space (zero: the
// default), in one query: the one read of a tenant's settings outside
// package agents, which owns them, since a search makes it on every
// answer (the router's check that no cut-over happened meanwhile) and a
// second round trip costs it about a fifth of its time.
func (s *Documents) SearchableIn(ctx context.Context, tenantID uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]search.DocumentInfo, search.Space, error) {
	rows, err := s.pool.Query(ctx, `SELECT t.embedding_model, t.embedding_dimensions, d.id, d.title, d.indexed_version,
			(SELECT p.url FROM source_pages p WHERE p.document_id = d.id AND p.tenant_id = t.id LIMIT 1)
		FROM tenants t LEFT JOIN documents d ON d.tenant_id = t.id AND d.id = ANY($2) AND d.status <> 'deleting' AND d.indexed_version IS NOT NULL
		WHERE t.id = $1`, tenantID, ids)
	if err != nil {
		return nil, search.Space{}, fmt.Errorf("look up documents: %w", err)
	}
	defer rows.Close()
	out := make(map[uuid.UUID]search.DocumentInfo, len(ids))
	var sp search.Space
	for rows.Next() {
		var model, title, webURL *string
		var dims, version *int
		var id *uuid.UUID
		if err := rows.Scan(&model, &dims, &id, &title, &version, &webURL); err != nil {
			return nil, search.Space{}, fmt.Errorf("look up documents: %w", err)
		}
		if model != nil && dims != nil {
			sp = search.Space{Model: *model, Dimensions: *dims}
		}
		if id != nil {
			out[*id] = search.DocumentInfo{Title: *title, Version: *version, WebURL: deref(webURL)}
		}
	}
	return out, sp, rows.Err()
}

// EstimateEmbedding says what embedding tenantID's searchable documents
// again (into another embedding space) takes: their documents, chunks and
// tokens. Tokens count each chunk as it is embedded: its text's tokens,
// and about a token for every 4 bytes of the title and heading path put
// before it (IndexText).
func (s *Documents) EstimateEmbedding(ctx context.Context, tenantID uuid.UUID) (documents, chunks int, tokens int64, err error) {
	err = s.pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM documents WHERE tenant_id = $1 AND status <> 'deleting' AND indexed_version IS NOT NULL),
		count(c.*), coalesce(sum(c.token_count + (octet_length(d.title) + octet_length(array_to_string(c.heading_path, ' > ')) + 5) / 4), 0)
		FROM documents d JOIN chunks c ON c.document_id = d.id AND c.content_version = d.indexed_version
		WHERE d.tenant_id = $1 AND d.status <> 'deleting' AND d.indexed_version IS NOT NULL`, tenantID).Scan(&documents, &chunks, &tokens)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("estimate the embedding: %w", err)
	}
	return documents, chunks, tokens, nil
}

// RebuildTenant queues the rebuild of the tenant's points from Postgres
// (the reindex_tenant job): after a move of the vector store, or a lost
// one. Documents stay searchable meanwhile.
func (s *Documents) RebuildTenant(ctx context.Context, tenantID uuid.UUID) error {
	return s.jobs.EnqueueRebuild(ctx, tenantID)
}

// ExpireIdempotencyKeys forgets upload Idempotency-Keys made before t and
// says how many.
func (s *Documents) ExpireIdempotencyKeys(ctx context.Context, t time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, "DELETE FROM idempotency_keys WHERE created_at < $1", t)
	if err != nil {
		return 0, fmt.Errorf("expire idempotency keys: %w", err)
	}
	return tag.RowsAffected(), nil
}
