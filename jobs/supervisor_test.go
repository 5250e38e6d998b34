package jobs

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/chunker"
	"github.com/ragd/ragd/extract"
	"github.com/ragd/ragd/ingest"
	"github.com/ragd/ragd/postgres/pgtest"
	"github.com/ragd/ragd/secret"
)

type supervisorBundle struct {
	pool  *pgxpool.Pool
	sup   *supervisor
	queue *Queue // insert-only: the supervisor is driven by hand
}

func setupSupervisor(t *testing.T, workers int) *supervisorBundle {
	t.Helper()
	pool := pgtest.NewPool(t)
	q, err := New(pool, Config{})
	if err != nil {
		t.Fatal(err)
	}
	sup := &supervisor{pool: pool, id: newClientID(), workers: workers, log: slog.New(slog.DiscardHandler),
		// The dead processes' heartbeats are a minute old or more; the
		// live one's stays alive through any stall of a busy machine.
		t: SupervisorTimings{DeadAfter: 30 * time.Second, Ahead: 1}.withDefaults()}
	if err := sup.register(t.Context()); err != nil {
		t.Fatal(err)
	}
	return &supervisorBundle{pool: pool, sup: sup, queue: q}
}

// enqueue inserts n ingest jobs for tenant, as an upload does.
func (b *supervisorBundle) enqueue(t *testing.T, tenant uuid.UUID, n int) []int64 {
	t.Helper()
	var ids []int64
	for range n {
		err := pgx.BeginFunc(t.Context(), b.pool, func(tx pgx.Tx) error {
			return b.queue.EnqueueIngest(t.Context(), tx, ingest.Document{TenantID: tenant, ID: uuid.New(), ContentVersion: 1})
		})
		if err != nil {
			t.Fatal(err)
		}
		b.queue.Enqueued(t.Context()) // as ingest.Documents does after its commit
		var id int64
		if err := b.pool.QueryRow(t.Context(), "SELECT max(id) FROM river_job").Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// work plays the workers: it takes every available job, in River's order,
// and completes it; it returns the tenants of the jobs taken.
func (b *supervisorBundle) work(t *testing.T) []uuid.UUID {
	t.Helper()
	rows, err := b.pool.Query(t.Context(), `UPDATE river_job SET state = 'completed', finalized_at = now()
		WHERE id IN (SELECT id FROM river_job WHERE state = 'available' ORDER BY priority, scheduled_at, id)
		RETURNING id, (args->>'tenant_id')::uuid`)
	if err != nil {
		t.Fatal(err)
	}
	type taken struct {
		id     int64
		tenant uuid.UUID
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (taken, error) {
		var x taken
		err := r.Scan(&x.id, &x.tenant)
		return x, err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(list, func(a, b taken) int { return int(a.id - b.id) })
	out := make([]uuid.UUID, len(list))
	for i, x := range list {
		out[i] = x.tenant
	}
	return out
}

func (b *supervisorBundle) states(t *testing.T, state string) int {
	t.Helper()
	var n int
	if err := b.pool.QueryRow(t.Context(), "SELECT count(*) FROM river_job WHERE state = $1", state).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDispatch(t *testing.T) {
	t.Parallel()

	t.Run("KeepsAsManyAvailableAsLiveWorkers", func(t *testing.T) {
		t.Parallel()
		b := setupSupervisor(t, 3)
		b.enqueue(t, uuid.New(), 10)
		if n := b.states(t, "pending"); n != 10 {
			t.Fatalf("%d pending after upload, want all 10 (an upload's job waits for its turn)", n)
		}
		b.sup.dispatch(t.Context())
		b.sup.dispatch(t.Context())
		if n := b.states(t, "available"); n != 3 {
			t.Fatalf("%d available for 3 live workers", n)
		}
	})

	t.Run("KeepsAheadPerWorker", func(t *testing.T) {
		t.Parallel()
		b := setupSupervisor(t, 3)
		b.sup.t.Ahead = 4
		b.enqueue(t, uuid.New(), 20)
		b.sup.dispatch(t.Context())
		if n := b.states(t, "available"); n != 12 {
			t.Fatalf("%d available for 3 live workers, 4 ahead each: want 12", n)
		}
		// Another tenant's first upload goes ahead of the flood's share:
		// released at River priority 1, the flood's second and later at 2.
		b.work(t) // the workers take some
		small := uuid.New()
		b.enqueue(t, small, 1)
		b.sup.dispatch(t.Context())
		var pri int
		if err := b.pool.QueryRow(t.Context(), "SELECT priority FROM river_job WHERE state = 'available' AND args->>'tenant_id' = $1", small.String()).Scan(&pri); err != nil || pri != 1 {
			t.Fatalf("the small tenant's job: priority %d, %v; want 1", pri, err)
		}
		var later int
		if err := b.pool.QueryRow(t.Context(), "SELECT count(*) FROM river_job WHERE state = 'available' AND priority = 2").Scan(&later); err != nil || later == 0 {
			t.Fatalf("%d of the flood's jobs at priority 2, %v", later, err)
		}
	})

	// An upload wakes the dispatchers at its commit, not at their next
	// tick; a release wakes River's producers (their insert channel), not
	// their next poll.
	t.Run("EnqueueAndReleaseNotify", func(t *testing.T) {
		t.Parallel()
		b := setupSupervisor(t, 1)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		enqueued := make(chan struct{}, 1)
		done := make(chan struct{})
		go func() { defer close(done); b.sup.listen(ctx, enqueued) }()
		defer func() { cancel(); <-done }()
		river, err := b.pool.Acquire(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer river.Release()
		if _, err := river.Exec(t.Context(), `LISTEN "public.river_insert"`); err != nil {
			t.Fatal(err)
		}
		// The listener may not be up yet: enqueue until it hears one.
		deadline := time.After(30 * time.Second)
		for heard := false; !heard; {
			b.enqueue(t, uuid.New(), 1)
			select {
			case <-enqueued:
				heard = true
			case <-time.After(200 * time.Millisecond):
			case <-deadline:
				t.Fatal("no dispatch notification after an enqueue")
			}
		}
		b.sup.dispatch(t.Context())
		wctx, wcancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer wcancel()
		n, err := river.Conn().WaitForNotification(wctx)
		if err != nil || n.Payload != `{"queue": "default"}` {
			t.Fatalf("River's insert notification after a release: %+v, %v", n, err)
		}
	})

	t.Run("RoundRobinAcrossTenants", func(t *testing.T) {
		t.Parallel()
		b := setupSupervisor(t, 2)
		flood, one, few := uuid.New(), uuid.New(), uuid.New()
		b.enqueue(t, flood, 12)
		b.enqueue(t, one, 1)
		b.enqueue(t, few, 3)
		var order []uuid.UUID
		for b.states(t, "pending") > 0 {
			b.sup.dispatch(t.Context())
			order = append(order, b.work(t)...)
		}
		if len(order) != 16 {
			t.Fatalf("%d jobs worked, want 16", len(order))
		}
		// Two at a time, the tenant with the fewest jobs in flight first,
		// the older job on a tie: the single upload goes in the first
		// round, then the three alternate with the flood.
		want := []uuid.UUID{flood, one, flood, few, flood, few, flood, few}
		for range 8 {
			want = append(want, flood)
		}
		if !slices.Equal(order, want) {
			t.Errorf("order of release:\n got %v\nwant %v", order, want)
		}
	})

	t.Run("OnlyLiveWorkersCount", func(t *testing.T) {
		t.Parallel()
		b := setupSupervisor(t, 1)
		if _, err := b.pool.Exec(t.Context(), `INSERT INTO ragd_workers (client_id, hostname, pid, workers, heartbeat_at)
			VALUES ('dead', 'h', 1, 50, now() - interval '1 hour')`); err != nil {
			t.Fatal(err)
		}
		b.enqueue(t, uuid.New(), 5)
		b.sup.dispatch(t.Context())
		if n := b.states(t, "available"); n != 1 {
			t.Fatalf("%d available: a dead process's workers were counted", n)
		}
	})
}

func TestRescue(t *testing.T) {
	t.Parallel()
	b := setupSupervisor(t, 2)
	ctx := t.Context()
	tok, err := chunker.NewCL100K()
	if err != nil {
		t.Fatal(err)
	}
	docs := ingest.NewDocuments(b.pool, agents.NewControlPlane(b.pool, nil, b.queue), b.queue)
	pipeline, err := ingest.NewPipeline(docs, tok, ingest.PipelineConfig{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pipeline.Close)
	b.sup.failed = markFailedFunc(pipeline)
	box, _ := secret.NewBox(secret.NewKey())
	tenant, err := agents.NewControlPlane(b.pool, box, nil).CreateTenant(ctx, agents.TenantPatch{Name: ragd.Some("T")})
	if err != nil {
		t.Fatal(err)
	}
	upload := func() ingest.Document {
		c, err := docs.Create(ctx, tenant.ID, ingest.Upload{Content: ingest.BytesContent([]byte(uuid.NewString())), Type: extract.TypeText}, ingest.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return c.Document
	}
	deadDoc, lastDoc, liveDoc := upload(), upload(), upload()
	// Three jobs running: two under a process that died a minute ago (one
	// of them at its last attempt), one under this live process.
	run := func(d ingest.Document, by string, attempt int) {
		_, err := b.pool.Exec(ctx, `UPDATE river_job SET state = 'running', attempt = $2, max_attempts = 5,
			attempted_at = now() - interval '1 minute', attempted_by = ARRAY[$3::text]
			WHERE args->>'document_id' = $1`, d.ID.String(), attempt, by)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.pool.Exec(ctx, "UPDATE documents SET status = 'processing' WHERE id = $1", d.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.pool.Exec(ctx, `INSERT INTO ragd_workers (client_id, hostname, pid, workers, heartbeat_at)
		VALUES ('dead-process', 'h', 1, 2, now() - interval '1 minute')`); err != nil {
		t.Fatal(err)
	}
	run(deadDoc, "dead-process", 1)
	run(lastDoc, "never-registered", 5)
	run(liveDoc, b.sup.id, 1)

	// The live process beats now: the set-up above (the tokenizer's load
	// under the race detector, on a busy machine) can take longer than
	// DeadAfter since it registered, and the test has no heartbeat loop.
	if err := b.sup.register(ctx); err != nil {
		t.Fatal(err)
	}
	b.sup.rescue(ctx)

	state := func(d ingest.Document) (string, int) {
		var s string
		var nerr int
		if err := b.pool.QueryRow(ctx, "SELECT state::text, coalesce(array_length(errors, 1), 0) FROM river_job WHERE args->>'document_id' = $1",
			d.ID.String()).Scan(&s, &nerr); err != nil {
			t.Fatal(err)
		}
		return s, nerr
	}
	if s, n := state(deadDoc); s != "available" || n != 1 {
		t.Errorf("dead process's job: %s with %d errors, want available with the rescue noted", s, n)
	}
	if s, _ := state(lastDoc); s != "discarded" {
		t.Errorf("last attempt of a dead process's job: %s, want discarded", s)
	}
	if d, _ := docs.Get(ctx, tenant.ID, lastDoc.ID); d.Status != ingest.StatusFailed || d.Error == nil {
		t.Errorf("document of a discarded job: %s, want failed with a reason", d.Status)
	}
	if s, _ := state(liveDoc); s != "running" {
		t.Errorf("live process's job: %s, want running (untouched)", s)
	}
	var rows int
	if err := b.pool.QueryRow(ctx, "SELECT count(*) FROM ragd_workers WHERE client_id = $1", b.sup.id).Scan(&rows); err != nil || rows != 1 {
		t.Fatalf("own heartbeat row: %d, %v", rows, err)
	}
	// A ready document's job rescued at its last attempt stays ready.
	readyDoc := upload()
	run(readyDoc, "dead-process", 5)
	if _, err := b.pool.Exec(ctx, "UPDATE documents SET status = 'ready' WHERE id = $1", readyDoc.ID); err != nil {
		t.Fatal(err)
	}
	b.sup.rescue(ctx)
	if d, _ := docs.Get(ctx, tenant.ID, readyDoc.ID); d.Status != ingest.StatusReady {
		t.Errorf("a ready document became %s when its job was discarded", d.Status)
	}
}
