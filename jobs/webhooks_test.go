package jobs_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ragd/ragd/chunker"
	"github.com/ragd/ragd/extract"
	"github.com/ragd/ragd/ingest"
	"github.com/ragd/ragd/jobs"
	"github.com/ragd/ragd/postgres/pgtest"
	"github.com/ragd/ragd/secret"
	"github.com/ragd/ragd/webhooks"
)

// TestWebhookSurvivesACrashBeforeDelivery: the process that deletes a
// document dies before any worker sends the event. The event, its
// delivery and its job were committed with the change, so a worker
// started later delivers it.
func TestWebhookSurvivesACrashBeforeDelivery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	log := slog.New(slog.DiscardHandler)
	tenant := newTenant(t, pool)
	box, _ := secret.NewBox(secret.NewKey())
	got := make(chan string, 10)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- string(body)
	}))
	t.Cleanup(rcv.Close)

	ins, err := jobs.NewInserter(pool, log)
	if err != nil {
		t.Fatal(err)
	}
	hooks := webhooks.NewService(pool, box, ins, webhooks.Config{AllowPrivate: true})
	if _, _, err := hooks.Create(ctx, tenant.ID, webhooks.Input{URL: rcv.URL, EventTypes: []string{ingest.EventDocumentDeleted}}); err != nil {
		t.Fatal(err)
	}
	store := ingest.NewDocuments(pool, ingest.WithEvents(hooks))
	// The process that changes the document: it enqueues, works nothing.
	api, err := jobs.New(pool, jobs.Config{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	c, err := store.Create(ctx, tenant.ID, ingest.Upload{Filename: "a.txt", Content: ingest.BytesContent([]byte("text")), Type: extract.TypeText}, ingest.CreateOptions{}, api)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Delete(ctx, tenant.ID, c.Document.ID, api); err != nil {
		t.Fatal(err)
	}
	// ... and dies here. What it committed:
	var events, pending, queued int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM webhook_events WHERE type = 'document.deleted' AND subject_id = $1),
		(SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'),
		(SELECT count(*) FROM river_job WHERE kind = 'deliver_webhook' AND state = 'available')`, c.Document.ID).Scan(&events, &pending, &queued); err != nil {
		t.Fatal(err)
	}
	if events != 1 || pending != 1 || queued != 1 {
		t.Fatalf("committed with the delete: %d events, %d pending deliveries, %d jobs; want 1 each", events, pending, queued)
	}
	select {
	case b := <-got:
		t.Fatalf("delivered with no worker running: %s", b)
	case <-time.After(200 * time.Millisecond):
	}

	// A worker starts later.
	tok, _ := chunker.NewCL100K()
	pipeline, err := ingest.NewPipeline(store, tok, ingest.PipelineConfig{}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pipeline.Close)
	worker, err := jobs.New(pool, jobs.Config{Logger: log, Workers: 2, Pipeline: pipeline, Store: store, Webhooks: hooks, FetchPollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := worker.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = worker.Stop(sctx)
	})
	select {
	case b := <-got:
		if !strings.Contains(b, `"type":"document.deleted"`) || !strings.Contains(b, c.Document.ID.String()) {
			t.Fatalf("delivered %s", b)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the later worker did not deliver the event")
	}
}
