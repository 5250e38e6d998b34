package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"riverqueue.com/riverui"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/embedder"
	"github.com/ragd/ragd/evals"
	"github.com/ragd/ragd/ingest"
	"github.com/ragd/ragd/search"
	"github.com/ragd/ragd/sources"
	"github.com/ragd/ragd/spaces"
	"github.com/ragd/ragd/webhooks"
)

// IngestArgs asks for one content version of a document to be processed.
// The version makes a reindex a new job rather than a duplicate of the
// completed one.
type IngestArgs struct {
	TenantID       uuid.UUID `json:"tenant_id"`
	DocumentID     uuid.UUID `json:"document_id"`
	ContentVersion int       `json:"content_version"`
}

// Kind implements river.JobArgs.
func (IngestArgs) Kind() string { return "ingest_document" }

// InsertOpts: one job per document version at a time.
func (IngestArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 5, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// DeleteArgs asks for a document to be removed.
type DeleteArgs struct {
	TenantID   uuid.UUID `json:"tenant_id"`
	DocumentID uuid.UUID `json:"document_id"`
}

// Kind implements river.JobArgs.
func (DeleteArgs) Kind() string { return "delete_document" }

// InsertOpts: deleting twice is harmless, but once is enough.
func (DeleteArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// PurgeTenantArgs asks for everything derived from a deleted tenant (its
// points in the vector store) to be removed; Postgres rows went with the
// tenant already.
type PurgeTenantArgs struct {
	TenantID uuid.UUID `json:"tenant_id"`
}

// Kind implements river.JobArgs.
func (PurgeTenantArgs) Kind() string { return "purge_tenant" }

// InsertOpts: once per tenant is enough.
func (PurgeTenantArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 25, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// ReindexTenantArgs asks for a tenant's points to be rebuilt from Postgres
// (ragd reindex --tenant, as a job).
type ReindexTenantArgs struct {
	TenantID uuid.UUID `json:"tenant_id"`
}

// Kind implements river.JobArgs.
func (ReindexTenantArgs) Kind() string { return "reindex_tenant" }

// InsertOpts: one at a time per tenant; a new one may follow a finished one.
func (ReindexTenantArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 5, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled,
	}}}
}

// ExpireIdempotencyKeysArgs is the periodic clean-up of upload
// Idempotency-Keys older than a day.
type ExpireIdempotencyKeysArgs struct{}

// Kind implements river.JobArgs.
func (ExpireIdempotencyKeysArgs) Kind() string { return "expire_idempotency_keys" }

// EvaluateArgs runs a tenant's retrieval evaluation.
type EvaluateArgs struct {
	TenantID     uuid.UUID `json:"tenant_id"`
	EvaluationID uuid.UUID `json:"evaluation_id"`
}

// Kind implements river.JobArgs.
func (EvaluateArgs) Kind() string { return "evaluate" }

// InsertOpts: an evaluation's searches are cheap but many; a few attempts
// cover a restart, and a failing search is recorded on the evaluation.
func (EvaluateArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 3} }

// EvaluateWorker runs evaluations.
type EvaluateWorker struct {
	river.WorkerDefaults[EvaluateArgs]
	*Services
}

// Timeout: at most 1,000 queries over 24 configurations.
func (w *EvaluateWorker) Timeout(*river.Job[EvaluateArgs]) time.Duration { return time.Hour }

// Work scores the configurations and records the query embeddings' tokens
// in the tenant's usage; the run stops when the month's tokens are spent.
func (w *EvaluateWorker) Work(ctx context.Context, job *river.Job[EvaluateArgs]) error {
	a := job.Args
	budget, err := w.Documents.TokensLeft(ctx, a.TenantID)
	if err != nil && !errors.Is(err, ragd.ErrNotFound) { // not found: the tenant is gone, and Run finds nothing
		return recordable(err)
	}
	err = w.Evals.Run(ctx, a.TenantID, a.EvaluationID, budget.Left(), func(ctx context.Context, tokens int) error {
		return w.Documents.AddUsage(ctx, a.TenantID, tokens, 0)
	})
	w.Logger.InfoContext(ctx, "job done", "job_id", job.ID, "kind", job.Kind, "tenant_id", a.TenantID, "evaluation_id", a.EvaluationID, "err", errString(err))
	return recordable(orSnooze(err))
}

// DeliverWebhookArgs asks for a webhook delivery's attempts. Generation
// is the delivery's run (a retry asked for by a person starts a new one).
type DeliverWebhookArgs struct {
	TenantID   uuid.UUID `json:"tenant_id"`
	DeliveryID uuid.UUID `json:"delivery_id"`
	Generation int       `json:"generation"`
}

