package spaces

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ragd/ragd/embedder"
	"github.com/ragd/ragd/search"
)

// What the ingest pipeline asks of a tenant's spaces: where a document
// version's points go (a Write), and where a document's or a tenant's
// points are to be removed from. None of it depends on the states of a
// migration, which stay this package's.

// Write is one run's writing of a document version's points: into the
// index of every space the tenant's documents go to (the space its
// searches use and, while a migration is live, the migration's other),
// checked in the transaction that makes the version searchable.
type Write struct {
	s        *Service
	tenantID uuid.UUID
	written  []search.Space // the indexes the run wrote, or began to
	required []search.Space // set by Confirm: those the tenant's documents go to
}

// NewWrite begins a run's writing for a document of tenantID.
func (s *Service) NewWrite(tenantID uuid.UUID) *Write { return &Write{s: s, tenantID: tenantID} }

// Indexes returns the indexes the tenant's documents go to now: its
// search space's first, then, during a migration, the other one's.
func (w *Write) Indexes(ctx context.Context) ([]search.Index, error) {
	return w.s.WriteIndexes(ctx, w.tenantID)
}

// Writing records that the run writes (or begins to write) sp's index,
// before it does: a failure then leaves no points that the run's clean-up
// (Written) does not reach.
func (w *Write) Writing(sp search.Space) { w.written = append(w.written, sp) }

// Wrote reports whether the run wrote sp's index already.
func (w *Write) Wrote(sp search.Space) bool { return slices.Contains(w.written, sp) }

// Written returns the spaces whose indexes the run wrote.
func (w *Write) Written() []search.Space { return w.written }

// Required returns, after Confirm, the spaces the tenant's documents go
// to.
func (w *Write) Required() []search.Space { return w.required }

// Hold takes the tenant's shared space lock in tx, the transaction that
// marks the version ready: first, before the document's row, since a
// cut-over takes this lock and then the tenant's row, which a deletion of
// the tenant locks before the documents' rows; the other order can
// deadlock.
func (w *Write) Hold(ctx context.Context, tx pgx.Tx) error {
	return lockSpaces(ctx, tx, w.tenantID, false)
}

// ErrChanged: the tenant's documents now go to an index the run did not
// write; write that one too, and try again.
var ErrChanged = errors.New("the tenant's embedding spaces changed during the run")

// Confirm checks, in the transaction Hold locked after the version's row
// is locked, that the run wrote every index the tenant's documents go to
// (ErrChanged, with nothing recorded, otherwise), and records the version
// as in a building migration's target.
func (w *Write) Confirm(ctx context.Context, tx pgx.Tx, docID uuid.UUID, version int) error {
	t, err := w.s.readTenantSpaces(ctx, tx, w.tenantID)
	if err != nil {
		return err
	}
	w.required = []search.Space{t.search.Or(w.s.def())}
	if o, ok := t.other(); ok {
		w.required = append(w.required, o)
	}
	for _, sp := range w.required {
		if !w.Wrote(sp) {
			return ErrChanged
		}
	}
	if t.live != nil && t.live.State == Building {
		return recordMigrated(ctx, tx, t.live.ID, docID, version)
	}
	return nil
}

// OtherRefused is told that sp, the space of a live migration that
// search does not use, refused the version's text for good: that is the
// migration's end, not the document's (the space search uses refusing is
// the document's failure). The migration fails (building) or completes
// early (active); changed says that the tenant's spaces changed, so that
// the run goes on with those Indexes returns.
func (w *Write) OtherRefused(ctx context.Context, sp search.Space, e *embedder.Error) (changed bool, err error) {
	return w.s.otherRefused(ctx, w.tenantID, sp, e)
}

// DropUnused removes, after the version became searchable, its points from
// the indexes the run wrote that the tenant's documents no longer go to (a
// migration ended while the run worked; its removal of the tenant's points
// may have come first), under the tenant's exclusive space lock, unless a
// newer migration made the space one they go to again. Failures are
// logged: the points are those of a space nothing searches.
func (w *Write) DropUnused(ctx context.Context, docID uuid.UUID) {
	for _, sp := range w.written {
		if slices.Contains(w.required, sp) {
			continue
		}
		idx, err := w.s.indexes.Get(ctx, sp)
		if err == nil {
			err = w.s.withSpaceUnused(ctx, w.tenantID, sp, func(ctx context.Context) error {
				return idx.Store.DeleteDocument(ctx, w.tenantID, docID, search.AllVersions)
			})
		}
		if err != nil {
			w.s.log.WarnContext(ctx, "remove points from an index the tenant left", "err", err, "tenant_id", w.tenantID,
				"document_id", docID, "space", sp.String())
		}
	}
}

// WriteIndexes returns the indexes tenantID's documents go to: its search
// space's first, then, during a migration, the other one's.
func (s *Service) WriteIndexes(ctx context.Context, tenantID uuid.UUID) ([]search.Index, error) {
	t, err := s.readTenantSpaces(ctx, s.pool, tenantID)
	if err != nil {
		return nil, err
	}
	spaces := []search.Space{t.search}
	if o, ok := t.other(); ok {
		spaces = append(spaces, o)
	}
	idxs := make([]search.Index, 0, len(spaces))
	for _, sp := range spaces {
		idx, err := s.indexes.Get(ctx, sp)
		if err != nil {
			return nil, fmt.Errorf("open the index of %s: %w", sp.Or(s.def()), err)
		}
		idxs = append(idxs, idx)
	}
	return idxs, nil
}

// DeleteDocument removes the points of docID's versions v from the indexes
// the tenant's documents go to and from those of extra.
func (s *Service) DeleteDocument(ctx context.Context, tenantID, docID uuid.UUID, v search.Versions, extra []search.Space) error {
	idxs, err := s.WriteIndexes(ctx, tenantID)
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
		idx, err := s.indexes.Get(ctx, sp)
		if err != nil {
			return err
		}
		if err := idx.Store.DeleteDocument(ctx, tenantID, docID, v); err != nil {
			return err
		}
	}
	return nil
}

// PurgeTenant removes a deleted tenant's points from every index.
func (s *Service) PurgeTenant(ctx context.Context, tenantID uuid.UUID) error {
	spaces, err := s.allSpaces(ctx)
	if err != nil {
		return err
	}
	if err := s.indexes.Default().Store.DeleteTenant(ctx, tenantID); err != nil {
		return err
	}
	for _, sp := range spaces {
		idx, err := s.indexes.Get(ctx, sp)
		if errors.Is(err, search.ErrUnknownSpace) {
			s.log.WarnContext(ctx, "cannot open an embedding space to purge a tenant from it", "space", sp.String(), "tenant_id", tenantID, "err", err)
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
