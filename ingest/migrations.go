package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/search"
)

// The states of an embedding migration (see postgres migration 0019).
const (
	MigrationBuilding   = "building"
	MigrationActive     = "active"
	MigrationCompleted  = "completed"
	MigrationCancelled  = "cancelled"
	MigrationRolledBack = "rolled_back"
	MigrationFailed     = "failed"
)

// Migration moves a tenant's documents from one embedding space to
// another without a moment where search is empty or mixes the two.
type Migration struct {
	ID             uuid.UUID
	TenantID       uuid.UUID
	From, To       search.Space
	State          string
	RollbackWindow time.Duration
	Estimate       MigrationEstimate
	// Progress of the job's pass over the documents.
	DoneDocuments, DoneChunks int
	EmbeddingTokens           int64
	CacheHits                 int
	Error                     *string
	CreatedBy                 string
	CreatedAt, UpdatedAt      time.Time
	CutOverAt, RetireAfter    *time.Time
	FinishedAt                *time.Time

	cursor  *uuid.UUID
	scanned bool
}

// underWay is the conflict a second migration of the tenant meets.
func (m Migration) underWay() error {
	return &ragd.ConflictError{Field: "migration", Message: fmt.Sprintf("migration %s of this tenant is %s; cancel, roll it back or complete it first", m.ID, m.State)}
}

// Live reports whether the migration is under way (building or active).
func (m Migration) Live() bool { return m.State == MigrationBuilding || m.State == MigrationActive }

// MigrationEstimate is what re-embedding a tenant's searchable documents
// takes: an upper bound, since texts the tenant already embedded with the
// target model are answered by the cache.
type MigrationEstimate struct {
	Documents, Chunks int
	Tokens            int64
	// CostUSD is Tokens at the model's price (nil: no price known).
	CostUSD *float64
}

// MigrationQueue enqueues a migration's jobs in the transaction that
// changes its state.
type MigrationQueue interface {
	// EnqueueBuild queues the job that embeds the documents into the
	// target and cuts over.
	EnqueueBuild(ctx context.Context, tx pgx.Tx, m Migration) error
	// EnqueueSettle queues the job that does what the state asks once it
	// changed (removes a space's points, completes an active migration),
	// at at (zero: now).
	EnqueueSettle(ctx context.Context, tx pgx.Tx, m Migration, at time.Time) error
}

const migrationColumns = `id, tenant_id, from_model, from_dimensions, to_model, to_dimensions, state, rollback_window,
	estimated_documents, estimated_chunks, estimated_tokens, estimated_cost_usd, cursor, scanned,
	done_documents, done_chunks, embedding_tokens, cache_hits, error, created_by, created_at, updated_at,
	cut_over_at, retire_after, finished_at`

func scanMigration(r pgx.Row) (Migration, error) {
	var m Migration
	err := r.Scan(&m.ID, &m.TenantID, &m.From.Model, &m.From.Dimensions, &m.To.Model, &m.To.Dimensions, &m.State, &m.RollbackWindow,
		&m.Estimate.Documents, &m.Estimate.Chunks, &m.Estimate.Tokens, &m.Estimate.CostUSD, &m.cursor, &m.scanned,
		&m.DoneDocuments, &m.DoneChunks, &m.EmbeddingTokens, &m.CacheHits, &m.Error, &m.CreatedBy, &m.CreatedAt, &m.UpdatedAt,
		&m.CutOverAt, &m.RetireAfter, &m.FinishedAt)
	return m, err
}

// lockSpaces takes the tenant's embedding-space lock for the transaction:
// shared by a version being marked ready (it checks it wrote every space
// the tenant's documents go to), exclusive by every change of those spaces
// (a migration starting, cutting over, ending). So a version is ready only
// with points in every space the tenant's search may use until the next
// change, and a change sees every version made ready before it.
func lockSpaces(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, exclusive bool) error {
	fn := "pg_advisory_xact_lock_shared"
	if exclusive {
		fn = "pg_advisory_xact_lock"
	}
	_, err := tx.Exec(ctx, "SELECT "+fn+"(hashtextextended('ragd.embedding_spaces:' || $1::text, 0))", tenantID)
	if err != nil {
		return fmt.Errorf("lock embedding spaces: %w", err)
	}
	return nil
}

