package jobs_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ragd/ragd/extract"
	"github.com/ragd/ragd/ingest"
	"github.com/ragd/ragd/postgres/pgtest"
	"github.com/ragd/ragd/secret"
	"github.com/ragd/ragd/server"
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
	tenant := newTenant(t, pool)
	box, _ := secret.NewBox(secret.NewKey())
	got := make(chan string, 10)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- string(body)
	}))
	t.Cleanup(rcv.Close)

	// The process that changes the document: it enqueues, works nothing.
	api := wired(t, pool, server.Config{Box: box, Webhooks: webhooks.Config{AllowPrivate: true}})
	if _, _, err := api.Webhooks.Create(ctx, tenant.ID, webhooks.Input{URL: rcv.URL, EventTypes: []string{ingest.EventDocumentDeleted}}); err != nil {
		t.Fatal(err)
	}
	c, err := api.Documents.Create(ctx, tenant.ID, ingest.Upload{Filename: "a.txt", Content: ingest.BytesContent([]byte("text")), Type: extract.TypeText}, ingest.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.Documents.Delete(ctx, tenant.ID, c.Document.ID); err != nil {
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
	worker := wired(t, pool, server.Config{Box: box, Webhooks: webhooks.Config{AllowPrivate: true}, Workers: 2, FetchPollInterval: 50 * time.Millisecond})
	if err := worker.Start(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-got:
		if !strings.Contains(b, `"type":"document.deleted"`) || !strings.Contains(b, c.Document.ID.String()) {
			t.Fatalf("delivered %s", b)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the later worker did not deliver the event")
	}
}
