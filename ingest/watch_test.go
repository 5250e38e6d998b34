package ingest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/chunker"
	"github.com/ragd/ragd/extract"
	"github.com/ragd/ragd/postgres/pgtest"
)

// TestWatcher: an announcement reaches the subscribers of its document
// (and no one else's); an UPDATE of the row alone announces nothing
// (migration 0015: no trigger inside the writing transaction); and the
// a run delivered again for a version that ended announces it, which
// covers an announcement lost to a crash.
func TestWatcher(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	w := NewWatcher(pool, slog.New(slog.DiscardHandler))
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	<-w.Listening()

	id, other := uuid.New(), uuid.New()
	ch, unsubscribe := w.Subscribe(id)
	defer unsubscribe()
	otherCh, unsubscribeOther := w.Subscribe(other)
	defer unsubscribeOther()
	heard := func(ch <-chan struct{}, within time.Duration) bool {
		select {
		case <-ch:
			return true
		case <-time.After(within):
			return false
		}
	}
	store := NewDocuments(pool, agents.NewControlPlane(pool, nil, nil), nopJobs{})
	store.announce(ctx, id)
	if !heard(ch, 10*time.Second) {
		t.Fatal("the subscriber did not hear the announcement")
	}
	if heard(otherCh, 200*time.Millisecond) {
		t.Fatal("another document's subscriber heard it")
	}

	var tenant uuid.UUID
	if err := pool.QueryRow(ctx, "INSERT INTO tenants (id, name, slug) VALUES ($1, 'w', 'w') RETURNING id", uuid.New()).Scan(&tenant); err != nil {
		t.Fatal(err)
	}
	c, err := store.Create(ctx, tenant, Upload{Filename: "w.txt", Content: BytesContent([]byte("watched")), Type: extract.TypeText}, CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	unsubscribe()
	id = c.Document.ID
	ch, unsubscribe = w.Subscribe(id)
	heard(ch, time.Second) // Create's own announcement, if it comes after the subscription
	if _, err := pool.Exec(ctx, "UPDATE documents SET progress = 0.5 WHERE id = $1", id); err != nil {
		t.Fatal(err)
	}
	if heard(ch, 300*time.Millisecond) {
		t.Fatal("an UPDATE of the row notified by itself: the trigger inside the transaction is back")
	}
	if _, err := pool.Exec(ctx, "DELETE FROM documents WHERE id = $1", id); err != nil {
		t.Fatal(err)
	}
	if !heard(ch, 10*time.Second) {
		t.Fatal("a deleted row was not announced")
	}

	// A run delivered again for a version that ended announces it (the
	// first run's announcement may have died with its process).
	c, err = store.Create(ctx, tenant, Upload{Filename: "x.txt", Content: BytesContent([]byte("again")), Type: extract.TypeText}, CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := chunker.NewCL100K()
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPipeline(store, tok, PipelineConfig{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Process(ctx, tenant, c.Document.ID, 1); err != nil {
		t.Fatal(err)
	}
	again, unsubscribeAgain := w.Subscribe(c.Document.ID)
	defer unsubscribeAgain()
	heard(again, time.Second) // the run's own, if it comes after the subscription
	if err := p.Process(ctx, tenant, c.Document.ID, 1); err != nil {
		t.Fatal(err)
	}
	if !heard(again, 10*time.Second) {
		t.Fatal("a run delivered again for an ended version did not announce it")
	}
}

// nopJobs queues nothing: this test of the package's own runs no job
// (and cannot import package jobs, which imports it).
type nopJobs struct{}

func (nopJobs) EnqueueIngest(context.Context, pgx.Tx, Document) error { return nil }
func (nopJobs) EnqueueDelete(context.Context, pgx.Tx, Document) error { return nil }
func (nopJobs) Enqueued(context.Context)                              {}
func (nopJobs) EnqueueRebuild(context.Context, uuid.UUID) error       { return nil }