// tenantSpaces is where a tenant's documents are indexed: the space its
// searches use (zero: the default) and, while a migration is live, the
// migration and its other space.
type tenantSpaces struct {
	search search.Space
	live   *Migration
	gone   bool // the tenant was deleted
}

// other is the live migration's space that search does not use.
func (t tenantSpaces) other() (search.Space, bool) {
	switch {
	case t.live == nil:
		return search.Space{}, false
	case t.live.State == MigrationBuilding:
		return t.live.To, true
	default:
		return t.live.From, true
	}
}

// uses reports whether the tenant's documents go to sp (def: the default).
func (t tenantSpaces) uses(sp, def search.Space) bool {
	o, ok := t.other()
	return t.search.Or(def) == sp || (ok && o == sp)
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// searchSpace reads the space tenantID's searches use (zero: the
// default); gone when the tenant does not exist.
func searchSpace(ctx context.Context, q querier, tenantID uuid.UUID) (sp search.Space, gone bool, err error) {
	var model *string
	var dims *int
	err = q.QueryRow(ctx, "SELECT embedding_model, embedding_dimensions FROM tenants WHERE id = $1", tenantID).Scan(&model, &dims)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return sp, true, nil
	case err != nil:
		return sp, false, fmt.Errorf("read the tenant's embedding space: %w", err)
	case model != nil && dims != nil:
		sp = search.Space{Model: *model, Dimensions: *dims}
	}
	return sp, false, nil
}

func readTenantSpaces(ctx context.Context, q querier, tenantID uuid.UUID) (tenantSpaces, error) {
	var t tenantSpaces
	var err error
	if t.search, t.gone, err = searchSpace(ctx, q, tenantID); err != nil || t.gone {
		return t, err // deleted: nothing of it is in use
	}
	m, err := scanMigration(q.QueryRow(ctx, "SELECT "+migrationColumns+` FROM embedding_migrations
		WHERE tenant_id = $1 AND state IN ('building', 'active')`, tenantID))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return t, fmt.Errorf("read the tenant's embedding migration: %w", err)
	default:
		t.live = &m
	}
	return t, nil
}

// SearchSpace implements search.Router: the space tenantID's searches use
// (zero: the default).
func (s *Documents) SearchSpace(ctx context.Context, tenantID uuid.UUID) (search.Space, error) {
	sp, _, err := searchSpace(ctx, s.pool, tenantID)
	return sp, err
}

