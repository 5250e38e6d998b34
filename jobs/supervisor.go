package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
)

// Timings of the supervisor; zero fields take the defaults.
type SupervisorTimings struct {
	// Heartbeat: how often a working process writes its liveness row.
	// Default 2s.
	Heartbeat time.Duration
	// DeadAfter: a process whose row is older than this is dead and its
	// running jobs are rescued. Default 15s: seven missed beats, so a long
	// GC pause or a starved machine is not mistaken for a crash.
	DeadAfter time.Duration
	// Rescue: how often running jobs of dead processes are looked for.
	// Default 2s.
	Rescue time.Duration
	// Dispatch: how often waiting ingest jobs are released (also after
	// every job this process finishes, and when any process enqueues one).
	// Default 250ms.
	Dispatch time.Duration
	// Ahead: how many ingest jobs are kept available per live worker.
	// River fetches at most every 100 ms, so with one a worker idles
	// between a short job's end and the next fetch; a few more keep it
	// busy, and a tenant's next upload still waits behind at most
	// Ahead × workers jobs of others. Default 4.
	Ahead int
}

func (t SupervisorTimings) withDefaults() SupervisorTimings {
	if t.Heartbeat == 0 {
		t.Heartbeat = 2 * time.Second
	}
	if t.DeadAfter == 0 {
		t.DeadAfter = 15 * time.Second
	}
	if t.Rescue == 0 {
		t.Rescue = 2 * time.Second
	}
	if t.Dispatch == 0 {
		t.Dispatch = 250 * time.Millisecond
	}
	if t.Ahead == 0 {
		t.Ahead = 4
	}
	return t
}

// supervisor keeps the queue live and fair. It runs in every process that
// works jobs, on one goroutine that Queue.Start starts and Queue.Stop
// stops (it must beat while all workers are busy, so it is not a job):
//
//   - heartbeat: the process's row in ragd_workers, written every
//     Heartbeat, removed at a clean stop;
//   - rescue: a job left running by a process whose row went stale (it
//     was killed, lost power, or froze) is made available again at once,
//     instead of after River's stuck-job rescue (an hour by default); at
//     its last attempt it is discarded and its document marked failed;
//   - dispatch: ingest jobs are inserted pending and released a few at a
//     time, as many as the live workers can take, tenant by tenant: the
//     next to go is the oldest waiting job of the tenant with the fewest
//     jobs available or running. A tenant with a thousand uploads queued
//     then holds at most its turn, and another tenant's one upload goes
//     next.
type supervisor struct {
	pool    *pgxpool.Pool
	id      string
	workers int
	t       SupervisorTimings
	log     *slog.Logger
	failed  func(ctx context.Context, a IngestArgs, cause error) error
}

// newClientID names this process in River's attempted_by and in
// ragd_workers: host, pid and a random suffix (a pid can come back).
func newClientID() string {
	host, _ := os.Hostname()
	if len(host) > 40 {
		host = host[:40]
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s_%d_%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// register writes the first heartbeat; it comes before River starts, so a
// job is never attempted by a process without a row.
func (s *supervisor) register(ctx context.Context) error {
	host, _ := os.Hostname()
	_, err := s.pool.Exec(ctx, `INSERT INTO ragd_workers (client_id, hostname, pid, workers) VALUES ($1, $2, $3, $4)
		ON CONFLICT (client_id) DO UPDATE SET heartbeat_at = now()`, s.id, host, os.Getpid(), s.workers)
	if err != nil {
		return fmt.Errorf("register worker process: %w", err)
	}
	return nil
}

// unregister removes the row at a clean stop: the process runs no job.
func (s *supervisor) unregister(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, "DELETE FROM ragd_workers WHERE client_id = $1", s.id)
	return err
}

// run beats, rescues and dispatches until ctx is done; events are this
// process's finished jobs, and enqueued the notifications of new ingest
// jobs (from any process), each a chance to dispatch at once; the ticker
// is the backstop.
func (s *supervisor) run(ctx context.Context, events <-chan *river.Event) {
	beat := time.NewTicker(s.t.Heartbeat)
	defer beat.Stop()
	rescue := time.NewTicker(s.t.Rescue)
	defer rescue.Stop()
	dispatch := time.NewTicker(s.t.Dispatch)
	defer dispatch.Stop()
	enqueued := make(chan struct{}, 1)
	listenDone := make(chan struct{})
	go func() {
		defer close(listenDone)
		s.listen(ctx, enqueued)
	}()
	defer func() { <-listenDone }()
	s.rescue(ctx)
	s.dispatch(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-beat.C:
			s.heartbeat(ctx)
		case <-rescue.C:
			s.rescue(ctx)
		case <-dispatch.C:
			s.dispatch(ctx)
		case <-enqueued:
			s.dispatch(ctx)
		case _, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			s.dispatch(ctx)
		}
	}
}

