package spaces

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/postgres"
	"github.com/ragd/ragd/search"
	"github.com/ragd/ragd/usage"
)

// The SQL of the tables this package owns: embedding_migrations,
// embedding_migration_documents, embedding_spaces and
// embedding_space_purges. It also reads, never writes, the searchable
// version of the tenant's documents (documents.indexed_version), in the
// two places that ask which of them a migration's target lacks.

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
	if t.live == nil {
		return search.Space{}, false
	}
	return t.live.other(), true
}

// uses reports whether the tenant's documents go to sp (def: the default).
func (t tenantSpaces) uses(sp, def search.Space) bool {
	o, ok := t.other()
	return t.search.Or(def) == sp || (ok && o == sp)
}

// searchSpace reads the space tenantID's searches use (zero: the
// default); gone when the tenant does not exist.
func (s *Service) searchSpace(ctx context.Context, db postgres.DB, tenantID uuid.UUID) (sp search.Space, gone bool, err error) {
	es, err := s.tenants.TenantEmbeddingSpace(ctx, db, tenantID)
	switch {
	case errors.Is(err, ragd.ErrNotFound):
		return sp, true, nil
	case err != nil:
		return sp, false, err
	}
	return search.Space{Model: es.Model, Dimensions: es.Dimensions}, false, nil
}

func (s *Service) readTenantSpaces(ctx context.Context, db postgres.DB, tenantID uuid.UUID) (tenantSpaces, error) {
	var t tenantSpaces
	var err error
	if t.search, t.gone, err = s.searchSpace(ctx, db, tenantID); err != nil || t.gone {
		return t, err // deleted: nothing of it is in use
	}
	m, err := scanMigration(db.QueryRow(ctx, "SELECT "+migrationColumns+` FROM embedding_migrations
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

// lockTenantSpaces takes the tenant's exclusive space lock for the
// transaction and reads its spaces under it: what every change of them
// starts with.
func (s *Service) lockTenantSpaces(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID) (tenantSpaces, error) {
	if err := lockSpaces(ctx, tx, tenantID, true); err != nil {
		return tenantSpaces{}, err
	}
	return s.readTenantSpaces(ctx, tx, tenantID)
}

// insertMigration starts moving the tenant from from to to, under the
// tenant's exclusive space lock; a *ragd.ConflictError when a migration of
// the tenant is under way, the tenant's points in to are still being
// removed, or from is no longer the tenant's space.
func (s *Service) insertMigration(ctx context.Context, tenantID uuid.UUID, from, to search.Space, window time.Duration, est Estimate, by string) (Migration, error) {
	var m Migration
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		cur, err := s.lockTenantSpaces(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		if cur.live != nil {
			return cur.live.underWay()
		}
		var clearing bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM embedding_space_purges WHERE tenant_id = $1 AND model = $2 AND dimensions = $3
			AND started_at > now() - interval '2 hours')`, tenantID, to.Model, to.Dimensions).Scan(&clearing); err != nil {
			return fmt.Errorf("check removals: %w", err)
		}
		if clearing {
			return &ragd.ConflictError{Field: "model", Message: "the tenant's points in " + to.String() + " are still being removed after an earlier migration; try again in a minute"}
		}
		if !cur.search.IsZero() && cur.search != from {
			return &ragd.ConflictError{Field: "model", Message: "the tenant's embedding space changed meanwhile; try again"}
		}
		// Both: a rollback pins the tenant to from, which the server's
		// default may later stop being; purging a tenant reaches both.
		if _, err := tx.Exec(ctx, "INSERT INTO embedding_spaces (model, dimensions) VALUES ($1, $2), ($3, $4) ON CONFLICT DO NOTHING",
			to.Model, to.Dimensions, from.Model, from.Dimensions); err != nil {
			return fmt.Errorf("record the embedding space: %w", err)
		}
		m, err = scanMigration(tx.QueryRow(ctx, `INSERT INTO embedding_migrations (id, tenant_id, from_model, from_dimensions, to_model, to_dimensions,
			state, rollback_window, estimated_documents, estimated_chunks, estimated_tokens, estimated_cost_usd, created_by)
			VALUES ($1, $2, $3, $4, $5, $6, 'building', $7, $8, $9, $10, $11, $12) RETURNING `+migrationColumns,
			uuid.New(), tenantID, from.Model, from.Dimensions, to.Model, to.Dimensions, window,
			est.Documents, est.Chunks, est.Tokens, est.CostUSD, by))
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23503" {
			return fmt.Errorf("create migration: %w", ragd.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("create migration: %w", err)
		}
		return s.jobs.EnqueueBuild(ctx, tx, m)
	})
	return m, err
}