// EstimateMigration says what re-embedding tenantID's searchable
// documents takes. Tokens count each chunk as it is embedded: its text's
// tokens, and about a token for every 4 bytes of the title and heading
// path put before it (IndexText).
func (s *Documents) EstimateMigration(ctx context.Context, tenantID uuid.UUID) (MigrationEstimate, error) {
	var e MigrationEstimate
	err := s.pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM documents WHERE tenant_id = $1 AND status <> 'deleting' AND indexed_version IS NOT NULL),
		count(c.*), coalesce(sum(c.token_count + (octet_length(d.title) + octet_length(array_to_string(c.heading_path, ' > ')) + 5) / 4), 0)
		FROM documents d JOIN chunks c ON c.document_id = d.id AND c.content_version = d.indexed_version
		WHERE d.tenant_id = $1 AND d.status <> 'deleting' AND d.indexed_version IS NOT NULL`, tenantID).Scan(&e.Documents, &e.Chunks, &e.Tokens)
	if err != nil {
		return e, fmt.Errorf("estimate the migration: %w", err)
	}
	return e, nil
}

// MigrationInput starts a migration.
type MigrationInput struct {
	From, To       search.Space
	RollbackWindow time.Duration
	Estimate       MigrationEstimate
	CreatedBy      string
}

// CreateMigration starts moving tenantID to in.To; a *ragd.ConflictError
// when a migration of the tenant is under way or in.From is no longer the
// tenant's space.
func (s *Documents) CreateMigration(ctx context.Context, tenantID uuid.UUID, in MigrationInput, q MigrationQueue) (Migration, error) {
	var m Migration
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockSpaces(ctx, tx, tenantID, true); err != nil {
			return err
		}
		cur, err := readTenantSpaces(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		if cur.live != nil {
			return cur.live.underWay()
		}
		var clearing bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM embedding_space_purges WHERE tenant_id = $1 AND model = $2 AND dimensions = $3
			AND started_at > now() - interval '2 hours')`, tenantID, in.To.Model, in.To.Dimensions).Scan(&clearing); err != nil {
			return fmt.Errorf("check removals: %w", err)
		}
		if clearing {
			return &ragd.ConflictError{Field: "model", Message: "the tenant's points in " + in.To.String() + " are still being removed after an earlier migration; try again in a minute"}
		}
		if !cur.search.IsZero() && cur.search != in.From {
			return &ragd.ConflictError{Field: "model", Message: "the tenant's embedding space changed meanwhile; try again"}
		}
		// Both: a rollback pins the tenant to From, which the server's
		// default may later stop being; purging a tenant reaches both.
		if _, err := tx.Exec(ctx, "INSERT INTO embedding_spaces (model, dimensions) VALUES ($1, $2), ($3, $4) ON CONFLICT DO NOTHING",
			in.To.Model, in.To.Dimensions, in.From.Model, in.From.Dimensions); err != nil {
			return fmt.Errorf("record the embedding space: %w", err)
		}
		m, err = scanMigration(tx.QueryRow(ctx, `INSERT INTO embedding_migrations (id, tenant_id, from_model, from_dimensions, to_model, to_dimensions,
			state, rollback_window, estimated_documents, estimated_chunks, estimated_tokens, estimated_cost_usd, created_by)
			VALUES ($1, $2, $3, $4, $5, $6, 'building', $7, $8, $9, $10, $11, $12) RETURNING `+migrationColumns,
			uuid.New(), tenantID, in.From.Model, in.From.Dimensions, in.To.Model, in.To.Dimensions, in.RollbackWindow,
			in.Estimate.Documents, in.Estimate.Chunks, in.Estimate.Tokens, in.Estimate.CostUSD, in.CreatedBy))
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23503" {
			return fmt.Errorf("create migration: %w", ragd.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("create migration: %w", err)
		}
		return q.EnqueueBuild(ctx, tx, m)
	})
	return m, err
}

// GetMigration returns one of tenantID's migrations.
func (s *Documents) GetMigration(ctx context.Context, tenantID, id uuid.UUID) (Migration, error) {
	m, err := scanMigration(s.pool.QueryRow(ctx, "SELECT "+migrationColumns+" FROM embedding_migrations WHERE tenant_id = $1 AND id = $2", tenantID, id))
	if err != nil {
		return m, notFound(err, "get migration")
	}
	return m, nil
}

// LiveMigration returns tenantID's migration under way (nil: none).
func (s *Documents) LiveMigration(ctx context.Context, tenantID uuid.UUID) (*Migration, error) {
	t, err := readTenantSpaces(ctx, s.pool, tenantID)
	return t.live, err
}

// CheckNoLiveMigration is the conflict CreateMigration would meet now
// because a migration of the tenant is under way (nil: none is).
func (s *Documents) CheckNoLiveMigration(ctx context.Context, tenantID uuid.UUID) error {
	m, err := s.LiveMigration(ctx, tenantID)
	if err != nil || m == nil {
		return err
	}
	return m.underWay()
}

