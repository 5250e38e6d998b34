package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/embedder"
	"github.com/ragd/ragd/search"
	"github.com/ragd/ragd/spaces"
	"github.com/ragd/ragd/usage"
)

// buildBatch is how many documents the build job lists at a time; each
// is recorded as it is done, so a crash loses at most one document's work
// (and the embedding cache has kept what it paid for).
const buildBatch = 32

// BuildIndex does a building embedding migration's work (package spaces
// keeps its state): it embeds the tenant's searchable documents into the
// target space, in id order after the last one recorded, then those made
// searchable meanwhile by runs that did not embed for the target, and
// then cuts over, in the transaction that checks the target holds every
// searchable document at its searchable version. It returns nil once the
// migration is no longer building (cut over, ended, or failed for good: a
// permanent embedding error or the tenant's token quota fails it); other
// errors are transient, and a retry resumes where it stopped.
func (p *Pipeline) BuildIndex(ctx context.Context, tenantID, id uuid.UUID) error {
	if p.spaces == nil {
		return errors.New("build index: no embedder and vector store configured")
	}
	b, err := p.spaces.StartBuild(ctx, tenantID, id)
	if err != nil || b == nil {
		return err
	}
	idx, m := b.Target, b.Migration()
	noStage := func(string, float64) error { return nil }
	for {
		docs, err := b.Next(ctx, buildBatch)
		if err != nil {
			return ignoreMoved(err)
		}
		if len(docs) == 0 {
			cut, err := b.CutOver(ctx)
			switch {
			case errors.Is(err, spaces.ErrIncomplete):
				continue // a document became searchable since the list
			case err != nil:
				return ignoreMoved(err)
			}
			p.log.InfoContext(ctx, "embedding migration cut over", "tenant_id", tenantID, "migration_id", id,
				"from", m.From.String(), "to", m.To.String(), "retire_after", cut.RetireAfter)
			return nil
		}
		ids := make([]uuid.UUID, len(docs))
		for i, dv := range docs {
			ids[i] = dv.ID
		}
		byID, err := p.store.getMany(ctx, tenantID, ids)
		if err != nil {
			return err
		}
		for _, dv := range docs {
			// The tenant pays for the new embeddings: its monthly token
			// quota bounds them as it bounds uploads'.
			err := p.store.QueryTokensLeft(ctx, tenantID)
			var qe *ragd.QuotaError
			switch {
			case errors.As(err, &qe):
				return b.Fail(ctx, fmt.Sprintf("the tenant's embedding quota of %d tokens this month is used up; "+
					"start the migration again once the month's tokens reset (%s UTC) or the quota is raised: "+
					"what it embedded so far is kept in the embedding cache and is not paid for twice",
					qe.Limit, usage.MonthStart(time.Now()).AddDate(0, 1, 0).Format("2006-01-02")))
			case err != nil && !errors.Is(err, ragd.ErrNotFound): // not found: the tenant is gone
				return fmt.Errorf("read embedding quota: %w", err)
			}
			d, ok := byID[dv.ID]
			if !ok {
				continue // purged since the list; the cut-over's check knows
			}
			d.ContentVersion = dv.Version // the searchable version, whose chunks are stored
			pieces, err := p.store.storedChunks(ctx, d)
			if err != nil {
				return err
			}
			var res result
			if err := p.embedAndWrite(ctx, idx, d, pieces, &res, noStage); err != nil {
				if e, ok := embedder.AsError(err); ok && e.Permanent() {
					p.log.WarnContext(ctx, "embedding migration failed", "tenant_id", tenantID, "migration_id", id, "err", err)
					return b.Fail(ctx, e.Message)
				}
				// The tokens paid for are in the cache; the retry's
				// requests for them are answered there.
				return err
			}
			if err := p.dropOlder(ctx, d, []search.Space{m.To}); err != nil {
				return err
			}
			st := spaces.Stats{Documents: 1, Chunks: len(pieces), Tokens: int64(res.embedTokens), CacheHits: res.cacheHits}
			if err := b.Done(ctx, dv, st); err != nil {
				if errors.Is(err, spaces.ErrMoved) {
					// Cancelled or failed while this document was written:
					// its removal of the target's points may have come
					// first, so remove them again (unless the target is
					// again in use).
					return b.ClearTarget(ctx)
				}
				return err
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
			case err == nil && indexed != dv.Version:
				err = idx.Store.DeleteDocument(ctx, d.TenantID, d.ID, search.Versions{Only: dv.Version})
			}
			if err != nil {
				return err
			}
		}
	}
}

func ignoreMoved(err error) error {
	if errors.Is(err, spaces.ErrMoved) {
		return nil
	}
	return err
}
