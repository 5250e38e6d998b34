package ingest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/chunker"
)

// Pipeline does the work of an ingest job: extract, chunk, store.
type Pipeline struct {
	store  *Store
	tok    chunker.Tokenizer
	limits Limits
	chunks chunker.Options
	log    *slog.Logger
}

// PipelineConfig configures a Pipeline. Zero fields take defaults.
type PipelineConfig struct {
	Limits Limits
	// Chunking defaults; a document's own settings win.
	Chunking chunker.Options
}

// NewPipeline returns a pipeline that tokenizes with tok.
func NewPipeline(store *Store, tok chunker.Tokenizer, cfg PipelineConfig, log *slog.Logger) (*Pipeline, error) {
	opts := cfg.Chunking.WithDefaults()
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("chunking: %w", err)
	}
	return &Pipeline{store: store, tok: tok, limits: cfg.Limits.WithDefaults(), chunks: opts, log: log}, nil
}

// errStale: the document was deleted or re-queued as a newer version while
// this run worked on it; its result must not be stored.
var errStale = errors.New("document deleted or superseded")

// Process runs the pipeline for one version of a document. It returns nil
// when there is nothing to do (the document is gone, being deleted, or at
// a newer version) and when the document failed for good (it is marked
// failed; the returned error is then an *Error). Other errors are
// transient: the caller should retry, and a retry redoes the work without
// duplicating anything.
func (p *Pipeline) Process(ctx context.Context, tenantID, docID uuid.UUID, version int) error {
	doc, data, err := p.store.Content(ctx, tenantID, docID)
	if err != nil {
		if errors.Is(err, ragd.ErrNotFound) {
			return nil
		}
		return err
	}
	if doc.Status == StatusDeleting || doc.ContentVersion != version {
		return nil
	}
	started := time.Now()
	if err := p.store.setStage(ctx, doc, StageExtracting, 0.05, true); err != nil {
		return ignoreStale(err)
	}

	ext, err := Extract(ctx, doc.Type, data, p.limits)
	extractMS := int(time.Since(started).Milliseconds())
	if err != nil {
		if e, ok := AsError(err); ok {
			return p.fail(ctx, doc, e)
		}
		return err // cancelled: the job is retried
	}
	if err := p.store.setStage(ctx, doc, StageChunking, 0.5, false); err != nil {
		return ignoreStale(err)
	}

	opts := p.chunks
	if doc.ChunkMaxTokens != nil {
		opts.MaxTokens = *doc.ChunkMaxTokens
		opts.OverlapTokens, opts.MinTokens = 0, 0
		opts = opts.WithDefaults()
	}
	if doc.ChunkOverlap != nil {
		opts.OverlapTokens = *doc.ChunkOverlap
	}
	ck, err := chunker.New(p.tok, opts)
	if err != nil {
		return p.fail(ctx, doc, &Error{Code: CodeInternal, Message: "the document's chunking settings are invalid: " + err.Error()})
	}
	chunkStart := time.Now()
	pieces, err := ck.Split(ext.Document)
	if err != nil {
		return p.fail(ctx, doc, &Error{Code: CodeInternal, Message: "the extracted text could not be chunked", Err: err})
	}
	chunkMS := int(time.Since(chunkStart).Milliseconds())

	if err := p.store.setStage(ctx, doc, StageStoring, 0.8, false); err != nil {
		return ignoreStale(err)
	}
	res := result{
		pageCount: ext.PageCount, charCount: utf8.RuneCountInString(ext.Text),
		extractMS: extractMS, chunkMS: chunkMS,
	}
	for _, c := range pieces {
		res.tokenCount += c.TokenCount
	}
	if err := p.store.saveChunks(ctx, doc, pieces, res); err != nil {
		return ignoreStale(err)
	}
	p.log.InfoContext(ctx, "document ready", "tenant_id", tenantID, "document_id", docID, "version", version,
		"chunks", len(pieces), "tokens", res.tokenCount, "pages", ext.PageCount, "duration_ms", time.Since(started).Milliseconds())
	return nil
}