// ListMigrations returns a page of tenantID's migrations, oldest first.
func (s *Documents) ListMigrations(ctx context.Context, tenantID uuid.UUID, p ragd.Page) ([]Migration, *ragd.Cursor, error) {
	limit := min(cmp.Or(p.Limit, ragd.DefaultPageLimit), ragd.MaxPageLimit)
	var at time.Time
	var after string
	if p.After != nil {
		at, after = p.After.Time, p.After.ID
	}
	rows, err := s.pool.Query(ctx, "SELECT "+migrationColumns+` FROM embedding_migrations
		WHERE tenant_id = $1 AND (created_at, id::text) > ($2, $3) ORDER BY created_at, id::text LIMIT $4`, tenantID, at, after, limit+1)
	if err != nil {
		return nil, nil, fmt.Errorf("list migrations: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Migration, error) { return scanMigration(r) })
	if err != nil {
		return nil, nil, fmt.Errorf("list migrations: %w", err)
	}
	list, next := ragd.TrimPage(list, limit, func(m Migration) ragd.Cursor { return ragd.Cursor{Time: m.CreatedAt, ID: m.ID.String()} })
	return list, next, nil
}

// The ways a person ends a migration.
const (
	EndCancel   = "cancel"   // building: stop, remove the target's points
	EndRollback = "rollback" // active: search goes back to the source
	EndComplete = "complete" // active: remove the source's points now
)

// EndMigration cancels, rolls back or completes a migration; a
// *ragd.ConflictError when its state does not allow it.
func (s *Documents) EndMigration(ctx context.Context, tenantID, id uuid.UUID, how string, q MigrationQueue) (Migration, error) {
	from, to := map[string]string{EndCancel: MigrationBuilding, EndRollback: MigrationActive, EndComplete: MigrationActive}[how],
		map[string]string{EndCancel: MigrationCancelled, EndRollback: MigrationRolledBack, EndComplete: MigrationCompleted}[how]
	if from == "" {
		return Migration{}, fmt.Errorf("end migration: unknown way %q", how)
	}
	return s.setMigrationState(ctx, tenantID, id, from, to, nil, q)
}

// setMigrationState moves a migration from state from to state to (with
// its error) and queues what the new state asks.
func (s *Documents) setMigrationState(ctx context.Context, tenantID, id uuid.UUID, from, to string, cause *string, q MigrationQueue) (Migration, error) {
	var m Migration
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockSpaces(ctx, tx, tenantID, true); err != nil {
			return err
		}
		cur, err := scanMigration(tx.QueryRow(ctx, "SELECT "+migrationColumns+" FROM embedding_migrations WHERE tenant_id = $1 AND id = $2 FOR UPDATE", tenantID, id))
		if err != nil {
			return notFound(err, "get migration")
		}
		if cur.State != from {
			return &ragd.ConflictError{Field: "state", Message: fmt.Sprintf("the migration is %s, not %s", cur.State, from)}
		}
		m, err = scanMigration(tx.QueryRow(ctx, `UPDATE embedding_migrations SET state = $2, error = coalesce($3, error),
			finished_at = now(), updated_at = now() WHERE id = $1 RETURNING `+migrationColumns, id, to, cause))
		if err != nil {
			return fmt.Errorf("update migration: %w", err)
		}
		if to == MigrationRolledBack {
			if _, err := tx.Exec(ctx, "UPDATE tenants SET embedding_model = $2, embedding_dimensions = $3, updated_at = now() WHERE id = $1",
				tenantID, m.From.Model, m.From.Dimensions); err != nil {
				return fmt.Errorf("switch the tenant back: %w", err)
			}
		}
		return q.EnqueueSettle(ctx, tx, m, time.Time{})
	})
	return m, err
}

// errNotComplete: documents became searchable that the target lacks.
var errNotComplete = errors.New("the target index lacks documents")

