-- Website sources (issue 25): a tenant's website, sitemap or single URL,
-- crawled by ragd into documents and kept in sync. Everything is the
-- tenant's and goes with it.
CREATE TABLE sources (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    type        text NOT NULL CHECK (type IN ('website', 'sitemap', 'url')),
    url         text NOT NULL,
    include     text[] NOT NULL DEFAULT '{}',
    exclude     text[] NOT NULL DEFAULT '{}',
    max_pages   integer NOT NULL,
    max_depth   integer NOT NULL,
    schedule    text CHECK (schedule IN ('hourly', 'daily', 'weekly')),
    tags        text[] NOT NULL DEFAULT '{}',
    -- deleting: its documents are being deleted; the row goes last.
    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deleting')),
    -- When the schedule next starts a run (NULL: no schedule).
    next_run_at timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sources_tenant ON sources (tenant_id, created_at, id);
CREATE INDEX sources_due ON sources (next_run_at) WHERE next_run_at IS NOT NULL AND status = 'active';

-- A run: one crawl of a source, in slices (each a job) that resume from
-- the frontier below, so a crash or a restart loses no more than a slice.
-- At most one run of a source is running at a time.
CREATE TABLE source_runs (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL,
    source_id   uuid NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    trigger     text NOT NULL CHECK (trigger IN ('created', 'manual', 'schedule')),
    status      text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed', 'failed')),
    started_at  timestamptz NOT NULL DEFAULT now(),
    ended_at    timestamptz,
    fetched     integer NOT NULL DEFAULT 0,
    new         integer NOT NULL DEFAULT 0,
    changed     integer NOT NULL DEFAULT 0,
    unchanged   integer NOT NULL DEFAULT 0,
    removed     integer NOT NULL DEFAULT 0,
    failed      integer NOT NULL DEFAULT 0,
    -- The run stopped at max_pages: pages it did not reach are not missing.
    truncated   boolean NOT NULL DEFAULT false,
    error       text
);
CREATE INDEX source_runs_source ON source_runs (tenant_id, source_id, started_at DESC);
CREATE UNIQUE INDEX source_runs_one_running ON source_runs (source_id) WHERE status = 'running';

-- A run's frontier: every URL it found, once. Rows that are neither
-- failed nor skipped go when the run ends; the failures stay as its report.
CREATE TABLE source_run_urls (
    run_id    uuid NOT NULL REFERENCES source_runs (id) ON DELETE CASCADE,
    url       text NOT NULL,
    depth     integer NOT NULL,
    seq       bigserial,
    state     text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'done', 'failed', 'skipped')),
    reason    text,
    PRIMARY KEY (run_id, url)
);
CREATE INDEX source_run_urls_queued ON source_run_urls (run_id, depth, seq) WHERE state = 'queued';

-- What ragd knows of each page of a source between runs: its document,
-- the validators for conditional requests, the hash of the bytes last
-- stored, the links it had (a page answered 304 is not read again, and
-- the crawl goes on from them) and for how many runs in a row it has been
-- missing.
CREATE TABLE source_pages (
    tenant_id     uuid NOT NULL,
    source_id     uuid NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    url           text NOT NULL,
    document_id   uuid,
    etag          text,
    last_modified text,
    sha256        bytea,
    -- For an HTML page, the hash of its text: new markup around the same
    -- text is not processed again.
    text_sha256   bytea,
    links         text[] NOT NULL DEFAULT '{}',
    missing_runs  integer NOT NULL DEFAULT 0,
    last_run_id   uuid,
    fetched_at    timestamptz,
    PRIMARY KEY (source_id, url)
);
CREATE INDEX source_pages_document ON source_pages (document_id);
