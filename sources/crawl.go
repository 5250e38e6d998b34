package sources

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/extract"
	"github.com/ragd/ragd/ingest"
	"github.com/ragd/ragd/postgres"
)

// MissingRuns is how many runs in a row a page must be missing from (it
// answered 404 or 410, or a run that reached every page it could no
// longer found it) before its document is deleted: one bad deploy of a
// site does not empty a knowledge base.
const MissingRuns = 2

// MaxSitemaps bounds the sitemaps one run reads (an index and its children).
const MaxSitemaps = 100

// frontierBatch is how many URLs a slice reads from the frontier at once.
const frontierBatch = 20

// page is what ragd keeps of a source's page between runs.
type page struct {
	documentID *uuid.UUID
	etag       string
	modified   string
	sha        []byte
	textSHA    []byte
	links      []string
}

// Work runs one slice of a run: it takes URLs from the run's frontier
// until the slice's time is up (more: the job comes back for the rest,
// behind the runs already waiting) or the frontier is empty or the
// source's max_pages is reached (then the run ends: missing pages are
// counted and removed, the run's counts recorded, the webhook sent).
func (s *Service) Work(ctx context.Context, tenantID, sourceID, runID uuid.UUID) (more bool, err error) {
	src, err := s.getForRun(ctx, tenantID, sourceID)
	if errors.Is(err, ragd.ErrNotFound) {
		return false, nil // deleted with its runs
	}
	if err != nil {
		return false, err
	}
	var status string
	var taken int // the run's pages done so far (max_pages bounds them)
	if err := s.pool.QueryRow(ctx, `SELECT status, (SELECT count(*) FROM source_run_urls WHERE run_id = $2 AND depth >= 0 AND state IN ('done', 'failed'))
		FROM source_runs WHERE tenant_id = $1 AND id = $2`, tenantID, runID).Scan(&status, &taken); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return false, nil
		}
		return false, fmt.Errorf("read run: %w", err)
	}
	if status != RunRunning {
		return false, nil
	}
	if src.Status != "active" {
		return false, s.end(ctx, src, runID, RunFailed, "the source is being deleted")
	}
	deadline := s.now().Add(s.cfg.Slice)
	for {
		var status string
		err := s.pool.QueryRow(ctx, "SELECT status FROM sources WHERE id = $1", sourceID).Scan(&status)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return false, err
		}
		if status != "active" {
			// Deleted meanwhile: the run ends, and the deletion goes on.
			return false, s.end(ctx, src, runID, RunFailed, "the source is being deleted")
		}
		batch, err := s.nextURLs(ctx, runID)
		if err != nil {
			return false, err
		}
		if len(batch) == 0 {
			return false, s.finish(ctx, src, runID)
		}
		for _, e := range batch {
			if e.depth != sitemapDepth && taken >= src.MaxPages {
				if _, err := s.pool.Exec(ctx, "UPDATE source_runs SET truncated = true WHERE id = $1", runID); err != nil {
					return false, err
				}
				return false, s.finish(ctx, src, runID)
			}
			counted, err := s.visitTx(ctx, src, runID, e)
			if err != nil {
				var qe *ragd.QuotaError
				if errors.As(err, &qe) {
					return false, s.end(ctx, src, runID, RunFailed, qe.Error()+": the run stopped")
				}
				return false, err
			}
			if counted {
				taken++
			}
			if s.now().After(deadline) {
				return true, nil
			}
		}
	}
}

// FailRun ends a run that cannot go on (its job's attempts ran out),
// with why; a run that ended already stays as it is.
func (s *Service) FailRun(ctx context.Context, tenantID, sourceID, runID uuid.UUID, why error) error {
	src, err := s.getForRun(ctx, tenantID, sourceID)
	if errors.Is(err, ragd.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.end(ctx, src, runID, RunFailed, truncate("stopped after repeated errors: "+why.Error(), 1000))
}

// visitTx visits a URL with its bookkeeping (frontier, page, counts) in
// one transaction, committed without waiting for the WAL flush: a crash
// may lose the last few visits' records, and the slice that comes again
// visits those URLs again, which stores nothing twice (the documents'
// own writes are theirs, committed as any upload's; see store).
func (s *Service) visitTx(ctx context.Context, src Source, runID uuid.UUID, e frontierURL) (counted bool, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL synchronous_commit = off"); err != nil {
			return err
		}
		counted, err = s.visit(ctx, tx, src, runID, e)
		return err
	})
	return counted, err
}