// Kind implements river.JobArgs.
func (DeliverWebhookArgs) Kind() string { return "deliver_webhook" }

// InsertOpts: in the webhooks' own queue; the delivery keeps its own
// schedule (the job snoozes between attempts), so River's attempts count
// only ragd's own errors (Postgres down); one job per run of a delivery.
func (DeliverWebhookArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueWebhooks, MaxAttempts: 25, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// QueueWebhooks is the River queue of deliver_webhook jobs. Each attempt
// waits on a receiver (up to webhooks.Config.Timeout), which is a
// tenant's to keep healthy: a process sends WebhookWorkers of them at
// once, beside its Workers, so that receivers that hang delay webhooks,
// never documents. Within the queue, webhooks.Service.Deliver shares the
// senders by tenant and endpoint.
const QueueWebhooks = "webhooks"

// WebhookWorkers is how many deliveries a process with workers sends at
// once: four per worker, at least four. Sending is waiting on the
// network; a sender costs a goroutine, not a core or a connection.
func WebhookWorkers(workers int) int { return max(4, 4*workers) }

// DeliverWebhookWorker sends webhooks.
type DeliverWebhookWorker struct {
	river.WorkerDefaults[DeliverWebhookArgs]
	*Services
}

// Timeout: one attempt, and its bookkeeping.
func (w *DeliverWebhookWorker) Timeout(*river.Job[DeliverWebhookArgs]) time.Duration {
	return w.Webhooks.LeaseFor()
}

// Work makes the delivery's next attempt; the job sleeps (snoozes) until
// the one after, or until an earlier event of the same document is sent.
func (w *DeliverWebhookWorker) Work(ctx context.Context, job *river.Job[DeliverWebhookArgs]) error {
	a := job.Args
	wait, err := w.Webhooks.Deliver(ctx, a.TenantID, a.DeliveryID, a.Generation)
	if err != nil {
		return recordable(err)
	}
	if wait > 0 {
		return river.JobSnooze(wait)
	}
	return nil
}

// ExpireWebhookEventsArgs is the periodic clean-up of webhook events
// older than webhooks.Retention.
type ExpireWebhookEventsArgs struct{}

// Kind implements river.JobArgs.
func (ExpireWebhookEventsArgs) Kind() string { return "expire_webhook_events" }

// ExpireWebhookEventsWorker deletes old webhook events.
type ExpireWebhookEventsWorker struct {
	river.WorkerDefaults[ExpireWebhookEventsArgs]
	*Services
}

// Work deletes events older than webhooks.Retention that nothing waits to send.
func (w *ExpireWebhookEventsWorker) Work(ctx context.Context, job *river.Job[ExpireWebhookEventsArgs]) error {
	_, err := w.Webhooks.Expire(ctx, time.Now().Add(-webhooks.Retention))
	return err
}

// SyncSourceArgs asks for the next slice of a source's run.
type SyncSourceArgs struct {
	TenantID uuid.UUID `json:"tenant_id"`
	SourceID uuid.UUID `json:"source_id"`
	RunID    uuid.UUID `json:"run_id"`
}

// Kind implements river.JobArgs.
func (SyncSourceArgs) Kind() string { return "sync_source" }

// InsertOpts: in the sources' own queue, one job per run; the job
// snoozes between slices, which does not spend attempts.
func (SyncSourceArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueSources, MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// QueueSources is the River queue of sync_source jobs. A process works
// SourceWorkers of them at once, beside its Workers: crawling waits on
// other sites, and must never take the workers uploads need. Each job
// fetches for a slice (sources.Config.Slice) and then goes to the back
// of the queue, so the runs waiting, any tenant's, take turns: a
// tenant's 50,000-page site delays another's crawl by a slice at most.
// The pages a run stores are ingested through the default queue, in
// their tenant's turn, like uploads.
const QueueSources = "sources"

// SourceWorkers is how many sync_source jobs a process with workers
// runs at once: one per worker, at least two.
func SourceWorkers(workers int) int { return max(2, workers) }

// SyncSourceWorker runs slices of sources' runs.
type SyncSourceWorker struct {
	river.WorkerDefaults[SyncSourceArgs]
	*Services
}

// Timeout: a slice, and a request that started at its end.
func (w *SyncSourceWorker) Timeout(*river.Job[SyncSourceArgs]) time.Duration { return 10 * time.Minute }

// Work runs a slice; more to do snoozes the job behind the others waiting.
func (w *SyncSourceWorker) Work(ctx context.Context, job *river.Job[SyncSourceArgs]) error {
	a := job.Args
	more, err := w.Sources.Work(ctx, a.TenantID, a.SourceID, a.RunID)
	if err != nil {
		w.Logger.WarnContext(ctx, "source slice", "job_id", job.ID, "attempt", job.Attempt, "tenant_id", a.TenantID, "source_id", a.SourceID,
			"run_id", a.RunID, "err", err)
		if ctx.Err() != nil {
			// Stopped (a shutdown, the timeout): the run goes on from its
			// frontier in the next slice, with no attempt spent.
			return river.JobSnooze(time.Second)
		}
		if job.Attempt >= job.MaxAttempts {
			if ferr := w.Sources.FailRun(context.WithoutCancel(ctx), a.TenantID, a.SourceID, a.RunID, err); ferr != nil {
				w.Logger.ErrorContext(ctx, "fail source run", "err", ferr, "run_id", a.RunID, "job_id", job.ID)
			}
		}
		return orSnooze(err)
	}
	if more {
		return river.JobSnooze(0)
	}
	return nil
}

// DeleteSourceArgs asks for a deleted source's documents to be deleted,
// then the source.
type DeleteSourceArgs struct {
	TenantID uuid.UUID `json:"tenant_id"`
	SourceID uuid.UUID `json:"source_id"`
}

// Kind implements river.JobArgs.
func (DeleteSourceArgs) Kind() string { return "delete_source" }

// InsertOpts: once is enough.
func (DeleteSourceArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 25, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// DeleteSourceWorker deletes a source's documents, then the source.
type DeleteSourceWorker struct {
	river.WorkerDefaults[DeleteSourceArgs]
	*Services
}

// Work purges the source.
func (w *DeleteSourceWorker) Work(ctx context.Context, job *river.Job[DeleteSourceArgs]) error {
	return orSnooze(w.Sources.Purge(ctx, job.Args.TenantID, job.Args.SourceID))
}

// ScheduleSourcesArgs is the periodic start of the sources' scheduled runs.
type ScheduleSourcesArgs struct{}

// Kind implements river.JobArgs.
func (ScheduleSourcesArgs) Kind() string { return "schedule_sources" }

// ScheduleSourcesWorker starts the runs that are due.
type ScheduleSourcesWorker struct {
	river.WorkerDefaults[ScheduleSourcesArgs]
	*Services
}

// Work starts the due runs.
func (w *ScheduleSourcesWorker) Work(ctx context.Context, job *river.Job[ScheduleSourcesArgs]) error {
	_, err := w.Sources.StartDue(ctx)
	return err
}

// EnqueueSourceRun implements sources.Jobs.
func (q *Queue) EnqueueSourceRun(ctx context.Context, tx pgx.Tx, tenantID, sourceID, runID uuid.UUID) error {
	_, err := q.client.InsertTx(ctx, tx, SyncSourceArgs{TenantID: tenantID, SourceID: sourceID, RunID: runID}, nil)
	return err
}

// SourceRunQueued implements sources.Jobs: whether a sync_source job of
// the run is still to be worked (not completed, discarded or cancelled).
func (q *Queue) SourceRunQueued(ctx context.Context, tx pgx.Tx, runID uuid.UUID) (bool, error) {
	var ok bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM river_job WHERE kind = 'sync_source' AND args->>'run_id' = $1
		AND state NOT IN ('completed', 'discarded', 'cancelled'))`, runID.String()).Scan(&ok)
	return ok, err
}

// EnqueueSourceDelete implements sources.Jobs.
func (q *Queue) EnqueueSourceDelete(ctx context.Context, tx pgx.Tx, tenantID, sourceID uuid.UUID) error {
	_, err := q.client.InsertTx(ctx, tx, DeleteSourceArgs{TenantID: tenantID, SourceID: sourceID}, nil)
	return err
}

// IdempotencyKeyTTL is how long an upload's Idempotency-Key is remembered.
const IdempotencyKeyTTL = 24 * time.Hour

// IngestWorker runs the ingest pipeline.
type IngestWorker struct {
	river.WorkerDefaults[IngestArgs]
	*Services
}

// Timeout: big PDFs and long scans take a while; the pipeline has its
// own, shorter, extraction limit, and the job leaves room after it for
// embedding.
func (w *IngestWorker) Timeout(*river.Job[IngestArgs]) time.Duration {
	return max(15*time.Minute, w.Pipeline.ExtractCeiling()+10*time.Minute)
}

// Work processes the document. A document's own failure (bad file) is
// final: the job completes with the failure as its output (see
// documentOutcome), and is not retried. Anything else is retried with
// River's backoff; when attempts run out, the document is marked failed.
func (w *IngestWorker) Work(ctx context.Context, job *river.Job[IngestArgs]) error {
	a := job.Args
	start := time.Now()
	err := w.Pipeline.Process(ctx, a.TenantID, a.DocumentID, a.ContentVersion)
	w.Logger.InfoContext(ctx, "job done", "job_id", job.ID, "kind", job.Kind, "attempt", job.Attempt,
		"tenant_id", a.TenantID, "document_id", a.DocumentID, "version", a.ContentVersion,
		"duration_ms", time.Since(start).Milliseconds(), "err", errString(err))
	if err == nil {
		return nil
	}
	if e, ok := ingest.AsError(err); ok {
		// The file's own failure is the job's result, not the job's: it
		// completes (shown as Completed in the dashboard, with the
		// document's failure as its output) and is not retried.
		if rerr := river.RecordOutput(ctx, documentOutcome{Document: a.DocumentID.String(), Status: ingest.StatusFailed,
			Code: e.Code, Message: recordable(err).Error()}); rerr != nil {
			return river.JobCancel(recordable(err)) // cancelled, not retried, if the output cannot be kept
		}
		return nil
	}
	if snooze := askedToWait(err); snooze != nil {
		return snooze
	}
	if job.Attempt >= job.MaxAttempts {
		if merr := w.Pipeline.MarkFailed(context.WithoutCancel(ctx), a.TenantID, a.DocumentID, a.ContentVersion, err); merr != nil {
			w.Logger.ErrorContext(ctx, "mark document failed", "err", merr, "document_id", a.DocumentID, "job_id", job.ID)
		}
	}
	return recordable(err)
}

// documentOutcome is an ingest job's output (river.RecordOutput) when the
// document failed for a reason of its own: the job dashboard shows it on
// the completed job, so that an operator sees why without the API.
type documentOutcome struct {
	Document string `json:"document_id"`
	Status   string `json:"document_status"`
	Code     string `json:"error_code"`
	Message  string `json:"error_message"`
}

// DeleteWorker removes a document and everything derived from it: its
// points first, then its rows (so a failure leaves the rows to retry from).
type DeleteWorker struct {
	river.WorkerDefaults[DeleteArgs]
	*Services
}

// Work deletes the document.
func (w *DeleteWorker) Work(ctx context.Context, job *river.Job[DeleteArgs]) error {
	if err := w.Pipeline.DeleteDocumentPoints(ctx, job.Args.TenantID, job.Args.DocumentID); err != nil {
		return orSnooze(err)
	}
	return w.Documents.Purge(ctx, job.Args.TenantID, job.Args.DocumentID)
}

// ReindexTenantWorker rebuilds a tenant's points from Postgres.
type ReindexTenantWorker struct {
	river.WorkerDefaults[ReindexTenantArgs]
	*Services
}

// Timeout: a large tenant takes a while; the cache spares the provider.
func (w *ReindexTenantWorker) Timeout(*river.Job[ReindexTenantArgs]) time.Duration {
	return 2 * time.Hour
}

// Work rebuilds the points.
func (w *ReindexTenantWorker) Work(ctx context.Context, job *river.Job[ReindexTenantArgs]) error {
	st, err := w.Pipeline.Rebuild(ctx, &job.Args.TenantID, nil)
	w.Logger.InfoContext(ctx, "job done", "job_id", job.ID, "kind", job.Kind, "tenant_id", job.Args.TenantID,
		"documents", st.Documents, "chunks", st.Chunks, "err", errString(err))
	return orSnooze(err)
}

// ExpireIdempotencyKeysWorker deletes old Idempotency-Keys.
type ExpireIdempotencyKeysWorker struct {
	river.WorkerDefaults[ExpireIdempotencyKeysArgs]
	*Services
}

// Work deletes keys older than IdempotencyKeyTTL.
func (w *ExpireIdempotencyKeysWorker) Work(ctx context.Context, job *river.Job[ExpireIdempotencyKeysArgs]) error {
	_, err := w.Documents.ExpireIdempotencyKeys(ctx, time.Now().Add(-IdempotencyKeyTTL))
	return err
}

// PurgeTenantWorker removes a deleted tenant's points.
type PurgeTenantWorker struct {
	river.WorkerDefaults[PurgeTenantArgs]
	*Services
}

// Timeout: removing a large tenant's points from every space takes a while.
func (w *PurgeTenantWorker) Timeout(*river.Job[PurgeTenantArgs]) time.Duration {
	return 30 * time.Minute
}

// Work deletes the tenant's points, in every embedding space.
func (w *PurgeTenantWorker) Work(ctx context.Context, job *river.Job[PurgeTenantArgs]) error {
	return orSnooze(w.Spaces.PurgeTenant(ctx, job.Args.TenantID))
}

// BuildEmbeddingIndexArgs asks for a tenant's documents to be embedded
// into a migration's target space, and for the cut-over.
type BuildEmbeddingIndexArgs struct {
	TenantID    uuid.UUID `json:"tenant_id"`
	MigrationID uuid.UUID `json:"migration_id"`
}

// Kind implements river.JobArgs.
func (BuildEmbeddingIndexArgs) Kind() string { return "build_embedding_index" }

// InsertOpts: one per migration, in the migrations' own queue; many
// attempts, since each resumes where the last stopped and the provider may
// be down for a while.
func (BuildEmbeddingIndexArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMigrations, MaxAttempts: 25, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// QueueMigrations is the River queue of build_embedding_index jobs, each
// of which may run for hours: a process works MigrationWorkers of them at
// once, beside (not among) its Workers, so that migrations, however many
// are started, never take the workers uploads need.
const QueueMigrations = "embedding_migrations"

// MigrationWorkers is how many build_embedding_index jobs a process with
// workers works at once: a quarter of them, at least one.
func MigrationWorkers(workers int) int { return max(1, workers/4) }

// BuildEmbeddingIndexWorker runs Pipeline.BuildIndex.
type BuildEmbeddingIndexWorker struct {
	river.WorkerDefaults[BuildEmbeddingIndexArgs]
	*Services
}

// Timeout: a large tenant takes a while; progress is recorded as it goes.
func (w *BuildEmbeddingIndexWorker) Timeout(*river.Job[BuildEmbeddingIndexArgs]) time.Duration {
	return 2 * time.Hour
}

// Work builds the target and cuts over.
func (w *BuildEmbeddingIndexWorker) Work(ctx context.Context, job *river.Job[BuildEmbeddingIndexArgs]) error {
	a := job.Args
	err := w.Pipeline.BuildIndex(ctx, a.TenantID, a.MigrationID)
	w.Logger.InfoContext(ctx, "job done", "job_id", job.ID, "kind", job.Kind, "tenant_id", a.TenantID, "migration_id", a.MigrationID, "err", errString(err))
	if snooze := askedToWait(err); snooze != nil {
		return snooze
	}
	if err != nil && job.Attempt >= job.MaxAttempts {
		if ferr := w.Spaces.FailBuild(context.WithoutCancel(ctx), a.TenantID, a.MigrationID, err); ferr != nil {
			w.Logger.ErrorContext(ctx, "fail migration", "err", ferr, "migration_id", a.MigrationID, "job_id", job.ID)
		}
	}
	return recordable(err)
}

// SettleEmbeddingMigrationArgs asks for what a migration's new state
// needs: completing it when its rollback window ends, removing the points
// of the space it left.
type SettleEmbeddingMigrationArgs struct {
	TenantID    uuid.UUID `json:"tenant_id"`
	MigrationID uuid.UUID `json:"migration_id"`
	State       string    `json:"state"` // the state that queued it (for the dashboard)
}

// Kind implements river.JobArgs.
func (SettleEmbeddingMigrationArgs) Kind() string { return "settle_embedding_migration" }

// InsertOpts: once per state a migration enters (settling twice would be
// harmless, but is work for nothing).
func (SettleEmbeddingMigrationArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 25, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// SettleEmbeddingMigrationWorker runs spaces.Service.Settle.
type SettleEmbeddingMigrationWorker struct {
	river.WorkerDefaults[SettleEmbeddingMigrationArgs]
	*Services
}

// Timeout: removing a large tenant's points from a space takes a while.
func (w *SettleEmbeddingMigrationWorker) Timeout(*river.Job[SettleEmbeddingMigrationArgs]) time.Duration {
	return 30 * time.Minute
}

// Work settles the migration, or comes back when its window ends.
func (w *SettleEmbeddingMigrationWorker) Work(ctx context.Context, job *river.Job[SettleEmbeddingMigrationArgs]) error {
	a := job.Args
	at, err := w.Spaces.Settle(ctx, a.TenantID, a.MigrationID)
	if err == nil && !at.IsZero() {
		return river.JobSnooze(max(time.Until(at), time.Second))
	}
	return orSnooze(err)
}

// EnqueueWebhookDelivery implements webhooks.Jobs.
func (q *Queue) EnqueueWebhookDelivery(ctx context.Context, tx pgx.Tx, tenantID, deliveryID uuid.UUID, generation int) error {
	_, err := q.client.InsertTx(ctx, tx, DeliverWebhookArgs{TenantID: tenantID, DeliveryID: deliveryID, Generation: generation}, nil)
	return err
}

// EnqueueBuild implements spaces.Jobs.
func (q *Queue) EnqueueBuild(ctx context.Context, tx pgx.Tx, m spaces.Migration) error {
	_, err := q.client.InsertTx(ctx, tx, BuildEmbeddingIndexArgs{TenantID: m.TenantID, MigrationID: m.ID}, nil)
	return err
}

// EnqueueSettle implements spaces.Jobs.
func (q *Queue) EnqueueSettle(ctx context.Context, tx pgx.Tx, m spaces.Migration, at time.Time) error {
	var opts *river.InsertOpts
	if !at.IsZero() {
		opts = &river.InsertOpts{ScheduledAt: at}
	}
	_, err := q.client.InsertTx(ctx, tx, SettleEmbeddingMigrationArgs{TenantID: m.TenantID, MigrationID: m.ID, State: string(m.State)}, opts)
	return err
}

// Config configures the River client.
type Config struct {
	// Workers is how many jobs run at once in this process; 0 makes an
	// insert-only queue (ragd serve --workers=0).
	Workers int
	Logger  *slog.Logger
	// FetchPollInterval overrides River's (tests make it short).
	FetchPollInterval time.Duration
	// Supervisor timings (heartbeat, rescue, dispatch); zero fields take
	// defaults.
	Supervisor SupervisorTimings
}

// Services are what the workers call: Start gives them, once the stores
// that enqueue through the Queue exist.
type Services struct {
	Pipeline  *ingest.Pipeline
	Documents *ingest.Documents
	Spaces    *spaces.Service
	Evals     *evals.Evaluations
	Webhooks  *webhooks.Service
	Sources   *sources.Service
	Logger    *slog.Logger
}

// Queue is ragd's River client, the one way to its jobs: the stores and
// services take it at construction and enqueue through it in their own
// transactions; with workers, Start makes it work them too.
//
// Why the workers get their services at Start rather than at New: River
// needs every worker when the client is made, the workers need the stores
// and the pipeline, and those need the client to enqueue. The worker
// structs hold a pointer that Start fills before River fetches a job; a
// second, insert-only client would do the same with two clients.
type Queue struct {
	client  *river.Client[pgx.Tx]
	pool    *pgxpool.Pool
	log     *slog.Logger
	working bool
	svc     *Services // the workers'; filled by Start

	wakeMu            sync.Mutex
	waking, wakeAgain bool
	sup               *supervisor
	stopSup           context.CancelFunc
	supDone           chan struct{}
}

// stuckAfter is River's own stuck-job rescue, for a job still running in a
// live process long after its timeout: longer than the longest timeout
// (reindex_tenant, 2 hours), so that no job is rescued while it works.
// Jobs of dead processes are the supervisor's, within seconds.
const stuckAfter = 3 * time.Hour

// fetchCooldown is the least time between two fetches of River's.
const fetchCooldown = 10 * time.Millisecond

// New returns a Queue on pool, which enqueues at once. With cfg.Workers,
// call Start to begin working jobs.
func New(pool *pgxpool.Pool, cfg Config) (*Queue, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	// FetchCooldown: River fetches at most once per cooldown and each fetch
	// takes only as many jobs as workers are free; at River's 100 ms two
	// workers on short documents idled, capped near 20 jobs a second. A
	// fetch is one indexed query, made only when a notification or poll
	// asks for it.
	rc := &river.Config{Logger: cfg.Logger, FetchPollInterval: cfg.FetchPollInterval, RescueStuckJobsAfter: stuckAfter,
		FetchCooldown: fetchCooldown}
	q := &Queue{pool: pool, log: cfg.Logger, working: cfg.Workers > 0, svc: &Services{}}
	if q.working {
		svc := q.svc
		workers := river.NewWorkers()
		river.AddWorker(workers, &IngestWorker{Services: svc})
		river.AddWorker(workers, &DeleteWorker{Services: svc})
		river.AddWorker(workers, &PurgeTenantWorker{Services: svc})
		river.AddWorker(workers, &ReindexTenantWorker{Services: svc})
		river.AddWorker(workers, &ExpireIdempotencyKeysWorker{Services: svc})
		river.AddWorker(workers, &BuildEmbeddingIndexWorker{Services: svc})
		river.AddWorker(workers, &SettleEmbeddingMigrationWorker{Services: svc})
		river.AddWorker(workers, &EvaluateWorker{Services: svc})
		river.AddWorker(workers, &DeliverWebhookWorker{Services: svc})
		river.AddWorker(workers, &ExpireWebhookEventsWorker{Services: svc})
		river.AddWorker(workers, &SyncSourceWorker{Services: svc})
		river.AddWorker(workers, &DeleteSourceWorker{Services: svc})
		river.AddWorker(workers, &ScheduleSourcesWorker{Services: svc})
		rc.Workers = workers
		rc.PeriodicJobs = []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
				func() (river.JobArgs, *river.InsertOpts) { return ExpireIdempotencyKeysArgs{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
				func() (river.JobArgs, *river.InsertOpts) { return ExpireWebhookEventsArgs{}, nil }, nil),
			river.NewPeriodicJob(river.PeriodicInterval(time.Minute),
				func() (river.JobArgs, *river.InsertOpts) { return ScheduleSourcesArgs{}, nil }, nil),
		}
		rc.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers},
			QueueMigrations: {MaxWorkers: MigrationWorkers(cfg.Workers)},
			QueueWebhooks:   {MaxWorkers: WebhookWorkers(cfg.Workers)},
			QueueSources:    {MaxWorkers: SourceWorkers(cfg.Workers)}}
		q.sup = &supervisor{pool: pool, id: newClientID(), workers: cfg.Workers, t: cfg.Supervisor.withDefaults(), log: cfg.Logger}
		rc.ID = q.sup.id
	}
	client, err := river.NewClient(riverpgxv5.New(pool), rc)
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	q.client = client
	return q, nil
}

// Client returns the River client (for the job dashboard).
func (q *Queue) Client() *river.Client[pgx.Tx] { return q.client }

// Start begins working jobs with svc (a no-op for an insert-only queue):
// it registers the process's heartbeat, starts River, then the
// supervisor. Every service is required.
func (q *Queue) Start(ctx context.Context, svc Services) error {
	if !q.working {
		return nil
	}
	if svc.Pipeline == nil || svc.Documents == nil || svc.Spaces == nil || svc.Evals == nil || svc.Webhooks == nil || svc.Sources == nil {
		return errors.New("jobs: the workers need the pipeline, documents, spaces, evaluations, webhooks and sources")
	}
	if svc.Logger == nil {
		svc.Logger = q.log
	}
	*q.svc = svc // before River starts: no worker reads it earlier
	q.sup.failed = markFailedFunc(svc.Pipeline)
	if err := q.sup.register(ctx); err != nil {
		return err
	}
	if err := q.client.Start(ctx); err != nil {
		return err
	}
	events, cancelEvents := q.client.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed,
		river.EventKindJobCancelled, river.EventKindJobSnoozed)
	supCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	q.stopSup, q.supDone = stop, make(chan struct{})
	go func() {
		defer close(q.supDone)
		defer cancelEvents()
		q.sup.run(supCtx, events)
	}()
	return nil
}

// Stop stops fetching new jobs and waits for running ones until ctx is
// done; then it cancels them (River will give them to another worker).
// The heartbeat goes last: until then this process's jobs are its own.
func (q *Queue) Stop(ctx context.Context) error {
	if !q.working {
		return nil
	}
	err := q.client.Stop(ctx)
	if err != nil && ctx.Err() != nil {
		err = q.client.StopAndCancel(context.WithoutCancel(ctx))
	}
	if q.stopSup != nil {
		q.stopSup()
		<-q.supDone
	}
	if uerr := q.sup.unregister(context.WithoutCancel(ctx)); uerr != nil && err == nil {
		err = fmt.Errorf("unregister worker process: %w", uerr)
	}
	return err
}

// EnqueueIngest implements ingest.Jobs. The job waits as pending
// until the supervisor releases it in its tenant's turn.
func (q *Queue) EnqueueIngest(ctx context.Context, tx pgx.Tx, d ingest.Document) error {
	_, err := q.client.InsertTx(ctx, tx, IngestArgs{TenantID: d.TenantID, DocumentID: d.ID, ContentVersion: d.ContentVersion},
		&river.InsertOpts{Pending: true})
	return err
}

// Enqueued implements ingest.Jobs: it wakes the dispatchers of every
// process. The notification is its own statement, after the commit, not
// part of the upload's transaction: Postgres serialises the commits of
// transactions that notify, holding a lock through their WAL flush, and
// one that only notifies flushes nothing. A notification lost to a crash
// costs a dispatcher tick.
//
// Concurrent calls share notifications: while one is being sent, later
// callers only ask for one more, which the sender sends after its own
// (from a goroutine, so that no caller waits for more than one), so
// every commit is followed by a notification that was sent after it.
func (q *Queue) Enqueued(ctx context.Context) {
	q.wakeMu.Lock()
	if q.waking {
		q.wakeAgain = true
		q.wakeMu.Unlock()
		return
	}
	q.waking = true
	q.wakeMu.Unlock()
	if _, err := q.pool.Exec(context.WithoutCancel(ctx), "SELECT pg_notify($1, '')", dispatchChannel); err != nil {
		q.log.Warn("wake the dispatchers", "err", err)
	}
	q.wakeMu.Lock()
	again := q.wakeAgain
	q.waking, q.wakeAgain = false, false
	q.wakeMu.Unlock()
	if again {
		go q.Enqueued(context.WithoutCancel(ctx))
	}
}

// EnqueueDelete implements ingest.Jobs.
func (q *Queue) EnqueueDelete(ctx context.Context, tx pgx.Tx, d ingest.Document) error {
	_, err := q.client.InsertTx(ctx, tx, DeleteArgs{TenantID: d.TenantID, DocumentID: d.ID}, nil)
	return err
}

// EnqueuePurgeTenant implements agents.Jobs: it queues the removal of a
// deleted tenant's points, in the transaction that deletes the tenant.
func (q *Queue) EnqueuePurgeTenant(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID) error {
	_, err := q.client.InsertTx(ctx, tx, PurgeTenantArgs{TenantID: tenantID}, nil)
	return err
}

// Dashboard returns River's job dashboard for this queue, serving under
// prefix; it runs until ctx is done. It has no authentication of its own:
// the caller guards it.
func (q *Queue) Dashboard(ctx context.Context, prefix string, log *slog.Logger) (http.Handler, error) {
	h, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(q.client, nil),
		Logger:    log,
		Prefix:    prefix,
		// Job args carry only ids, but hide them unless asked, all the same.
		JobListHideArgsByDefault: true,
	})
	if err != nil {
		return nil, fmt.Errorf("job dashboard: %w", err)
	}
	if err := h.Start(ctx); err != nil {
		return nil, fmt.Errorf("job dashboard: %w", err)
	}
	return h, nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// EnqueueEvaluation implements evals.Jobs.
func (q *Queue) EnqueueEvaluation(ctx context.Context, tx pgx.Tx, tenantID, id uuid.UUID) error {
	_, err := q.client.InsertTx(ctx, tx, EvaluateArgs{TenantID: tenantID, EvaluationID: id}, nil)
	return err
}

// EnqueueRebuild implements ingest.Jobs: it queues the rebuild of a
// tenant's points; a rebuild already waiting or running for it is not
// doubled.
func (q *Queue) EnqueueRebuild(ctx context.Context, tenantID uuid.UUID) error {
	_, err := q.client.Insert(ctx, ReindexTenantArgs{TenantID: tenantID}, nil)
	return err
}

// orSnooze is err, or a snooze when err says to come back later.
func orSnooze(err error) error {
	if snooze := askedToWait(err); snooze != nil {
		return snooze
	}
	return recordable(err)
}

// recordable wraps err so that River can record its text: the job's
// errors are JSON in Postgres, which refuses NUL characters, and a parser's
// error may quote a file's raw bytes. One unrecordable error fails River's
// whole batch of completions, so every job in it, any tenant's, would stay
// running. The text is made valid UTF-8 without NULs and bounded.
func recordable(err error) error {
	if err == nil {
		return nil
	}
	return cleanError{err}
}

type cleanError struct{ err error }

func (e cleanError) Unwrap() error { return e.err }

func (e cleanError) Error() string {
	s := strings.ToValidUTF8(e.err.Error(), "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "\\x00")
	if len(s) > 2000 {
		s = strings.ToValidUTF8(s[:2000], "") + "..."
	}
	return s
}

// askedToWait returns a snooze when err is the embedding provider's or the
// vector store's request to come back later (a Retry-After on a 429, or on
// a 503 or another retried status), or any error of ragd's own that says
// when to come back (a RetryAfter() time.Duration method: a job that gave
// its place to another tenant's), so the job waits without spending an
// attempt; else nil.
func askedToWait(err error) error {
	if err == nil {
		return nil
	}
	if e, ok := embedder.AsError(err); ok && e.Retry > 0 {
		return river.JobSnooze(e.Retry)
	}
	var rl *search.RateLimitError
	if errors.As(err, &rl) && rl.RetryAfter > 0 {
		return river.JobSnooze(rl.RetryAfter)
	}
	var later interface{ RetryAfter() time.Duration }
	if errors.As(err, &later) && later.RetryAfter() > 0 {
		return river.JobSnooze(later.RetryAfter())
	}
	return nil
}
