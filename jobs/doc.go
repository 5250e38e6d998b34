// Package jobs is ragd's background work on River.
//
// The job kinds are named for people, as the dashboard shows them:
// ingest_document (one content version of a document through the ingest
// pipeline), delete_document (its points, then its rows), purge_tenant (a
// deleted tenant's points), reindex_tenant (a tenant's points rebuilt from
// Postgres), build_embedding_index (a tenant's documents embedded into an
// embedding migration's target, then the cut-over; in a queue of its own,
// QueueMigrations, so that hours-long builds never take the workers
// uploads need), settle_embedding_migration (completing a migration when
// its rollback window ends, removing the points of the space a tenant
// left), evaluate, deliver_webhook, and the hourly expire_idempotency_keys
// and expire_webhook_events. Args carry ids only, never document text or
// secrets, and are inserted in the caller's transaction, so a document
// row and its job commit together.
//
// A Queue is the one River client of a process and the one way to its
// jobs: the stores and services take it at construction, as the small
// interfaces they declare (ingest.Jobs, spaces.Jobs, evals.Jobs,
// webhooks.Jobs, agents.Jobs), and enqueue through it in their own
// transactions. With workers, Start gives the workers the services they
// call (Services) and runs a supervisor beside River (supervisor.go):
//
//   - a heartbeat: each working process keeps a row in ragd_workers;
//   - rescue: the running jobs of a process whose heartbeat went stale
//     (killed, frozen) are made available again within seconds, not after
//     River's stuck-job rescue;
//   - a fair dispatcher: ingest jobs are inserted pending and released as
//     the live workers can take them, tenant by tenant, so that one
//     tenant's flood of uploads does not stall another's.
//
// Workers say what a failure means: a document's own (an *ingest.Error)
// completes the job with the failure as its output, since retrying cannot
// help; a Retry-After from the
// embedding provider or the vector store snoozes it without spending an
// attempt; anything else is retried with River's backoff, and an ingest
// job's last attempt marks its document failed. Errors are made storable
// (valid UTF-8, no NUL, bounded) before River records them.
//
// Dashboard serves River's job UI (riverui); the caller guards it.
package jobs