// dispatchChannel is the Postgres channel EnqueueIngest notifies.
const dispatchChannel = "ragd_dispatch"

// listen holds a connection on LISTEN dispatchChannel and signals
// enqueued for each notification, until ctx is done; when the connection
// fails it tries again after a Dispatch tick (the ticker dispatches
// meanwhile).
func (s *supervisor) listen(ctx context.Context, enqueued chan<- struct{}) {
	for ctx.Err() == nil {
		err := func() error {
			pooled, err := s.pool.Acquire(ctx)
			if err != nil {
				return err
			}
			conn := pooled.Hijack() // it will hold a LISTEN: never back to the pool
			defer conn.Close(context.WithoutCancel(ctx))
			if _, err := conn.Exec(ctx, "LISTEN "+dispatchChannel); err != nil {
				return err
			}
			for {
				if _, err := conn.WaitForNotification(ctx); err != nil {
					return err
				}
				select {
				case enqueued <- struct{}{}:
				default: // a dispatch is already due
				}
			}
		}()
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("dispatch notifications: listening failed; dispatching on the ticker until it is back", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(s.t.Dispatch):
		}
	}
}

func (s *supervisor) heartbeat(ctx context.Context) {
	tag, err := s.pool.Exec(ctx, "UPDATE ragd_workers SET heartbeat_at = now() WHERE client_id = $1", s.id)
	if err == nil && tag.RowsAffected() == 0 {
		// Declared dead during a long stall and removed: come back. Jobs
		// rescued meanwhile may run twice; that is safe (idempotent).
		err = s.register(ctx)
		s.log.Warn("worker heartbeat had lapsed; registered again", "client_id", s.id)
	}
	if err != nil && ctx.Err() == nil {
		s.log.Warn("worker heartbeat", "err", err, "client_id", s.id)
	}
}

// rescueSQL makes the jobs of dead processes available again, or
// discards them at their last attempt, and notes why in the job's errors
// as River's own rescuer does. Rows of processes dead for an hour go.
const rescueSQL = `
WITH dead AS (
	SELECT j.id FROM river_job j
	WHERE j.state = 'running'
	  AND j.attempted_at < now() - make_interval(secs => $1)
	  AND NOT EXISTS (SELECT 1 FROM ragd_workers w
	                  WHERE w.client_id = j.attempted_by[array_upper(j.attempted_by, 1)]
	                    AND w.heartbeat_at > now() - make_interval(secs => $1))
	FOR UPDATE OF j SKIP LOCKED
)
UPDATE river_job j SET
	state = CASE WHEN j.attempt >= j.max_attempts THEN 'discarded'::river_job_state ELSE 'available'::river_job_state END,
	finalized_at = CASE WHEN j.attempt >= j.max_attempts THEN now() END,
	scheduled_at = now(),
	errors = array_append(j.errors, jsonb_build_object(
		'at', now(), 'attempt', j.attempt, 'trace', '',
		'error', 'the worker process running this job stopped (' || coalesce(j.attempted_by[array_upper(j.attempted_by, 1)], 'unknown') ||
		         ' sent no heartbeat); rescued by ' || $2::text)),
	metadata = j.metadata || jsonb_build_object('ragd:rescued', coalesce((j.metadata->>'ragd:rescued')::int, 0) + 1)
FROM dead WHERE j.id = dead.id
RETURNING j.id, j.kind, j.args, j.state::text`

func (s *supervisor) rescue(ctx context.Context) {
	rows, err := s.pool.Query(ctx, rescueSQL, s.t.DeadAfter.Seconds(), s.id)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("rescue jobs of dead workers", "err", err)
		}
		return
	}
	type rescued struct {
		id          int64
		kind, state string
		args        []byte
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (rescued, error) {
		var x rescued
		err := r.Scan(&x.id, &x.kind, &x.args, &x.state)
		return x, err
	})
	if err != nil {
		s.log.Warn("rescue jobs of dead workers", "err", err)
		return
	}
	for _, x := range list {
		s.log.Warn("rescued a job of a dead worker process", "job_id", x.id, "kind", x.kind, "state", x.state)
		if x.state != "discarded" || x.kind != (IngestArgs{}).Kind() {
			continue
		}
		var a IngestArgs
		if json.Unmarshal(x.args, &a) == nil && s.failed != nil {
			if err := s.failed(ctx, a, errors.New("the worker processes running it died at every attempt")); err != nil {
				s.log.Warn("mark document failed", "err", err, "document_id", a.DocumentID)
			}
		}
	}
	if _, err := s.pool.Exec(ctx, "DELETE FROM ragd_workers WHERE heartbeat_at < now() - interval '1 hour'"); err != nil && ctx.Err() == nil {
		s.log.Warn("forget dead worker processes", "err", err)
	}
}