// cutOver switches the tenant's search to the target, if the target holds
// every searchable document at its searchable version.
func (s *Documents) cutOver(ctx context.Context, m Migration, q MigrationQueue) (Migration, error) {
	var out Migration
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockSpaces(ctx, tx, m.TenantID, true); err != nil {
			return err
		}
		var missing int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM documents d WHERE d.tenant_id = $1 AND d.status <> 'deleting' AND d.indexed_version IS NOT NULL
			AND NOT EXISTS (SELECT 1 FROM embedding_migration_documents e WHERE e.migration_id = $2 AND e.document_id = d.id AND e.content_version = d.indexed_version)`,
			m.TenantID, m.ID).Scan(&missing); err != nil {
			return fmt.Errorf("check the target: %w", err)
		}
		if missing > 0 {
			return errNotComplete
		}
		var err error
		out, err = scanMigration(tx.QueryRow(ctx, `UPDATE embedding_migrations SET state = 'active', cut_over_at = now(),
			retire_after = now() + rollback_window, updated_at = now() WHERE id = $1 AND state = 'building' RETURNING `+migrationColumns, m.ID))
		if errors.Is(err, pgx.ErrNoRows) {
			return errMigrationMoved
		}
		if err != nil {
			return fmt.Errorf("cut over: %w", err)
		}
		if _, err := tx.Exec(ctx, "UPDATE tenants SET embedding_model = $2, embedding_dimensions = $3, updated_at = now() WHERE id = $1",
			m.TenantID, m.To.Model, m.To.Dimensions); err != nil {
			return fmt.Errorf("cut over: %w", err)
		}
		return q.EnqueueSettle(ctx, tx, out, *out.RetireAfter)
	})
	return out, err
}

// errMigrationMoved: the migration left the state a step expected.
var errMigrationMoved = errors.New("the migration's state changed")

// migrationBatch returns up to limit of the tenant's searchable documents
// the job's pass has not reached (by id, after the cursor), or, once the
// pass is over, searchable documents the target lacks at their searchable
// version (made searchable while the pass ran by a run that did not embed
// for the target).
func (s *Documents) migrationBatch(ctx context.Context, m Migration, limit int) ([]Document, []int, error) {
	var rows pgx.Rows
	var err error
	if !m.scanned {
		rows, err = s.pool.Query(ctx, "SELECT "+docColumns+`, indexed_version FROM documents
			WHERE tenant_id = $1 AND status <> 'deleting' AND indexed_version IS NOT NULL AND ($2::uuid IS NULL OR id > $2)
			ORDER BY id LIMIT $3`, m.TenantID, m.cursor, limit)
	} else {
		rows, err = s.pool.Query(ctx, "SELECT "+docColumns+`, indexed_version FROM documents d
			WHERE tenant_id = $1 AND status <> 'deleting' AND indexed_version IS NOT NULL
			AND NOT EXISTS (SELECT 1 FROM embedding_migration_documents e WHERE e.migration_id = $2 AND e.document_id = d.id AND e.content_version = d.indexed_version)
			ORDER BY id LIMIT $3`, m.TenantID, m.ID, limit)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("list documents to migrate: %w", err)
	}
	defer rows.Close()
	var docs []Document
	var versions []int
	for rows.Next() {
		var v int
		d, err := scanDoc(rows, &v)
		if err != nil {
			return nil, nil, fmt.Errorf("list documents to migrate: %w", err)
		}
		docs, versions = append(docs, d), append(versions, v)
	}
	return docs, versions, rows.Err()
}

// migrated records that a document's version is in the target, with the
// job's progress; it fails with errMigrationMoved when the migration is no
// longer building.
func (s *Documents) migrated(ctx context.Context, m Migration, d Document, version int, st migrateStats, cursor *uuid.UUID, scanned bool) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE embedding_migrations SET done_documents = done_documents + $2, done_chunks = done_chunks + $3,
			embedding_tokens = embedding_tokens + $4, cache_hits = cache_hits + $5, cursor = coalesce($6, cursor), scanned = scanned OR $7,
			updated_at = now() WHERE id = $1 AND state = 'building'`, m.ID, st.documents, st.chunks, st.tokens, st.cacheHits, cursor, scanned)
		if err != nil {
			return fmt.Errorf("record migration progress: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return errMigrationMoved
		}
		if st.tokens > 0 {
			if err := addUsage(ctx, tx, m.TenantID, int(st.tokens), 0); err != nil {
				return err
			}
		}
		if d.ID == uuid.Nil {
			return nil
		}
		return recordMigrated(ctx, tx, m.ID, d.ID, version)
	})
}