func (s *Service) getForRun(ctx context.Context, tenantID, id uuid.UUID) (Source, error) {
	src, err := scanSource(s.pool.QueryRow(ctx, "SELECT "+sourceColumns+" FROM sources s WHERE s.tenant_id = $1 AND s.id = $2", tenantID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return src, fmt.Errorf("source: %w", ragd.ErrNotFound)
	}
	return src, err
}

type frontierURL struct {
	url   string
	depth int
}

func (s *Service) nextURLs(ctx context.Context, runID uuid.UUID) ([]frontierURL, error) {
	rows, err := s.pool.Query(ctx, `SELECT url, depth FROM source_run_urls WHERE run_id = $1 AND state = 'queued'
		ORDER BY depth, seq LIMIT $2`, runID, frontierBatch)
	if err != nil {
		return nil, fmt.Errorf("read frontier: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (frontierURL, error) {
		var f frontierURL
		return f, r.Scan(&f.url, &f.depth)
	})
}

// mark records what became of a frontier URL; counter (if any) is the
// run's count it adds one to.
func (s *Service) mark(ctx context.Context, db postgres.DB, runID uuid.UUID, u, state, reason, counter string) error {
	_, err := db.Exec(ctx, "UPDATE source_run_urls SET state = $3, reason = nullif($4, '') WHERE run_id = $1 AND url = $2",
		runID, u, state, truncate(reason, 500))
	if err == nil && counter != "" {
		_, err = db.Exec(ctx, "UPDATE source_runs SET "+counter+" = "+counter+" + 1 WHERE id = $1", runID)
	}
	if err != nil {
		return fmt.Errorf("record %s: %w", u, err)
	}
	if counter != "" {
		s.m.SourcePage(counter)
	} else if state == "skipped" {
		s.m.SourcePage(state)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// enqueue adds URLs to the run's frontier at depth, once each, those the
// source takes and the address policy allows.
func (s *Service) enqueue(ctx context.Context, db postgres.DB, src Source, runID uuid.UUID, urls []string, depth int) error {
	var ok []string
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil {
			continue
		}
		if depth != sitemapDepth && src.allowedURL(u) != "" {
			continue
		}
		// A website's links to a refused address are left alone; a
		// sitemap's page on one is a failure to report.
		if src.Type == TypeWebsite && checkFetchable(u, s.cfg.AllowPrivate) != "" {
			continue
		}
		ok = append(ok, raw)
	}
	if len(ok) == 0 {
		return nil
	}
	_, err := db.Exec(ctx, `INSERT INTO source_run_urls (run_id, url, depth)
		SELECT $1, u, $3 FROM unnest($2::text[]) WITH ORDINALITY AS t(u, n) ORDER BY n
		ON CONFLICT (run_id, url) DO NOTHING`, runID, ok, depth)
	if err != nil {
		return fmt.Errorf("grow frontier: %w", err)
	}
	return nil
}

// visit fetches one frontier URL and does what its answer asks; counted
// is whether it counts against max_pages (pages do, sitemaps do not).
func (s *Service) visit(ctx context.Context, db postgres.DB, src Source, runID uuid.UUID, e frontierURL) (counted bool, err error) {
	u, err := url.Parse(e.url)
	if err != nil {
		return false, s.mark(ctx, db, runID, e.url, "failed", "bad URL", "failed")
	}
	if !s.f.allowed(ctx, src.TenantID.String(), u) {
		return false, s.mark(ctx, db, runID, e.url, "skipped", "disallowed by robots.txt", "")
	}
	if e.depth == sitemapDepth {
		return false, s.readSitemap(ctx, db, src, runID, e)
	}
	old, err := s.page(ctx, db, src.ID, e.url)
	if err != nil {
		return false, err
	}
	etag, modified := "", ""
	if old != nil && old.documentID != nil {
		etag, modified = old.etag, old.modified
	}
	resp, err := s.f.get(ctx, src, e.url, etag, modified)
	if err != nil {
		var fe *fetchError
		if !errors.As(err, &fe) {
			return false, err // cancelled: the slice ends, the URL stays queued
		}
		// A failure to fetch is not a missing page: it may pass.
		if err := s.seen(ctx, db, src, runID, e.url); err != nil {
			return false, err
		}
		return true, s.mark(ctx, db, runID, e.url, "failed", fe.reason, "failed")
	}
	if _, err := db.Exec(ctx, "UPDATE source_runs SET fetched = fetched + 1 WHERE id = $1", runID); err != nil {
		return false, err
	}
	switch {
	case resp.status == http.StatusNotModified && old != nil:
		if err := s.seen(ctx, db, src, runID, e.url); err != nil {
			return false, err
		}
		if err := s.follow(ctx, db, src, runID, old.links, e.depth); err != nil {
			return false, err
		}
		return true, s.mark(ctx, db, runID, e.url, "done", "", "unchanged")
	case resp.status == http.StatusNotFound || resp.status == http.StatusGone:
		return true, s.mark(ctx, db, runID, e.url, "failed", fmt.Sprintf("HTTP %d", resp.status), "failed")
	case resp.status != http.StatusOK:
		if err := s.seen(ctx, db, src, runID, e.url); err != nil {
			return false, err
		}
		return true, s.mark(ctx, db, runID, e.url, "failed", fmt.Sprintf("HTTP %d", resp.status), "failed")
	}
	return true, s.store(ctx, db, src, runID, e, resp)
}

// store keeps a page answered 200: a new document, a new version of its
// document, or nothing when its text did not change.
func (s *Service) store(ctx context.Context, db postgres.DB, src Source, runID uuid.UUID, e frontierURL, resp response) error {
	key := e.url
	if resp.final != "" && resp.final != e.url {
		key = resp.final // redirected: the page is where it lives
	}
	typ, ok := s.detect(resp)
	var info pageInfo
	if typ == extract.TypeHTML {
		base, _ := url.Parse(key)
		info = readPage(base, resp.body)
		if c := info.canonical; c != "" && c != key {
			if cu, err := url.Parse(c); err == nil && src.allowedURL(cu) == "" && checkFetchable(cu, s.cfg.AllowPrivate) == "" {
				key = c
			}
		}
	}
	if key != e.url {
		// The page is another URL's: fetched once for both, stored under
		// the one it names (and skipped when that one was done already).
		tag, err := db.Exec(ctx, `INSERT INTO source_run_urls (run_id, url, depth, state) VALUES ($1, $2, $3, 'done')
			ON CONFLICT (run_id, url) DO UPDATE SET state = 'done' WHERE source_run_urls.state = 'queued'`, runID, key, e.depth)
		if err != nil {
			return fmt.Errorf("record %s: %w", key, err)
		}
		if tag.RowsAffected() == 0 {
			return s.mark(ctx, db, runID, e.url, "skipped", "the same page as "+key, "")
		}
		if err := s.mark(ctx, db, runID, e.url, "skipped", "the same page as "+key, ""); err != nil {
			return err
		}
	}
	if !ok {
		return s.mark(ctx, db, runID, key, "failed", "not a document ragd can read (Content-Type "+cmp.Or(resp.contentType, "none")+")", "failed")
	}
	if src.Type == TypeWebsite && !info.noFollow && e.depth < src.MaxDepth {
		if err := s.follow(ctx, db, src, runID, info.links, e.depth); err != nil {
			return err
		}
	}
	sum := sha256.Sum256(resp.body)
	textSum := info.textSum[:]
	if typ != extract.TypeHTML {
		textSum = sum[:]
	}
	old, err := s.page(ctx, db, src.ID, key)
	if err != nil {
		return err
	}
	if old == nil || old.documentID == nil {
		// A document of this source for this URL that its page does not
		// name: a crash lost the page's record after the document was
		// stored. It is taken back, not made twice.
		var id uuid.UUID
		var sha []byte
		err := db.QueryRow(ctx, `SELECT id, sha256 FROM documents WHERE tenant_id = $1 AND external_id = $2
			AND metadata->>'source_id' = $3 AND status <> 'deleting' ORDER BY created_at LIMIT 1`,
			src.TenantID, truncate(key, ingest.MaxExternalIDLen), src.ID.String()).Scan(&id, &sha)
		switch {
		case err == nil:
			old = &page{documentID: &id, sha: sha}
		case !errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("find the page's document: %w", err)
		}
	}
	if old != nil && old.documentID != nil && (bytes.Equal(old.sha, sum[:]) || bytes.Equal(old.textSHA, textSum)) {
		if _, err := s.docs.Get(ctx, src.TenantID, *old.documentID); err == nil {
			// Same bytes, or the same text in new markup: nothing to process.
			if err := s.savePage(ctx, db, src, runID, key, old.documentID, resp, old.sha, textSum, info.links); err != nil {
				return err
			}
			return s.mark(ctx, db, runID, key, "done", "", "unchanged")
		} else if !errors.Is(err, ragd.ErrNotFound) {
			return err
		}
		old.documentID = nil // its document was deleted: store it again
	}
	upload := ingest.Upload{Filename: fileName(key, typ), Content: ingest.BytesContent(resp.body), Type: typ,
		Tags: append([]string(nil), src.Tags...), ExternalID: truncate(key, ingest.MaxExternalIDLen),
		Metadata: map[string]any{"source_id": src.ID.String(), "url": truncate(key, ingest.MaxMetadataValue)}}
	if old != nil && old.documentID != nil {
		if _, err := s.docs.Replace(ctx, src.TenantID, *old.documentID, upload); err == nil {
			if err := s.savePage(ctx, db, src, runID, key, old.documentID, resp, sum[:], textSum, info.links); err != nil {
				return err
			}
			return s.mark(ctx, db, runID, key, "done", "", "changed")
		} else if !errors.Is(err, ragd.ErrNotFound) {
			return s.refused(ctx, db, runID, key, err)
		}
	}
	created, err := s.docs.Create(ctx, src.TenantID, upload, ingest.CreateOptions{AllowDuplicate: true})
	if err != nil {
		return s.refused(ctx, db, runID, key, err)
	}
	id := created.Document.ID
	if err := s.savePage(ctx, db, src, runID, key, &id, resp, sum[:], textSum, info.links); err != nil {
		return err
	}
	return s.mark(ctx, db, runID, key, "done", "", "new")
}

// refused records a page ingest would not take: a quota ends the run
// (the caller stops), anything the page itself got wrong fails the page.
func (s *Service) refused(ctx context.Context, db postgres.DB, runID uuid.UUID, key string, err error) error {
	var qe *ragd.QuotaError
	if errors.As(err, &qe) {
		_ = s.mark(ctx, db, runID, key, "failed", qe.Error(), "failed")
		return err
	}
	var ve *ragd.ValidationError
	if errors.As(err, &ve) {
		return s.mark(ctx, db, runID, key, "failed", ve.Error(), "failed")
	}
	return err
}

// detect is the type of a fetched body: from its bytes first, then the
// Content-Type, then the URL's extension, as uploads are detected.
func (s *Service) detect(resp response) (extract.Type, bool) {
	name := "page"
	if mt, _, err := mime.ParseMediaType(resp.contentType); err == nil {
		switch {
		case mt == "text/html" || mt == "application/xhtml+xml":
			name += ".html"
		case mt == "text/markdown":
			name += ".md"
		case mt == "text/csv":
			name += ".csv"
		}
	}
	if name == "page" && resp.final != "" {
		if u, err := url.Parse(resp.final); err == nil {
			name = path.Base(u.Path)
		}
	}
	body := bytes.NewReader(resp.body)
	t, ok := extract.Detect(body, int64(len(resp.body)), name)
	return t, ok
}

// fileName is the document's file name for a page: the last segment of
// its path, with the type's extension when it has none ("pricing.html",
// "index.html" for "/").
func fileName(raw string, typ extract.Type) string {
	name := "index"
	if u, err := url.Parse(raw); err == nil {
		if b := path.Base(u.Path); b != "/" && b != "." && b != "" {
			name = b
		}
	}
	if path.Ext(name) == "" {
		switch typ {
		case extract.TypeHTML:
			name += ".html"
		case extract.TypeMarkdown:
			name += ".md"
		case extract.TypeText:
			name += ".txt"
		default:
			name += "." + string(typ)
		}
	}
	return ingest.BaseName(name)
}

// follow queues a page's links one level deeper.
func (s *Service) follow(ctx context.Context, db postgres.DB, src Source, runID uuid.UUID, links []string, depth int) error {
	if src.Type != TypeWebsite || depth >= src.MaxDepth {
		return nil
	}
	return s.enqueue(ctx, db, src, runID, links, depth+1)
}

func (s *Service) page(ctx context.Context, db postgres.DB, sourceID uuid.UUID, u string) (*page, error) {
	var p page
	var etag, modified *string
	err := db.QueryRow(ctx, "SELECT document_id, etag, last_modified, sha256, text_sha256, links FROM source_pages WHERE source_id = $1 AND url = $2",
		sourceID, u).Scan(&p.documentID, &etag, &modified, &p.sha, &p.textSHA, &p.links)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read page: %w", err)
	}
	if etag != nil {
		p.etag = *etag
	}
	if modified != nil {
		p.modified = *modified
	}
	return &p, nil
}

// seen records that the run found the page (not missing), keeping what
// ragd knew of it.
func (s *Service) seen(ctx context.Context, db postgres.DB, src Source, runID uuid.UUID, u string) error {
	_, err := db.Exec(ctx, "UPDATE source_pages SET missing_runs = 0, last_run_id = $3 WHERE source_id = $1 AND url = $2", src.ID, u, runID)
	if err != nil {
		return fmt.Errorf("record page: %w", err)
	}
	return nil
}

func (s *Service) savePage(ctx context.Context, db postgres.DB, src Source, runID uuid.UUID, u string, docID *uuid.UUID, resp response, sum, textSum []byte, links []string) error {
	if links == nil {
		links = []string{}
	}
	_, err := db.Exec(ctx, `INSERT INTO source_pages (tenant_id, source_id, url, document_id, etag, last_modified, sha256, text_sha256, links, missing_runs, last_run_id, fetched_at)
		VALUES ($1, $2, $3, $4, nullif($5, ''), nullif($6, ''), $7, $8, $9, 0, $10, now())
		ON CONFLICT (source_id, url) DO UPDATE SET document_id = excluded.document_id, etag = excluded.etag, last_modified = excluded.last_modified,
			sha256 = excluded.sha256, text_sha256 = excluded.text_sha256, links = excluded.links, missing_runs = 0,
			last_run_id = excluded.last_run_id, fetched_at = excluded.fetched_at`,
		src.TenantID, src.ID, u, docID, truncate(resp.etag, 500), truncate(resp.modified, 100), sum, textSum, links, runID)
	if err != nil {
		return fmt.Errorf("record page: %w", err)
	}
	return nil
}

// readSitemap reads a sitemap entry of the frontier: its pages join the
// frontier at depth 0, the sitemaps an index lists as sitemaps.
func (s *Service) readSitemap(ctx context.Context, db postgres.DB, src Source, runID uuid.UUID, e frontierURL) error {
	var n int
	if err := db.QueryRow(ctx, "SELECT count(*) FROM source_run_urls WHERE run_id = $1 AND depth = $2 AND state <> 'queued'",
		runID, sitemapDepth).Scan(&n); err != nil {
		return err
	}
	if n >= MaxSitemaps {
		return s.mark(ctx, db, runID, e.url, "failed", fmt.Sprintf("more than %d sitemaps", MaxSitemaps), "failed")
	}
	resp, err := s.f.get(ctx, src, e.url, "", "")
	if err != nil {
		var fe *fetchError
		if !errors.As(err, &fe) {
			return err
		}
		return s.mark(ctx, db, runID, e.url, "failed", fe.reason, "failed")
	}
	if resp.status != http.StatusOK {
		return s.mark(ctx, db, runID, e.url, "failed", fmt.Sprintf("HTTP %d", resp.status), "failed")
	}
	body, err := gunzipped(resp.body, s.cfg.MaxBytes)
	if err == nil {
		var sm sitemap
		if sm, err = readSitemap(body); err == nil {
			if err := s.enqueue(ctx, db, src, runID, sm.sitemaps, sitemapDepth); err != nil {
				return err
			}
			if err := s.enqueue(ctx, db, src, runID, sm.pages, 0); err != nil {
				return err
			}
			return s.mark(ctx, db, runID, e.url, "done", "", "")
		}
	}
	var fe *fetchError
	if errors.As(err, &fe) {
		return s.mark(ctx, db, runID, e.url, "failed", fe.reason, "failed")
	}
	return err
}

// finish ends a run whose frontier is done (or that reached max_pages):
// pages missing from it count one more missing run (when the run was
// truncated, only those that answered 404 or 410 do: the others may
// just not have been reached), and those missing MissingRuns in a row
// are deleted with their documents.
func (s *Service) finish(ctx context.Context, src Source, runID uuid.UUID) error {
	var truncated bool
	if err := s.pool.QueryRow(ctx, "SELECT truncated FROM source_runs WHERE id = $1", runID).Scan(&truncated); err != nil {
		return err
	}
	// Each page is counted missing once per run: last_run_id becomes the
	// run, so a slice that runs finish again after a crash counts nothing twice.
	if _, err := s.pool.Exec(ctx, `UPDATE source_pages p SET missing_runs = missing_runs + 1, last_run_id = $2
		WHERE p.source_id = $1 AND p.last_run_id IS DISTINCT FROM $2 AND (NOT $3 OR EXISTS (
			SELECT 1 FROM source_run_urls f WHERE f.run_id = $2 AND f.url = p.url AND f.state = 'failed' AND f.reason IN ('HTTP 404', 'HTTP 410')))`,
		src.ID, runID, truncated); err != nil {
		return fmt.Errorf("count missing pages: %w", err)
	}
	rows, err := s.pool.Query(ctx, "SELECT url, document_id FROM source_pages WHERE source_id = $1 AND missing_runs >= $2", src.ID, MissingRuns)
	if err != nil {
		return fmt.Errorf("find removed pages: %w", err)
	}
	type gone struct {
		url string
		doc *uuid.UUID
	}
	removed, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (gone, error) {
		var g gone
		return g, r.Scan(&g.url, &g.doc)
	})
	if err != nil {
		return fmt.Errorf("find removed pages: %w", err)
	}
	for _, g := range removed {
		if g.doc != nil {
			if _, err := s.docs.Delete(ctx, src.TenantID, *g.doc); err != nil && !errors.Is(err, ragd.ErrNotFound) {
				return err
			}
		}
		if _, err := s.pool.Exec(ctx, "DELETE FROM source_pages WHERE source_id = $1 AND url = $2", src.ID, g.url); err != nil {
			return fmt.Errorf("remove page: %w", err)
		}
		if _, err := s.pool.Exec(ctx, "UPDATE source_runs SET removed = removed + 1 WHERE id = $1", runID); err != nil {
			return err
		}
	}
	return s.end(ctx, src, runID, RunCompleted, "")
}

// end records the run's end (its frontier but the failures goes), and
// sends source.run.completed, in one transaction.
func (s *Service) end(ctx context.Context, src Source, runID uuid.UUID, status, reason string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		run, err := scanRun(tx.QueryRow(ctx, `UPDATE source_runs SET status = $2, ended_at = now(), error = nullif($3, '')
			WHERE id = $1 AND status = 'running' RETURNING `+runColumns, runID, status, reason))
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // ended already
		}
		if err != nil {
			return fmt.Errorf("end run: %w", err)
		}
		if _, err := tx.Exec(ctx, "DELETE FROM source_run_urls WHERE run_id = $1 AND state NOT IN ('failed', 'skipped')", runID); err != nil {
			return fmt.Errorf("end run: %w", err)
		}
		if s.events == nil {
			return nil
		}
		return s.events.Record(ctx, tx, src.TenantID, EventRunCompleted, src.ID, RunEvent{SourceID: src.ID, URL: src.URL, Run: run})
	})
}

// RunEvent is the data of a source.run.completed webhook.
type RunEvent struct {
	SourceID uuid.UUID `json:"source_id"`
	URL      string    `json:"url"`
	Run      Run       `json:"run"`
}