// Get returns one of tenantID's migrations.
func (s *Service) Get(ctx context.Context, tenantID, id uuid.UUID) (Migration, error) {
	m, err := scanMigration(s.pool.QueryRow(ctx, "SELECT "+migrationColumns+" FROM embedding_migrations WHERE tenant_id = $1 AND id = $2", tenantID, id))
	if err != nil {
		return m, postgres.NotFound(err, "get migration")
	}
	return m, nil
}

// Live returns tenantID's migration under way (nil: none).
func (s *Service) Live(ctx context.Context, tenantID uuid.UUID) (*Migration, error) {
	t, err := s.readTenantSpaces(ctx, s.pool, tenantID)
	return t.live, err
}

// List returns a page of tenantID's migrations, oldest first.
func (s *Service) List(ctx context.Context, tenantID uuid.UUID, p ragd.Page) ([]Migration, *ragd.Cursor, error) {
	limit := p.Size()
	at, after := p.Key(time.Time{})
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

// setState moves a migration from state from to state to (with its error)
// and queues what the new state asks, under the tenant's exclusive space
// lock; a *ragd.ConflictError when the migration is no longer in from.
func (s *Service) setState(ctx context.Context, tenantID, id uuid.UUID, from, to State, cause *string) (Migration, error) {
	if !from.CanBecome(to) {
		return Migration{}, fmt.Errorf("embedding migration: %s cannot become %s", from, to)
	}
	var m Migration
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockSpaces(ctx, tx, tenantID, true); err != nil {
			return err
		}
		cur, err := scanMigration(tx.QueryRow(ctx, "SELECT "+migrationColumns+" FROM embedding_migrations WHERE tenant_id = $1 AND id = $2 FOR UPDATE", tenantID, id))
		if err != nil {
			return postgres.NotFound(err, "get migration")
		}
		if cur.State != from {
			return &ragd.ConflictError{Field: "state", Message: fmt.Sprintf("the migration is %s, not %s", cur.State, from)}
		}
		m, err = scanMigration(tx.QueryRow(ctx, `UPDATE embedding_migrations SET state = $2, error = coalesce($3, error),
			finished_at = now(), updated_at = now() WHERE id = $1 RETURNING `+migrationColumns, id, to, cause))
		if err != nil {
			return fmt.Errorf("update migration: %w", err)
		}
		if to == RolledBack {
			if err := s.tenants.SetTenantEmbeddingSpace(ctx, tx, tenantID, agents.EmbeddingSpace(m.From)); err != nil {
				return fmt.Errorf("switch the tenant back: %w", err)
			}
		}
		return s.jobs.EnqueueSettle(ctx, tx, m, time.Time{})
	})
	return m, err
}

// ErrIncomplete: documents became searchable that the target lacks.
var ErrIncomplete = errors.New("the target index lacks documents")

// ErrMoved: the migration left the state a step expected.
var ErrMoved = errors.New("the migration's state changed")

// cutOver switches the tenant's search to the target, if the target holds
// every searchable document at its searchable version: ErrIncomplete
// otherwise, ErrMoved when the migration is no longer building.
func (s *Service) cutOver(ctx context.Context, m Migration) (Migration, error) {
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
			return ErrIncomplete
		}
		var err error
		out, err = scanMigration(tx.QueryRow(ctx, `UPDATE embedding_migrations SET state = 'active', cut_over_at = now(),
			retire_after = now() + rollback_window, updated_at = now() WHERE id = $1 AND state = 'building' RETURNING `+migrationColumns, m.ID))
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrMoved
		}
		if err != nil {
			return fmt.Errorf("cut over: %w", err)
		}
		if err := s.tenants.SetTenantEmbeddingSpace(ctx, tx, m.TenantID, agents.EmbeddingSpace(m.To)); err != nil {
			return fmt.Errorf("cut over: %w", err)
		}
		return s.jobs.EnqueueSettle(ctx, tx, out, *out.RetireAfter)
	})
	return out, err
}

