-- Signed webhooks (issue 14). A tenant's endpoints, the events they are
-- told about and each delivery of an event to an endpoint, with its
-- attempts. Everything is the tenant's and goes with it.
--
-- The signing secret must be usable to sign, so it is sealed with
-- RAGD_ENCRYPTION_KEY (AES-256-GCM, bound to the endpoint id) like agents'
-- secrets, and shown only in the answer that creates the endpoint.
CREATE TABLE webhook_endpoints (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    url             text NOT NULL,
    description     text NOT NULL DEFAULT '',
    event_types     text[] NOT NULL,
    secret_sealed   bytea NOT NULL,
    enabled         boolean NOT NULL DEFAULT true,
    -- Why ragd disabled the endpoint (NULL when a person did, or it is on).
    disabled_reason text,
    -- The first failed attempt since the last delivered one (NULL: none).
    failing_since   timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant_id, created_at, id);

-- The outbox: one row per event, written in the transaction of the state
-- change it reports, and only when an enabled endpoint of the tenant asked
-- for its type. payload is the body every endpoint receives, byte for byte
-- (json, not jsonb, keeps it as written).
CREATE TABLE webhook_events (
    id         uuid PRIMARY KEY,
    -- seq orders a subject's events (a document's ready, then deleted).
    seq        bigserial NOT NULL UNIQUE,
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    type       text NOT NULL,
    subject_id uuid NOT NULL,
    payload    json NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- One row per (endpoint, event): its state, and what the latest attempt
-- said. A deliver_webhook job works it; generation changes when a person
-- asks for it again, so that an older job of the same delivery stops.
CREATE TABLE webhook_deliveries (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    endpoint_id     uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id        uuid NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    subject_id      uuid NOT NULL,
    seq             bigint NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    generation      integer NOT NULL DEFAULT 1,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    -- A worker sending it holds it until then (a crash frees it).
    leased_until    timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at, id);
-- "Is an earlier event of this subject still pending for this endpoint?"
CREATE INDEX webhook_deliveries_order ON webhook_deliveries (endpoint_id, subject_id, seq) WHERE status = 'pending';

-- Every HTTP attempt: its status, latency and at most 512 bytes of what
-- the receiver answered or what went wrong.
CREATE TABLE webhook_attempts (
    id          bigserial PRIMARY KEY,
    delivery_id uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    tenant_id   uuid NOT NULL,
    attempt     integer NOT NULL,
    status_code integer,
    latency_ms  integer NOT NULL,
    error       text,
    response    text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);