// dispatchLock serialises dispatchers across processes (a transaction
// advisory lock: released at commit, never left behind).
const dispatchLock = 0x72616764_64697370 // "ragddisp"

// dispatchSQL releases pending ingest jobs so that as many are available
// as the live processes have workers, times $2 (Ahead), in round-robin
// order over tenants:
// a tenant's r-th waiting job goes at position (its jobs available or
// running) + r, ties to the older job. The first job of a tenant with
// none available or running gets River priority 1 and the others 2, so
// that River fetches it before the jobs already released ahead of it
// (Ahead per worker): a tenant's first upload waits for a free worker,
// not for a flood's share.
const dispatchSQL = `
WITH live AS (
	SELECT greatest(coalesce(sum(workers), 0), 1) * $2 AS slots FROM ragd_workers WHERE heartbeat_at > now() - make_interval(secs => $1)
), ready AS (
	SELECT count(*) AS n FROM river_job WHERE state = 'available' AND kind = 'ingest_document'
), room AS (
	SELECT greatest(live.slots - ready.n, 0) AS n FROM live, ready
), active AS (
	SELECT args->>'tenant_id' AS tenant, count(*) AS n FROM river_job
	WHERE state IN ('available', 'running') AND kind = 'ingest_document' GROUP BY 1
), waiting AS (
	SELECT id, args->>'tenant_id' AS tenant,
	       row_number() OVER (PARTITION BY args->>'tenant_id' ORDER BY priority, id) AS rn
	FROM river_job WHERE state = 'pending' AND kind = 'ingest_document'
), chosen AS (
	SELECT w.id, coalesce(a.n, 0) = 0 AND w.rn = 1 AS first FROM waiting w LEFT JOIN active a USING (tenant), room
	WHERE w.rn <= room.n
	ORDER BY coalesce(a.n, 0) + w.rn, w.id
	LIMIT (SELECT n FROM room)
)
UPDATE river_job SET state = 'available', scheduled_at = now(), priority = CASE WHEN chosen.first THEN 1 ELSE 2 END
FROM chosen
WHERE river_job.id = chosen.id AND river_job.state = 'pending'
RETURNING river_job.id`

// dispatchFullSQL says whether as many ingest jobs are available as
// dispatchSQL would make available.
const dispatchFullSQL = `
SELECT (SELECT count(*) FROM river_job WHERE state = 'available' AND kind = 'ingest_document') >=
       (SELECT greatest(coalesce(sum(workers), 0), 1) * $2 FROM ragd_workers WHERE heartbeat_at > now() - make_interval(secs => $1))`

func (s *supervisor) dispatch(ctx context.Context) {
	var released int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var got bool
		if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock($1)", int64(dispatchLock)).Scan(&got); err != nil || !got {
			return err // another process is dispatching right now
		}
		// Most calls find the workers' share already available (every
		// upload and every finished job asks): say so from an index before
		// ranking every waiting job, which costs milliseconds with
		// thousands waiting.
		var full bool
		if err := tx.QueryRow(ctx, dispatchFullSQL, s.t.DeadAfter.Seconds(), s.t.Ahead).Scan(&full); err != nil || full {
			return err
		}
		tag, err := tx.Exec(ctx, dispatchSQL, s.t.DeadAfter.Seconds(), s.t.Ahead)
		released = tag.RowsAffected()
		return err
	})
	if err == nil && released > 0 {
		// Jobs made available by an UPDATE wake no River producer: only
		// River's own inserts notify. Send its insert notification, as
		// River does (channel "<schema>.river_insert", payload naming the
		// queue), so that workers fetch them now, not at their next poll
		// (FetchPollInterval, a second by default). After the commit, in
		// a statement of its own, for the reason Queue.Enqueued gives.
		_, err = s.pool.Exec(ctx, `SELECT pg_notify(current_schema() || '.river_insert', '{"queue": "default"}')`)
	}
	if err != nil && ctx.Err() == nil {
		s.log.Warn("dispatch ingest jobs", "err", err)
	}
}

// markFailed is the supervisor's hook for an ingest job it had to discard.
func markFailedFunc(p interface {
	MarkFailed(ctx context.Context, tenantID, docID uuid.UUID, version int, cause error) error
}) func(context.Context, IngestArgs, error) error {
	return func(ctx context.Context, a IngestArgs, cause error) error {
		return p.MarkFailed(ctx, a.TenantID, a.DocumentID, a.ContentVersion, cause)
	}
}
