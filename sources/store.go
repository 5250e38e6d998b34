package sources

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/ingest"
	"github.com/ragd/ragd/metrics"
	"github.com/ragd/ragd/postgres"
)

// Jobs adds a source's jobs in the caller's transaction (package jobs
// implements it).
type Jobs interface {
	// EnqueueSourceRun queues the next slice of a run.
	EnqueueSourceRun(ctx context.Context, tx pgx.Tx, tenantID, sourceID, runID uuid.UUID) error
	// EnqueueSourceDelete queues the removal of a source's documents,
	// then of the source.
	EnqueueSourceDelete(ctx context.Context, tx pgx.Tx, tenantID, sourceID uuid.UUID) error
	// SourceRunQueued says whether a run still has a job that will work
	// it (a job removed by an operator, or one whose attempts ran out
	// before it could say so, leaves a run that nothing ends).
	SourceRunQueued(ctx context.Context, tx pgx.Tx, runID uuid.UUID) (bool, error)
}

// Events records a webhook event in the transaction of the change it
// reports (webhooks.Service implements it).
type Events interface {
	Record(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, typ string, subjectID uuid.UUID, data any) error
}

// Service keeps a tenant's sources in Postgres and crawls them into
// documents. Every method that reads or writes a tenant's rows takes its id.
type Service struct {
	pool   *pgxpool.Pool
	docs   *ingest.Documents
	q      Jobs
	events Events
	cfg    Config
	f      *fetcher
	m      *metrics.Metrics
	now    func() time.Time
}

// NewService returns a Service; docs stores the pages, q queues the runs'
// jobs, events (nil for none) records source.run.completed, m (nil for
// none) counts pages by outcome.
func NewService(pool *pgxpool.Pool, docs *ingest.Documents, q Jobs, events Events, m *metrics.Metrics, cfg Config) *Service {
	cfg = cfg.withDefaults()
	return &Service{pool: pool, docs: docs, q: q, events: events, cfg: cfg, f: newFetcher(cfg), m: m, now: time.Now}
}

const sourceColumns = `s.id, s.tenant_id, s.type, s.url, s.include, s.exclude, s.max_pages, s.max_depth, s.schedule, s.tags,
	s.status, s.next_run_at, s.created_at, s.updated_at,
	(SELECT count(*) FROM source_pages p WHERE p.source_id = s.id AND p.document_id IS NOT NULL)`

func scanSource(row pgx.Row) (Source, error) {
	var s Source
	err := row.Scan(&s.ID, &s.TenantID, &s.Type, &s.URL, &s.Include, &s.Exclude, &s.MaxPages, &s.MaxDepth, &s.Schedule, &s.Tags,
		&s.Status, &s.NextRunAt, &s.CreatedAt, &s.UpdatedAt, &s.Pages)
	return s, err
}

const runColumns = `id, source_id, trigger, status, started_at, ended_at, fetched, new, changed, unchanged, removed, failed, truncated, error`

func scanRun(row pgx.Row) (Run, error) {
	var r Run
	err := row.Scan(&r.ID, &r.SourceID, &r.Trigger, &r.Status, &r.StartedAt, &r.EndedAt, &r.Fetched, &r.New, &r.Changed,
		&r.Unchanged, &r.Removed, &r.Failed, &r.Truncated, &r.Error)
	r.Failures = []Failure{}
	return r, err
}

// ErrRunning: a run of the source is already running.
var ErrRunning = &ragd.ConflictError{Field: "source", Message: "a run of this source is already running"}