func recordMigrated(ctx context.Context, tx pgx.Tx, migrationID, docID uuid.UUID, version int) error {
	_, err := tx.Exec(ctx, `INSERT INTO embedding_migration_documents (migration_id, document_id, content_version) VALUES ($1, $2, $3)
		ON CONFLICT (migration_id, document_id) DO UPDATE SET content_version = greatest(embedding_migration_documents.content_version, excluded.content_version)`,
		migrationID, docID, version)
	if err != nil {
		return fmt.Errorf("record the migrated document: %w", err)
	}
	return nil
}

// completeDue completes an active migration whose rollback window is over.
func (s *Documents) completeDue(ctx context.Context, m Migration, q MigrationQueue) (Migration, error) {
	out, err := s.setMigrationState(ctx, m.TenantID, m.ID, MigrationActive, MigrationCompleted, nil, q)
	var ce *ragd.ConflictError
	if errors.As(err, &ce) {
		return out, errMigrationMoved
	}
	return out, err
}

// failMigration ends a building migration whose target cannot be built.
func (s *Documents) failMigration(ctx context.Context, m Migration, cause string, q MigrationQueue) error {
	_, err := s.setMigrationState(ctx, m.TenantID, m.ID, MigrationBuilding, MigrationFailed, &cause, q)
	var ce *ragd.ConflictError
	if errors.As(err, &ce) {
		return nil // ended otherwise meanwhile
	}
	return err
}

// clearSpace removes the tenant's points from sp with purge, unless sp is
// one the tenant's documents go to (checked under the tenant's exclusive
// lock). The removal runs outside any transaction, behind a row in
// embedding_space_purges that keeps a migration to sp from starting
// until it is done: a removal of a large tenant's points holds no lock
// that the tenant's ingestion, or a pool connection, would wait on.
func (s *Documents) clearSpace(ctx context.Context, tenantID uuid.UUID, sp, def search.Space, purge func(ctx context.Context) error) error {
	unused, guard := false, uuid.New()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockSpaces(ctx, tx, tenantID, true); err != nil {
			return err
		}
		cur, err := readTenantSpaces(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		if cur.gone { // nothing can start for a deleted tenant
			unused = true
			return nil
		}
		if cur.uses(sp, def) {
			return nil
		}
		unused = true
		_, err = tx.Exec(ctx, "INSERT INTO embedding_space_purges (id, tenant_id, model, dimensions) VALUES ($1, $2, $3, $4)",
			guard, tenantID, sp.Model, sp.Dimensions)
		if err != nil {
			return fmt.Errorf("record the removal: %w", err)
		}
		return nil
	})
	if err != nil || !unused {
		return err
	}
	if err := purge(ctx); err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, "DELETE FROM embedding_space_purges WHERE id = $1", guard); err != nil {
		return fmt.Errorf("end the removal: %w", err)
	}
	return nil
}

// withSpaceUnused runs purge under the tenant's exclusive lock unless sp
// is one the tenant's documents go to: for a small removal (one
// document's points), which a migration to sp then waits for.
func (s *Documents) withSpaceUnused(ctx context.Context, tenantID uuid.UUID, sp, def search.Space, purge func(ctx context.Context) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockSpaces(ctx, tx, tenantID, true); err != nil {
			return err
		}
		cur, err := readTenantSpaces(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		if !cur.gone && cur.uses(sp, def) {
			return nil
		}
		return purge(ctx)
	})
}

// AllSpaces returns every space other than the default ever migrated to.
func (s *Documents) AllSpaces(ctx context.Context) ([]search.Space, error) {
	rows, err := s.pool.Query(ctx, "SELECT model, dimensions FROM embedding_spaces ORDER BY model, dimensions")
	if err != nil {
		return nil, fmt.Errorf("list embedding spaces: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (search.Space, error) {
		var sp search.Space
		err := r.Scan(&sp.Model, &sp.Dimensions)
		return sp, err
	})
}

// errSpacesChanged: the tenant's documents go to an index the run did not
// write.
var errSpacesChanged = errors.New("the tenant's embedding spaces changed during the run")