// DocumentVersion is a document at its searchable version.
type DocumentVersion struct {
	ID      uuid.UUID
	Version int
}

// batch returns up to limit of the tenant's searchable documents the
// build's pass has not reached (by id, after the cursor), or, once the
// pass is over, searchable documents the target lacks at their searchable
// version (made searchable while the pass ran by a run that did not embed
// for the target).
func (s *Service) batch(ctx context.Context, m Migration, limit int) ([]DocumentVersion, error) {
	var rows pgx.Rows
	var err error
	if !m.scanned {
		rows, err = s.pool.Query(ctx, `SELECT id, indexed_version FROM documents
			WHERE tenant_id = $1 AND status <> 'deleting' AND indexed_version IS NOT NULL AND ($2::uuid IS NULL OR id > $2)
			ORDER BY id LIMIT $3`, m.TenantID, m.cursor, limit)
	} else {
		rows, err = s.pool.Query(ctx, `SELECT id, indexed_version FROM documents d
			WHERE tenant_id = $1 AND status <> 'deleting' AND indexed_version IS NOT NULL
			AND NOT EXISTS (SELECT 1 FROM embedding_migration_documents e WHERE e.migration_id = $2 AND e.document_id = d.id AND e.content_version = d.indexed_version)
			ORDER BY id LIMIT $3`, m.TenantID, m.ID, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("list documents to migrate: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (DocumentVersion, error) {
		var d DocumentVersion
		err := r.Scan(&d.ID, &d.Version)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("list documents to migrate: %w", err)
	}
	return out, nil
}

// Stats is a build's progress to record.
type Stats struct {
	Documents, Chunks int
	Tokens            int64
	CacheHits         int
}

// migrated records that a document's version is in the target (none for
// the zero DocumentVersion), with the build's progress and the tokens it
// spent (in the tenant's usage); it fails with ErrMoved when the migration
// is no longer building.
func (s *Service) migrated(ctx context.Context, m Migration, d DocumentVersion, st Stats, cursor *uuid.UUID, scanned bool) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE embedding_migrations SET done_documents = done_documents + $2, done_chunks = done_chunks + $3,
			embedding_tokens = embedding_tokens + $4, cache_hits = cache_hits + $5, cursor = coalesce($6, cursor), scanned = scanned OR $7,
			updated_at = now() WHERE id = $1 AND state = 'building'`, m.ID, st.Documents, st.Chunks, st.Tokens, st.CacheHits, cursor, scanned)
		if err != nil {
			return fmt.Errorf("record migration progress: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return ErrMoved
		}
		if err := usage.Record(ctx, tx, m.TenantID, int(st.Tokens), 0); err != nil {
			return err
		}
		if d.ID == uuid.Nil {
			return nil
		}
		return recordMigrated(ctx, tx, m.ID, d.ID, d.Version)
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

// clearSpace removes the tenant's points from sp with purge, unless sp is
// one the tenant's documents go to (checked under the tenant's exclusive
// lock). The removal runs outside any transaction, behind a row in
// embedding_space_purges that keeps a migration to sp from starting
// until it is done: a removal of a large tenant's points holds no lock
// that the tenant's ingestion, or a pool connection, would wait on.
func (s *Service) clearSpace(ctx context.Context, tenantID uuid.UUID, sp search.Space, purge func(ctx context.Context) error) error {
	unused, guard := false, uuid.New()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		cur, err := s.lockTenantSpaces(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		if cur.gone { // nothing can start for a deleted tenant
			unused = true
			return nil
		}
		if cur.uses(sp, s.def()) {
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
func (s *Service) withSpaceUnused(ctx context.Context, tenantID uuid.UUID, sp search.Space, purge func(ctx context.Context) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		cur, err := s.lockTenantSpaces(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		if !cur.gone && cur.uses(sp, s.def()) {
			return nil
		}
		return purge(ctx)
	})
}

// allSpaces returns every space other than the default ever migrated to.
func (s *Service) allSpaces(ctx context.Context) ([]search.Space, error) {
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