// MarkFailed records a failure that is not the document's fault (the job
// ran out of attempts) so that the document does not stay in processing.
func (p *Pipeline) MarkFailed(ctx context.Context, tenantID, docID uuid.UUID, version int, cause error) error {
	doc, err := p.store.Get(ctx, tenantID, docID)
	if err != nil || doc.ContentVersion != version {
		return nil
	}
	return ignoreStale(p.store.setFailed(ctx, doc, &Error{Code: CodeInternal, Message: "processing failed repeatedly; try reindexing later", Err: cause}))
}

func (p *Pipeline) fail(ctx context.Context, doc Document, e *Error) error {
	if err := p.store.setFailed(ctx, doc, e); err != nil {
		return ignoreStale(err)
	}
	p.log.InfoContext(ctx, "document failed", "tenant_id", doc.TenantID, "document_id", doc.ID, "code", e.Code, "cause", e.Error())
	return e
}

func ignoreStale(err error) error {
	if errors.Is(err, errStale) {
		return nil
	}
	return err
}

type result struct {
	pageCount, charCount, tokenCount int
	extractMS, chunkMS               int
}

// setStage records progress for the document's version; errStale when the
// document was deleted or superseded meanwhile.
func (s *Store) setStage(ctx context.Context, d Document, stage string, progress float64, start bool) error {
	tag, err := s.pool.Exec(ctx, `UPDATE documents SET status = 'processing', stage = $4, progress = $5,
		started_at = CASE WHEN $6 THEN now() ELSE started_at END, finished_at = NULL,
		error_code = NULL, error_message = NULL, updated_at = now()
		WHERE tenant_id = $1 AND id = $2 AND content_version = $3 AND status <> 'deleting'`,
		d.TenantID, d.ID, d.ContentVersion, stage, progress, start)
	if err != nil {
		return fmt.Errorf("record stage: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return errStale
	}
	return nil
}

func (s *Store) setFailed(ctx context.Context, d Document, e *Error) error {
	tag, err := s.pool.Exec(ctx, `UPDATE documents SET status = 'failed', stage = NULL, error_code = $4, error_message = $5,
		finished_at = now(), updated_at = now()
		WHERE tenant_id = $1 AND id = $2 AND content_version = $3 AND status <> 'deleting'`,
		d.TenantID, d.ID, d.ContentVersion, e.Code, e.Message)
	if err != nil {
		return fmt.Errorf("record failure: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return errStale
	}
	return nil
}

// saveChunks replaces the chunks of the document's version, removes those
// of older versions, and marks the document ready, in one transaction.
func (s *Store) saveChunks(ctx context.Context, d Document, pieces []chunker.Chunk, r result) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Lock the row first: a concurrent delete or reindex waits for us or
		// makes us stale, never half of each.
		var version int
		var status string
		err := tx.QueryRow(ctx, "SELECT content_version, status FROM documents WHERE tenant_id = $1 AND id = $2 FOR UPDATE", d.TenantID, d.ID).Scan(&version, &status)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && (version != d.ContentVersion || status == StatusDeleting)) {
			return errStale
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM chunks WHERE document_id = $1", d.ID); err != nil {
			return fmt.Errorf("clear chunks: %w", err)
		}
		rows := make([][]any, len(pieces))
		for i, c := range pieces {
			sum := sha256.Sum256([]byte(c.Text))
			path := c.HeadingPath
			if path == nil {
				path = []string{}
			}
			rows[i] = []any{ChunkID(d.ID, d.ContentVersion, c.Index), d.TenantID, d.ID, d.ContentVersion, c.Index, c.Text,
				c.TokenCount, nilIfZero(c.PageStart), nilIfZero(c.PageEnd), path, c.Start, c.End, sum[:]}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"chunks"}, []string{"id", "tenant_id", "document_id", "content_version", "idx", "text",
			"token_count", "page_start", "page_end", "heading_path", "start_offset", "end_offset", "sha256"}, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("insert chunks: %w", err)
		}
		_, err = tx.Exec(ctx, `UPDATE documents SET status = 'ready', stage = NULL, progress = 1, error_code = NULL, error_message = NULL,
			page_count = $3, char_count = $4, chunk_count = $5, token_count = $6, extract_ms = $7, chunk_ms = $8,
			finished_at = now(), updated_at = now() WHERE tenant_id = $1 AND id = $2`,
			d.TenantID, d.ID, nilIfZero(r.pageCount), r.charCount, len(pieces), r.tokenCount, r.extractMS, r.chunkMS)
		return err
	})
}