// spaceCheck is what an indexed run wrote, checked when it ends.
type spaceCheck struct {
	def      search.Space   // the server's default space
	written  []search.Space // the indexes the run wrote
	required []search.Space // set by verify: those the tenant's documents go to
}

// verify runs in the transaction that marks d's version ready, under the
// tenant's shared space lock (taken first, by finish).
func (c *spaceCheck) verify(ctx context.Context, tx pgx.Tx, d Document) error {
	t, err := readTenantSpaces(ctx, tx, d.TenantID)
	if err != nil {
		return err
	}
	c.required = []search.Space{t.search.Or(c.def)}
	if o, ok := t.other(); ok {
		c.required = append(c.required, o)
	}
	for _, sp := range c.required {
		if !slices.Contains(c.written, sp) {
			return errSpacesChanged
		}
	}
	if t.live != nil && t.live.State == MigrationBuilding {
		return recordMigrated(ctx, tx, t.live.ID, d.ID, d.ContentVersion)
	}
	return nil
}

// writeIndexes returns the indexes tenantID's documents go to: its search
// space's first, then, during a migration, the other one's.
func (p *Pipeline) writeIndexes(ctx context.Context, tenantID uuid.UUID) ([]search.Index, error) {
	t, err := readTenantSpaces(ctx, p.store.pool, tenantID)
	if err != nil {
		return nil, err
	}
	spaces := []search.Space{t.search}
	if o, ok := t.other(); ok {
		spaces = append(spaces, o)
	}
	idxs := make([]search.Index, 0, len(spaces))
	for _, sp := range spaces {
		idx, err := p.spaces.Get(ctx, sp)
		if err != nil {
			return nil, fmt.Errorf("open the index of %s: %w", sp.Or(p.spaces.Default().Space), err)
		}
		idxs = append(idxs, idx)
	}
	return idxs, nil
}

// deleteIn removes the points of docID's versions v from the indexes the
// tenant's documents go to and from extra.
func (p *Pipeline) deleteIn(ctx context.Context, tenantID, docID uuid.UUID, v search.Versions, extra []search.Space) error {
	if p.spaces == nil {
		return nil
	}
	idxs, err := p.writeIndexes(ctx, tenantID)
	if err != nil {
		return err
	}
	done := map[search.Space]bool{}
	for _, idx := range idxs {
		done[idx.Space] = true
		if err := idx.Store.DeleteDocument(ctx, tenantID, docID, v); err != nil {
			return err
		}
	}
	for _, sp := range extra {
		if done[sp] {
			continue
		}
		done[sp] = true
		idx, err := p.spaces.Get(ctx, sp)
		if err != nil {
			return err
		}
		if err := idx.Store.DeleteDocument(ctx, tenantID, docID, v); err != nil {
			return err
		}
	}
	return nil
}

// DeleteDocumentPoints removes every point of a document from the indexes
// its tenant's documents go to (the delete job's first step).
func (p *Pipeline) DeleteDocumentPoints(ctx context.Context, tenantID, docID uuid.UUID) error {
	return p.deleteIn(ctx, tenantID, docID, search.AllVersions, nil)
}

// PurgeTenantPoints removes a deleted tenant's points from every index.
func (p *Pipeline) PurgeTenantPoints(ctx context.Context, tenantID uuid.UUID) error {
	if p.spaces == nil {
		return nil
	}
	spaces, err := p.store.AllSpaces(ctx)
	if err != nil {
		return err
	}
	if err := p.spaces.Default().Store.DeleteTenant(ctx, tenantID); err != nil {
		return err
	}
	for _, sp := range spaces {
		idx, err := p.spaces.Get(ctx, sp)
		if errors.Is(err, search.ErrUnknownSpace) {
			p.log.WarnContext(ctx, "cannot open an embedding space to purge a tenant from it", "space", sp.String(), "tenant_id", tenantID, "err", err)
			continue
		}
		if err != nil {
			return err
		}
		if err := idx.Store.DeleteTenant(ctx, tenantID); err != nil {
			return err
		}
	}
	return nil
}
