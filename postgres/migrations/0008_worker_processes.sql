-- One row per process that works jobs, beating every few seconds: a job
-- left running by a process whose row went stale belongs to a process
-- that died (kill -9, OOM, power loss), and is rescued at once rather than
-- after River's stuck-job rescue. client_id is the River client id, which
-- River writes into river_job.attempted_by.
CREATE TABLE ragd_workers (
    client_id    text PRIMARY KEY,
    hostname     text NOT NULL,
    pid          integer NOT NULL,
    workers      integer NOT NULL CHECK (workers > 0),
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);
