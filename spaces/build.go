package spaces

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/search"
)

// Build is a building migration as its build job works on it: the job
// (the ingest pipeline's, which embeds documents) asks Next for the
// documents the target lacks, embeds each into Target, records it with
// Done, and cuts over when Next has none left.
type Build struct {
	s *Service
	m Migration
	// Target is the index of the space the tenant moves to.
	Target search.Index
}

// StartBuild returns the build of tenantID's migration id, or nil when
// there is nothing to build: the migration is gone, no longer building,
// or its target is a space this server cannot open (the migration is then
// failed).
func (s *Service) StartBuild(ctx context.Context, tenantID, id uuid.UUID) (*Build, error) {
	m, err := s.Get(ctx, tenantID, id)
	if errors.Is(err, ragd.ErrNotFound) || (err == nil && m.State != Building) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	idx, err := s.indexes.Get(ctx, m.To)
	if errors.Is(err, search.ErrUnknownSpace) {
		return nil, s.fail(ctx, m, err.Error())
	}
	if err != nil {
		return nil, err
	}
	return &Build{s: s, m: m, Target: idx}, nil
}

// Migration is the migration being built.
func (b *Build) Migration() Migration { return b.m }

// Next returns up to limit searchable documents, at their searchable
// version, that the target lacks: the tenant's in id order after the last
// one recorded, then, once that pass is over, those made searchable
// meanwhile by runs that did not write the target. None: cut over. It
// fails with ErrMoved once the migration is no longer building.
func (b *Build) Next(ctx context.Context, limit int) ([]DocumentVersion, error) {
	for {
		docs, err := b.s.batch(ctx, b.m, limit)
		if err != nil || len(docs) > 0 || b.m.scanned {
			return docs, err
		}
		if err := b.s.migrated(ctx, b.m, DocumentVersion{}, Stats{}, nil, true); err != nil {
			return nil, err
		}
		b.m.scanned = true
	}
}

// Done records that d is in the target, with what embedding it took (the
// tokens count in the tenant's usage). It fails with ErrMoved when the
// migration is no longer building: cancelled or failed while d was
// written, its removal of the target's points may have come first; call
// ClearTarget.
func (b *Build) Done(ctx context.Context, d DocumentVersion, st Stats) error {
	var cursor *uuid.UUID
	if !b.m.scanned {
		cursor = &d.ID
	}
	if err := b.s.migrated(ctx, b.m, d, st, cursor, false); err != nil {
		return err
	}
	if cursor != nil {
		b.m.cursor = cursor
	}
	return nil
}

// ClearTarget removes the tenant's points from the target of a migration
// that ended while they were written, unless the target is in use again.
func (b *Build) ClearTarget(ctx context.Context) error {
	return b.s.clearSpace(ctx, b.m.TenantID, b.m.To, func(ctx context.Context) error {
		return b.Target.Store.DeleteTenant(ctx, b.m.TenantID)
	})
}

// CutOver switches the tenant's searches to the target in the
// transaction that checks it holds every searchable document at its
// searchable version: ErrIncomplete when a document became searchable
// since Next said none was left (ask Next again), ErrMoved when the
// migration is no longer building.
func (b *Build) CutOver(ctx context.Context) (Migration, error) { return b.s.cutOver(ctx, b.m) }

// Fail ends the migration as failed, with cause.
func (b *Build) Fail(ctx context.Context, cause string) error { return b.s.fail(ctx, b.m, cause) }
