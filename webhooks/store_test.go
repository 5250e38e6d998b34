package webhooks_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/ingest"
	"github.com/ragd/ragd/jobs"
	"github.com/ragd/ragd/postgres/pgtest"
	"github.com/ragd/ragd/secret"
	"github.com/ragd/ragd/webhooks"
)

// testBundle is a tenant with one endpoint, subscribed to document.ready.
type testBundle struct {
	pool   *pgxpool.Pool
	tenant uuid.UUID
	hooks  *webhooks.Service
}

func setup(t *testing.T, url string) testBundle {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	box, _ := secret.NewBox(secret.NewKey())
	tenant, err := agents.NewControlPlane(pool, box, nil).CreateTenant(ctx, agents.TenantPatch{Name: ragd.Some("T")})
	if err != nil {
		t.Fatal(err)
	}
	q, err := jobs.New(pool, jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	hooks := webhooks.NewService(pool, box, q, webhooks.Config{AllowPrivate: true})
	if _, _, err := hooks.Create(ctx, tenant.ID, webhooks.Input{URL: url, EventTypes: []string{ingest.EventDocumentReady}}); err != nil {
		t.Fatal(err)
	}
	return testBundle{pool: pool, tenant: tenant.ID, hooks: hooks}
}

// TestRecordIsPartOfTheChange: an event, its deliveries and their jobs
// are written in the caller's transaction, so they exist if and only if
// it commits; a type no endpoint asked for writes nothing.
func TestRecordIsPartOfTheChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, "http://127.0.0.1:9/")
	pool, hooks, tenantID := b.pool, b.hooks, b.tenant
	counts := func() (events, deliveries, queued int) {
		t.Helper()
		err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM webhook_events), (SELECT count(*) FROM webhook_deliveries),
			(SELECT count(*) FROM river_job WHERE kind = 'deliver_webhook')`).Scan(&events, &deliveries, &queued)
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	subject := uuid.New()
	rollback := errors.New("the change failed")
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if err := hooks.Record(ctx, tx, tenantID, ingest.EventDocumentReady, subject, map[string]any{"id": subject}); err != nil {
			return err
		}
		return rollback
	})
	if !errors.Is(err, rollback) {
		t.Fatal(err)
	}
	if e, d, q := counts(); e+d+q != 0 {
		t.Fatalf("after a rollback: %d events, %d deliveries, %d jobs", e, d, q)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if err := hooks.Record(ctx, tx, tenantID, ingest.EventDocumentFailed, subject, nil); err != nil {
			return err
		}
		return hooks.Record(ctx, tx, tenantID, ingest.EventDocumentReady, subject, map[string]any{"id": subject})
	})
	if err != nil {
		t.Fatal(err)
	}
	if e, d, q := counts(); e != 1 || d != 1 || q != 1 {
		t.Fatalf("after a commit: %d events, %d deliveries, %d jobs; want 1 each (none for the type nobody asked for)", e, d, q)
	}

	// Expiry keeps what is still to be sent, and removes the rest.
	later := time.Now().Add(time.Hour)
	if n, err := hooks.Expire(ctx, later); err != nil || n != 0 {
		t.Fatalf("expired %d events with a pending delivery (%v)", n, err)
	}
	if _, err := pool.Exec(ctx, "UPDATE webhook_deliveries SET status = 'delivered'"); err != nil {
		t.Fatal(err)
	}
	if n, err := hooks.Expire(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("expired %d recent events (%v)", n, err)
	}
	if n, err := hooks.Expire(ctx, later); err != nil || n != 1 {
		t.Fatalf("expired %d events, want 1 (%v)", n, err)
	}
	if e, d, _ := counts(); e != 0 || d != 0 {
		t.Fatalf("after expiry: %d events, %d deliveries", e, d)
	}
}

// TestDeliverAfterACrashMidAttempt: a worker that died while sending
// leaves its lease; once the lease runs out the delivery is sent again
// (at least once), and while it holds, no second worker sends it.
func TestDeliverAfterACrashMidAttempt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var hits atomic.Int32
	rcv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	t.Cleanup(rcv.Close)
	b := setup(t, rcv.URL)
	pool, hooks, tenantID := b.pool, b.hooks, b.tenant
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		return hooks.Record(ctx, tx, tenantID, ingest.EventDocumentReady, uuid.New(), map[string]any{})
	})
	if err != nil {
		t.Fatal(err)
	}
	var id uuid.UUID
	// The crashed worker's lease, still held.
	if err := pool.QueryRow(ctx, "UPDATE webhook_deliveries SET leased_until = now() + interval '1 minute' RETURNING id").Scan(&id); err != nil {
		t.Fatal(err)
	}
	wait, err := hooks.Deliver(ctx, tenantID, id, 1)
	if err != nil || wait <= 0 || hits.Load() != 0 {
		t.Fatalf("while leased: wait %s, err %v, %d requests; want a wait and none", wait, err, hits.Load())
	}
	if _, err := pool.Exec(ctx, "UPDATE webhook_deliveries SET leased_until = now() - interval '1 second'"); err != nil {
		t.Fatal(err)
	}
	wait, err = hooks.Deliver(ctx, tenantID, id, 1)
	if err != nil || wait != 0 || hits.Load() != 1 {
		t.Fatalf("after the lease: wait %s, err %v, %d requests; want it sent once", wait, err, hits.Load())
	}
	// A job of an older run, or delivered twice, sends nothing more.
	for _, gen := range []int{0, 1} {
		if wait, err := hooks.Deliver(ctx, tenantID, id, gen); err != nil || wait != 0 || hits.Load() != 1 {
			t.Fatalf("generation %d again: wait %s, err %v, %d requests", gen, wait, err, hits.Load())
		}
	}
}
