package ingest

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/embedder"
	"github.com/ragd/ragd/search"
)

// migrateStats is progress to record.
type migrateStats struct {
	documents, chunks int
	tokens            int64
	cacheHits         int
}

// migrateBatch is how many documents the build job lists at a time; each
// is recorded as it is done, so a crash loses at most one document's work
// (and the embedding cache has kept what it paid for).
const migrateBatch = 32

// Migrate does a building migration's work: it embeds the tenant's
// searchable documents into the target space, in id order after the last
// one recorded, then those made searchable meanwhile by runs that did not
// embed for the target, and then cuts over, in the transaction that checks
// the target holds every searchable document at its searchable version.
// It returns nil once the migration is no longer building (cut over,
// ended, or failed for good: a permanent embedding error fails it); other
// errors are transient, and a retry resumes where it stopped.
func (p *Pipeline) Migrate(ctx context.Context, tenantID, id uuid.UUID, q MigrationQueue) error {
	if p.spaces == nil {
		return errors.New("migrate: no embedder and vector store configured")
	}
	m, err := p.store.GetMigration(ctx, tenantID, id)
	if errors.Is(err, ragd.ErrNotFound) || (err == nil && m.State != MigrationBuilding) {
		return nil
	}
	if err != nil {
		return err
	}
	idx, err := p.spaces.Get(ctx, m.To)
	if errors.Is(err, search.ErrUnknownSpace) {
		return p.store.failMigration(ctx, m, err.Error(), q)
	}
	if err != nil {
		return err
	}
	noStage := func(string, float64) error { return nil }
	for {
		docs, versions, err := p.store.migrationBatch(ctx, m, migrateBatch)
		if err != nil {
			return err
		}
		if len(docs) == 0 {
			if !m.scanned {
				if err := p.store.migrated(ctx, m, Document{}, 0, migrateStats{}, nil, true); err != nil {
					return ignoreMoved(err)
				}
				m.scanned = true
				continue
			}
			cut, err := p.store.cutOver(ctx, m, q)
			switch {
			case errors.Is(err, errNotComplete):
				continue // a document became searchable since the list
			case err != nil:
				return ignoreMoved(err)
			}
			p.log.InfoContext(ctx, "embedding migration cut over", "tenant_id", tenantID, "migration_id", id,
				"from", m.From.String(), "to", m.To.String(), "retire_after", cut.RetireAfter)
			return nil
		}
		for i, d := range docs {
			// The tenant pays for the new embeddings: its monthly token
			// quota bounds them as it bounds uploads'.
			if err := p.store.tokensLeft(ctx, tenantID); err != nil {
				if e, ok := AsError(err); ok {
					return p.store.failMigration(ctx, m, e.Message, q)
				}
				return err
			}
			d.ContentVersion = versions[i] // the searchable version, whose chunks are stored
			pieces, err := p.store.storedChunks(ctx, d)
			if err != nil {
				return err
			}
			var res result
			if err := p.embedAndWrite(ctx, idx, d, pieces, &res, noStage); err != nil {
				if e, ok := embedder.AsError(err); ok && e.Permanent() {
					p.log.WarnContext(ctx, "embedding migration failed", "tenant_id", tenantID, "migration_id", id, "err", err)
					return p.store.failMigration(ctx, m, e.Message, q)
				}
				// The tokens paid for are in the cache; the retry's
				// requests for them are answered there.
				return err
			}
			if err := p.dropOlder(ctx, d, []search.Space{m.To}); err != nil {
				return err
			}
			var cursor *uuid.UUID
			if !m.scanned {
				cursor = &docs[i].ID
			}
			st := migrateStats{documents: 1, chunks: len(pieces), tokens: int64(res.embedTokens), cacheHits: res.cacheHits}
			if err := p.store.migrated(ctx, m, d, versions[i], st, cursor, false); err != nil {
				if errors.Is(err, errMigrationMoved) {
					// Cancelled or failed while this document was written:
					// its removal of the target's points may have come
					// first, so remove them again (unless the target is
					// again in use).
					return p.store.clearSpace(ctx, tenantID, m.To, p.spaces.Default().Space, func(ctx context.Context) error {
						return idx.Store.DeleteTenant(ctx, tenantID)
					})
				}
				return err
			}
			if cursor != nil {
				m.cursor = cursor
			}
			// Deleted while it was embedded, its delete job may have
			// cleared the target before these points came; made
			// searchable at a newer version, that run may have removed
			// older versions' points before these came. Either way these
			// are no longer wanted.
			now, indexed, err := p.store.indexedVersion(ctx, d.TenantID, d.ID)
			switch {
			case errors.Is(err, ragd.ErrNotFound) || (err == nil && now.Status == StatusDeleting):
				err = idx.Store.DeleteDocument(ctx, d.TenantID, d.ID, search.AllVersions)
			case err == nil && indexed != versions[i]:
				err = idx.Store.DeleteDocument(ctx, d.TenantID, d.ID, search.Versions{Only: versions[i]})
			}
			if err != nil {
				return err
			}
		}
	}
}

// FailMigration fails a building migration whose job gave up (it ran out
// of attempts): search stays on the source, and the target's points go.
func (p *Pipeline) FailMigration(ctx context.Context, tenantID, id uuid.UUID, cause error, q MigrationQueue) error {
	m, err := p.store.GetMigration(ctx, tenantID, id)
	if errors.Is(err, ragd.ErrNotFound) || (err == nil && m.State != MigrationBuilding) {
		return nil
	}
	if err != nil {
		return err
	}
	return p.store.failMigration(ctx, m, "building failed repeatedly: "+cause.Error(), q)
}

func ignoreMoved(err error) error {
	if errors.Is(err, errMigrationMoved) {
		return nil
	}
	return err
}

// Settle does what a migration's state asks once the build job is done
// with it: an active one is completed when its rollback window is over
// (until then Settle returns the time to come back); a completed one has
// the source's points of the tenant removed; a cancelled, rolled back or
// failed one, the target's. Removing is skipped when the space is again
// one the tenant's documents go to (a later migration to it).
func (p *Pipeline) Settle(ctx context.Context, tenantID, id uuid.UUID, q MigrationQueue) (time.Time, error) {
	if p.spaces == nil {
		return time.Time{}, nil
	}
	m, err := p.store.GetMigration(ctx, tenantID, id)
	if errors.Is(err, ragd.ErrNotFound) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	var drop search.Space
	switch m.State {
	case MigrationBuilding:
		return time.Time{}, nil // the build job's
	case MigrationActive:
		if m.RetireAfter != nil && time.Now().Before(*m.RetireAfter) {
			return *m.RetireAfter, nil
		}
		_, err := p.store.completeDue(ctx, m, q) // queues the removal
		return time.Time{}, ignoreMoved(err)
	case MigrationCompleted:
		drop = m.From
	default:
		drop = m.To
	}
	idx, err := p.spaces.Get(ctx, drop)
	if errors.Is(err, search.ErrUnknownSpace) {
		p.log.WarnContext(ctx, "cannot open an embedding space to remove a tenant's points from it", "space", drop.String(), "tenant_id", tenantID, "err", err)
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	err = p.store.clearSpace(ctx, tenantID, drop, p.spaces.Default().Space, func(ctx context.Context) error {
		return idx.Store.DeleteTenant(ctx, tenantID)
	})
	if err == nil {
		p.log.InfoContext(ctx, "embedding migration settled", "tenant_id", tenantID, "migration_id", id, "state", m.State, "removed", drop.String())
	}
	return time.Time{}, err
}