// Create adds a source and starts its first run.
func (s *Service) Create(ctx context.Context, tenantID uuid.UUID, in Input) (Source, Run, error) {
	in, err := in.validate(s.cfg.AllowPrivate)
	if err != nil {
		return Source{}, Run{}, err
	}
	var src Source
	var run Run
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The tenant's row lock makes the count and the insert one step.
		if _, err := tx.Exec(ctx, "SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE", tenantID); err != nil {
			return fmt.Errorf("lock tenant: %w", err)
		}
		var n int64
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM sources WHERE tenant_id = $1", tenantID).Scan(&n); err != nil {
			return fmt.Errorf("count sources: %w", err)
		}
		if n >= MaxSources {
			return &ragd.QuotaError{Quota: "sources", Limit: MaxSources, Used: n}
		}
		var next *time.Time
		if in.Schedule != nil {
			t := s.now().Add(schedules[*in.Schedule])
			next = &t
		}
		id := uuid.Must(uuid.NewV7())
		if _, err := tx.Exec(ctx, `INSERT INTO sources (id, tenant_id, type, url, include, exclude, max_pages, max_depth, schedule, tags, next_run_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			id, tenantID, in.Type, in.URL, in.Include, in.Exclude, in.MaxPages, *in.MaxDepth, in.Schedule, in.Tags, next); err != nil {
			return postgres.NotFound(fmt.Errorf("insert source: %w", err), "insert source")
		}
		src, err = scanSource(tx.QueryRow(ctx, "SELECT "+sourceColumns+" FROM sources s WHERE s.id = $1", id))
		if err != nil {
			return err
		}
		run, err = s.startRun(ctx, tx, src, "created")
		return err
	})
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23503" { // the tenant is gone
			return Source{}, Run{}, fmt.Errorf("create source: %w", ragd.ErrNotFound)
		}
		return Source{}, Run{}, err
	}
	src.LastRun = &run
	return src, run, nil
}

// startRun inserts a run of src, seeds its frontier and queues its first
// slice; ErrRunning when a run of src is running.
func (s *Service) startRun(ctx context.Context, tx pgx.Tx, src Source, trigger string) (Run, error) {
	id := uuid.Must(uuid.NewV7())
	var running uuid.UUID
	switch err := tx.QueryRow(ctx, "SELECT id FROM source_runs WHERE source_id = $1 AND status = 'running' FOR UPDATE", src.ID).Scan(&running); {
	case err == nil:
		queued, err := s.q.SourceRunQueued(ctx, tx, running)
		if err != nil {
			return Run{}, err
		}
		if queued {
			return Run{}, ErrRunning
		}
		// Nothing will work it: it ends, and the new run starts.
		if _, err := tx.Exec(ctx, `UPDATE source_runs SET status = 'failed', ended_at = now(), error = 'its job was gone (removed, or its attempts ran out)'
			WHERE id = $1`, running); err != nil {
			return Run{}, fmt.Errorf("end a run with no job: %w", err)
		}
	case !errors.Is(err, pgx.ErrNoRows):
		return Run{}, fmt.Errorf("find the running run: %w", err)
	}
	run, err := scanRun(tx.QueryRow(ctx, `INSERT INTO source_runs (id, tenant_id, source_id, trigger) VALUES ($1, $2, $3, $4)
		ON CONFLICT (source_id) WHERE status = 'running' DO NOTHING RETURNING `+runColumns, id, src.TenantID, src.ID, trigger))
	if errors.Is(err, pgx.ErrNoRows) {
		return Run{}, ErrRunning // another transaction's, just committed
	}
	if err != nil {
		return Run{}, fmt.Errorf("insert run: %w", err)
	}
	depth := 0
	if src.Type == TypeSitemap {
		depth = sitemapDepth
	}
	if _, err := tx.Exec(ctx, "INSERT INTO source_run_urls (run_id, url, depth) VALUES ($1, $2, $3)", id, src.URL, depth); err != nil {
		return Run{}, fmt.Errorf("seed run: %w", err)
	}
	return run, s.q.EnqueueSourceRun(ctx, tx, src.TenantID, src.ID, id)
}

// sitemapDepth marks a frontier entry that is a sitemap to read, not a
// page; it sorts before every page.
const sitemapDepth = -1

// Get returns the tenant's source, with its latest run.
func (s *Service) Get(ctx context.Context, tenantID, id uuid.UUID) (Source, error) {
	src, err := scanSource(s.pool.QueryRow(ctx, "SELECT "+sourceColumns+" FROM sources s WHERE s.tenant_id = $1 AND s.id = $2", tenantID, id))
	if err != nil {
		return src, postgres.NotFound(err, "source")
	}
	runs, _, err := s.Runs(ctx, tenantID, id, ragd.Page{Limit: 1})
	if err != nil {
		return src, err
	}
	if len(runs) > 0 {
		src.LastRun = &runs[0]
	}
	return src, nil
}

// List returns a page of the tenant's sources, oldest first, each with
// its latest run (without its failures).
func (s *Service) List(ctx context.Context, tenantID uuid.UUID, p ragd.Page) ([]Source, *ragd.Cursor, error) {
	limit := p.Size()
	at, after := p.Key(time.Time{})
	rows, err := s.pool.Query(ctx, "SELECT "+sourceColumns+`, r.id IS NOT NULL, `+prefixed("r.", runColumns)+` FROM sources s
		LEFT JOIN LATERAL (SELECT * FROM source_runs r WHERE r.tenant_id = s.tenant_id AND r.source_id = s.id ORDER BY started_at DESC LIMIT 1) r ON true
		WHERE s.tenant_id = $1 AND (s.created_at, s.id::text) > ($2, $3) ORDER BY s.created_at, s.id::text LIMIT $4`, tenantID, at, after, limit+1)
	if err != nil {
		return nil, nil, fmt.Errorf("list sources: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Source, error) {
		var src Source
		var has bool
		var run struct {
			ID, SourceID                                      *uuid.UUID
			Trigger, Status                                   *string
			StartedAt, EndedAt                                *time.Time
			Fetched, New, Changed, Unchanged, Removed, Failed *int
			Truncated                                         *bool
			Error                                             *string
		}
		err := r.Scan(&src.ID, &src.TenantID, &src.Type, &src.URL, &src.Include, &src.Exclude, &src.MaxPages, &src.MaxDepth, &src.Schedule, &src.Tags,
			&src.Status, &src.NextRunAt, &src.CreatedAt, &src.UpdatedAt, &src.Pages, &has,
			&run.ID, &run.SourceID, &run.Trigger, &run.Status, &run.StartedAt, &run.EndedAt, &run.Fetched, &run.New, &run.Changed,
			&run.Unchanged, &run.Removed, &run.Failed, &run.Truncated, &run.Error)
		if has {
			src.LastRun = &Run{ID: *run.ID, SourceID: *run.SourceID, Trigger: *run.Trigger, Status: *run.Status, StartedAt: *run.StartedAt,
				EndedAt: run.EndedAt, Fetched: *run.Fetched, New: *run.New, Changed: *run.Changed, Unchanged: *run.Unchanged,
				Removed: *run.Removed, Failed: *run.Failed, Truncated: *run.Truncated, Error: run.Error, Failures: []Failure{}}
		}
		return src, err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list sources: %w", err)
	}
	list, next := ragd.TrimPage(list, limit, func(s Source) ragd.Cursor { return ragd.Cursor{Time: s.CreatedAt, ID: s.ID.String()} })
	return list, next, nil
}

// Update applies a patch; a new schedule counts from now.
func (s *Service) Update(ctx context.Context, tenantID, id uuid.UUID, p Patch) (Source, error) {
	p, err := p.validate()
	if err != nil {
		return Source{}, err
	}
	var next *time.Time
	if p.Schedule.Present() {
		t := s.now().Add(schedules[p.Schedule.Value])
		next = &t
	}
	tag, err := s.pool.Exec(ctx, `UPDATE sources SET
			include = CASE WHEN $3 THEN $4::text[] ELSE include END,
			exclude = CASE WHEN $5 THEN $6::text[] ELSE exclude END,
			max_pages = CASE WHEN $7 THEN $8 ELSE max_pages END,
			max_depth = CASE WHEN $9 THEN $10 ELSE max_depth END,
			schedule = CASE WHEN $11 THEN $12 ELSE schedule END,
			next_run_at = CASE WHEN $11 THEN $13 ELSE next_run_at END,
			tags = CASE WHEN $14 THEN $15::text[] ELSE tags END,
			updated_at = now()
		WHERE tenant_id = $1 AND id = $2 AND status = 'active'`, tenantID, id,
		p.Include.Set, p.Include.Value, p.Exclude.Set, p.Exclude.Value, p.MaxPages.Set, p.MaxPages.Value,
		p.MaxDepth.Set, p.MaxDepth.Value, p.Schedule.Set, optional(p.Schedule), next, p.Tags.Set, p.Tags.Value)
	if err != nil {
		return Source{}, fmt.Errorf("update source: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return Source{}, fmt.Errorf("update source: %w", ragd.ErrNotFound)
	}
	return s.Get(ctx, tenantID, id)
}

func optional(o ragd.Optional[string]) *string {
	if !o.Present() {
		return nil
	}
	return &o.Value
}

// Sync starts a run of the source now.
func (s *Service) Sync(ctx context.Context, tenantID, id uuid.UUID) (Run, error) {
	var run Run
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		src, err := scanSource(tx.QueryRow(ctx, "SELECT "+sourceColumns+" FROM sources s WHERE s.tenant_id = $1 AND s.id = $2 AND s.status = 'active' FOR UPDATE OF s",
			tenantID, id))
		if err != nil {
			return postgres.NotFound(err, "source")
		}
		run, err = s.startRun(ctx, tx, src, "manual")
		return err
	})
	return run, err
}

// Delete removes the source. Its documents go too (a job deletes them,
// then the source), unless keepDocuments: then the source goes at once
// and its documents stay, as uploads do.
func (s *Service) Delete(ctx context.Context, tenantID, id uuid.UUID, keepDocuments bool) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if keepDocuments {
			// Not a source already deleting: its documents are going.
			tag, err := tx.Exec(ctx, "DELETE FROM sources WHERE tenant_id = $1 AND id = $2 AND status = 'active'", tenantID, id)
			if err != nil {
				return fmt.Errorf("delete source: %w", err)
			}
			if tag.RowsAffected() == 0 {
				return fmt.Errorf("delete source: %w", ragd.ErrNotFound)
			}
			return nil
		}
		tag, err := tx.Exec(ctx, `UPDATE sources SET status = 'deleting', next_run_at = NULL, updated_at = now()
			WHERE tenant_id = $1 AND id = $2 AND status = 'active'`, tenantID, id)
		if err != nil {
			return fmt.Errorf("delete source: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("delete source: %w", ragd.ErrNotFound)
		}
		// A running run ends at its next slice, which finds the source deleting.
		return s.q.EnqueueSourceDelete(ctx, tx, tenantID, id)
	})
}

// Purge deletes a deleting source's documents (each through
// ingest.Documents.Delete, so their points go too), then the source.
func (s *Service) Purge(ctx context.Context, tenantID, id uuid.UUID) error {
	// A run still running may store a page after the documents are
	// listed: wait for it to end (its next slice sees the source deleting).
	var running bool
	if err := s.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM source_runs WHERE tenant_id = $1 AND source_id = $2 AND status = 'running')",
		tenantID, id).Scan(&running); err != nil {
		return fmt.Errorf("purge source: %w", err)
	}
	if running {
		return runningError{}
	}
	rows, err := s.pool.Query(ctx, `SELECT p.document_id FROM source_pages p JOIN sources s ON s.id = p.source_id
		WHERE s.tenant_id = $1 AND s.id = $2 AND s.status = 'deleting' AND p.document_id IS NOT NULL`, tenantID, id)
	if err != nil {
		return fmt.Errorf("purge source: %w", err)
	}
	docs, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return fmt.Errorf("purge source: %w", err)
	}
	for _, d := range docs {
		if _, err := s.docs.Delete(ctx, tenantID, d); err != nil && !errors.Is(err, ragd.ErrNotFound) {
			return err
		}
		if _, err := s.pool.Exec(ctx, "UPDATE source_pages SET document_id = NULL WHERE source_id = $1 AND document_id = $2", id, d); err != nil {
			return fmt.Errorf("purge source: %w", err)
		}
	}
	if _, err := s.pool.Exec(ctx, "DELETE FROM sources WHERE tenant_id = $1 AND id = $2 AND status = 'deleting'", tenantID, id); err != nil {
		return fmt.Errorf("purge source: %w", err)
	}
	return nil
}

// Runs returns a page of the source's runs, newest first, each with its
// failures (at most MaxFailuresShown).
func (s *Service) Runs(ctx context.Context, tenantID, id uuid.UUID, p ragd.Page) ([]Run, *ragd.Cursor, error) {
	var exists bool
	if err := s.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM sources WHERE tenant_id = $1 AND id = $2)", tenantID, id).Scan(&exists); err != nil {
		return nil, nil, fmt.Errorf("runs: %w", err)
	}
	if !exists {
		return nil, nil, fmt.Errorf("runs: %w", ragd.ErrNotFound)
	}
	limit := p.Size()
	at, after := p.Key(time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))
	rows, err := s.pool.Query(ctx, "SELECT "+runColumns+` FROM source_runs
		WHERE tenant_id = $1 AND source_id = $2 AND (started_at, id::text) < ($3, $4) ORDER BY started_at DESC, id::text DESC LIMIT $5`,
		tenantID, id, at, cursorAfter(after), limit+1)
	if err != nil {
		return nil, nil, fmt.Errorf("runs: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Run, error) { return scanRun(r) })
	if err != nil {
		return nil, nil, fmt.Errorf("runs: %w", err)
	}
	list, next := ragd.TrimPage(list, limit, func(r Run) ragd.Cursor { return ragd.Cursor{Time: r.StartedAt, ID: r.ID.String()} })
	for i := range list {
		fr, err := s.pool.Query(ctx, `SELECT url, coalesce(reason, '') FROM source_run_urls WHERE run_id = $1 AND state = 'failed'
			ORDER BY seq LIMIT $2`, list[i].ID, MaxFailuresShown)
		if err != nil {
			return nil, nil, fmt.Errorf("run failures: %w", err)
		}
		list[i].Failures, err = pgx.CollectRows(fr, pgx.RowToStructByPos[Failure])
		if err != nil {
			return nil, nil, fmt.Errorf("run failures: %w", err)
		}
	}
	return list, next, nil
}

// cursorAfter is the id part of a descending page's key: past every id
// on the first page.
func cursorAfter(after string) string {
	if after == "" {
		return "~"
	}
	return after
}

// prefixed is a column list with every column prefixed by p ("r.").
func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// StartDue starts a run of every active source whose schedule is due and
// that has none running, and moves its next run a period on; the
// periodic schedule_sources job calls it.
func (s *Service) StartDue(ctx context.Context) (int, error) {
	started := 0
	for range 100 { // at most 100 a call; the next call takes the rest
		done := false
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			src, err := scanSource(tx.QueryRow(ctx, "SELECT "+sourceColumns+` FROM sources s
				WHERE s.status = 'active' AND s.next_run_at <= now() ORDER BY s.next_run_at LIMIT 1 FOR UPDATE OF s SKIP LOCKED`))
			if errors.Is(err, pgx.ErrNoRows) {
				done = true
				return nil
			}
			if err != nil {
				return err
			}
			var next *time.Time
			if src.Schedule != nil {
				t := s.now().Add(schedules[*src.Schedule])
				next = &t
			}
			if _, err := tx.Exec(ctx, "UPDATE sources SET next_run_at = $2 WHERE id = $1", src.ID, next); err != nil {
				return err
			}
			switch _, err := s.startRun(ctx, tx, src, "schedule"); {
			case errors.Is(err, ErrRunning): // the next period's run will do
				return nil
			case err != nil:
				return err
			}
			started++
			return nil
		})
		if err != nil {
			return started, fmt.Errorf("start due sources: %w", err)
		}
		if done {
			break
		}
	}
	return started, nil
}

// runningError asks the delete job to come back once the source's run
// has ended.
type runningError struct{}

func (runningError) Error() string             { return "a run of the source is still running" }
func (runningError) RetryAfter() time.Duration { return 2 * time.Second }
