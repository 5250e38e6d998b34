package webhooks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/postgres"
	"github.com/ragd/ragd/secret"
)

// Jobs adds a delivery's job in the caller's transaction (the jobs
// package implements it). generation identifies the delivery's current
// run: a job of an older one stops.
type Jobs interface {
	EnqueueWebhookDelivery(ctx context.Context, tx pgx.Tx, tenantID, deliveryID uuid.UUID, generation int) error
}

// ErrEndpointDisabled: a delivery of a disabled endpoint cannot be sent
// again until the endpoint is enabled.
var ErrEndpointDisabled = errors.New("the endpoint is disabled; enable it first")

// Service keeps endpoints, events and deliveries in Postgres, and delivers.
// Every method that reads or writes a tenant's rows takes its id.
type Service struct {
	pool   *pgxpool.Pool
	box    *secret.Box
	q      Jobs
	cfg    Config
	sender *sender
	now    func() time.Time
}

// NewService returns a Service. box seals the signing secrets; q enqueues
// delivery jobs in the transactions that record events.
func NewService(pool *pgxpool.Pool, box *secret.Box, q Jobs, cfg Config) *Service {
	cfg = cfg.withDefaults()
	return &Service{pool: pool, box: box, q: q, cfg: cfg, sender: newSender(cfg), now: time.Now}
}

const endpointColumns = `id, tenant_id, url, description, event_types, enabled, disabled_reason, failing_since, created_at, updated_at`

func scanEndpoint(row pgx.Row) (Endpoint, error) {
	var e Endpoint
	err := row.Scan(&e.ID, &e.TenantID, &e.URL, &e.Description, &e.EventTypes, &e.Enabled, &e.DisabledReason, &e.FailingSince, &e.CreatedAt, &e.UpdatedAt)
	return e, err
}

// binding ties a sealed secret to its endpoint.
func binding(id uuid.UUID) []byte { return []byte("webhook:" + id.String()) }

// SealedSecrets is the column of endpoints' sealed signing secrets, for
// ragd reseal.
var SealedSecrets = postgres.SealedColumn{
	What: "webhook signing secrets", Table: "webhook_endpoints", Column: "secret_sealed",
	Parts: []string{"id::text"},
	Binding: func(parts []string) ([]byte, error) {
		id, err := uuid.Parse(parts[0])
		return binding(id), err
	},
	Name: func(parts []string) string { return "endpoint " + parts[0] },
}

// Create registers an endpoint and returns it with its signing secret,
// which is never shown again. A tenant has at most MaxEndpoints.
func (s *Service) Create(ctx context.Context, tenantID uuid.UUID, in Input) (Endpoint, string, error) {
	in, err := in.validate(s.cfg)
	if err != nil {
		return Endpoint{}, "", err
	}
	if s.box == nil {
		return Endpoint{}, "", errors.New("webhooks: no encryption key to seal signing secrets")
	}
	id := uuid.New()
	key, shown := newSecret()
	var e Endpoint
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The tenant's row lock makes the count and the insert one step.
		if _, err := tx.Exec(ctx, "SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE", tenantID); err != nil {
			return fmt.Errorf("lock tenant: %w", err)
		}
		var n int64
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM webhook_endpoints WHERE tenant_id = $1", tenantID).Scan(&n); err != nil {
			return fmt.Errorf("count endpoints: %w", err)
		}
		if n >= MaxEndpoints {
			return &ragd.QuotaError{Quota: "webhook_endpoints", Limit: MaxEndpoints, Used: n}
		}
		e, err = scanEndpoint(tx.QueryRow(ctx, `INSERT INTO webhook_endpoints (id, tenant_id, url, description, event_types, secret_sealed)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+endpointColumns,
			id, tenantID, in.URL, in.Description, in.EventTypes, s.box.Seal(key, binding(id))))
		if err != nil {
			return fmt.Errorf("insert endpoint: %w", err)
		}
		return nil
	})
	return e, shown, err
}

// Get returns the tenant's endpoint.
func (s *Service) Get(ctx context.Context, tenantID, id uuid.UUID) (Endpoint, error) {
	return getEndpoint(ctx, s.pool, tenantID, id)
}

// getEndpoint reads the tenant's endpoint through q (the pool, or a
// transaction that reads more as of the same moment).
func getEndpoint(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, tenantID, id uuid.UUID) (Endpoint, error) {
	e, err := scanEndpoint(q.QueryRow(ctx, "SELECT "+endpointColumns+" FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2", tenantID, id))
	if err != nil {
		return e, postgres.NotFound(err, "webhook endpoint")
	}
	return e, nil
}

// List returns a page of the tenant's endpoints, oldest first.
func (s *Service) List(ctx context.Context, tenantID uuid.UUID, p ragd.Page) ([]Endpoint, *ragd.Cursor, error) {
	limit := p.Size()
	at, after := p.Key(time.Time{})
	rows, err := s.pool.Query(ctx, "SELECT "+endpointColumns+` FROM webhook_endpoints
		WHERE tenant_id = $1 AND (created_at, id::text) > ($2, $3) ORDER BY created_at, id::text LIMIT $4`, tenantID, at, after, limit+1)
	if err != nil {
		return nil, nil, fmt.Errorf("list endpoints: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Endpoint, error) { return scanEndpoint(r) })
	if err != nil {
		return nil, nil, fmt.Errorf("list endpoints: %w", err)
	}
	list, next := ragd.TrimPage(list, limit, func(e Endpoint) ragd.Cursor { return ragd.Cursor{Time: e.CreatedAt, ID: e.ID.String()} })
	return list, next, nil
}

// Update applies a patch. Enabling clears disabled_reason and
// failing_since; disabling by hand leaves no reason.
func (s *Service) Update(ctx context.Context, tenantID, id uuid.UUID, p Patch) (Endpoint, error) {
	p, err := p.validate(s.cfg)
	if err != nil {
		return Endpoint{}, err
	}
	e, err := scanEndpoint(s.pool.QueryRow(ctx, `UPDATE webhook_endpoints SET
			url = CASE WHEN $3 THEN $4 ELSE url END,
			event_types = CASE WHEN $5 THEN $6::text[] ELSE event_types END,
			description = CASE WHEN $7 THEN $8 ELSE description END,
			enabled = CASE WHEN $9 THEN $10 ELSE enabled END,
			disabled_reason = CASE WHEN $9 THEN NULL ELSE disabled_reason END,
			failing_since = CASE WHEN $9 AND $10 THEN NULL ELSE failing_since END,
			updated_at = now()
		WHERE tenant_id = $1 AND id = $2 RETURNING `+endpointColumns, tenantID, id,
		p.URL.Set, p.URL.Value, p.EventTypes.Set, p.EventTypes.Value, p.Description.Set, p.Description.Value,
		p.Enabled.Set, p.Enabled.Value))
	if err != nil {
		return e, postgres.NotFound(err, "update webhook endpoint")
	}
	return e, nil
}

// Delete removes the endpoint and its deliveries; their jobs find nothing
// to do.
func (s *Service) Delete(ctx context.Context, tenantID, id uuid.UUID) error {
	tag, err := s.pool.Exec(ctx, "DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2", tenantID, id)
	if err != nil {
		return fmt.Errorf("delete webhook endpoint: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete webhook endpoint: %w", ragd.ErrNotFound)
	}
	return nil
}

// Retention is how long events and their deliveries are kept once none
// of their deliveries is pending.
const Retention = 30 * 24 * time.Hour

// Expire deletes the events recorded before before, with their deliveries
// and attempts, unless a delivery of theirs is still pending.
func (s *Service) Expire(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM webhook_events ev WHERE ev.created_at < $1
		AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = ev.id AND d.status = 'pending')`, before)
	if err != nil {
		return 0, fmt.Errorf("expire webhook events: %w", err)
	}
	return tag.RowsAffected(), nil
}

// Record writes an event to the outbox, with a delivery and its job for
// every enabled endpoint of the tenant that asked for its type, in tx: the
// transaction of the change the event reports, so that the event exists
// if and only if the change committed. With no such endpoint it writes
// nothing. data is the event's "data".
//
// Call it after the statement that changes the subject's row: that row's
// lock then orders a subject's events by seq as their changes committed,
// which is the order they are delivered in.
func (s *Service) Record(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, typ string, subjectID uuid.UUID, data any) error {
	rows, err := tx.Query(ctx, "SELECT id FROM webhook_endpoints WHERE tenant_id = $1 AND enabled AND $2 = ANY (event_types)", tenantID, typ)
	if err != nil {
		return fmt.Errorf("find webhook endpoints: %w", err)
	}
	endpoints, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil || len(endpoints) == 0 {
		return err
	}
	eventID, err := uuid.NewV7()
	if err != nil {
		return err
	}
	body, err := marshalEnvelope(typ, s.now(), data)
	if err != nil {
		return fmt.Errorf("webhook payload: %w", err)
	}
	var seq int64
	if err := tx.QueryRow(ctx, `INSERT INTO webhook_events (id, tenant_id, type, subject_id, payload) VALUES ($1, $2, $3, $4, $5) RETURNING seq`,
		eventID, tenantID, typ, subjectID, body).Scan(&seq); err != nil {
		return fmt.Errorf("insert webhook event: %w", err)
	}
	for _, ep := range endpoints {
		id := uuid.New()
		if _, err := tx.Exec(ctx, `INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, subject_id, seq) VALUES ($1, $2, $3, $4, $5, $6)`,
			id, tenantID, ep, eventID, subjectID, seq); err != nil {
			return fmt.Errorf("insert webhook delivery: %w", err)
		}
		if err := s.q.EnqueueWebhookDelivery(ctx, tx, tenantID, id, 1); err != nil {
			return err
		}
	}
	return nil
}

const deliveryColumns = `d.id, d.endpoint_id, d.event_id, ev.type, d.subject_id, d.status,
	CASE WHEN d.status = 'pending' THEN d.next_attempt_at END, d.last_error, d.created_at, d.delivered_at`

func scanDelivery(row pgx.Row) (Delivery, error) {
	var d Delivery
	err := row.Scan(&d.ID, &d.EndpointID, &d.EventID, &d.EventType, &d.SubjectID, &d.Status, &d.NextAttemptAt, &d.LastError, &d.CreatedAt, &d.DeliveredAt)
	d.Attempts = []Attempt{}
	return d, err
}

// Deliveries returns the endpoint and a page of its deliveries, newest
// first, each with its attempts in order, all as of one moment: the
// attempt that turns an endpoint off commits with its delivery's status,
// so a reader sees both or neither.
func (s *Service) Deliveries(ctx context.Context, tenantID, endpointID uuid.UUID, p ragd.Page) (Endpoint, []Delivery, *ragd.Cursor, error) {
	limit := p.Size()
	at, after := p.Key(ragd.EndOfTime)
	var (
		e    Endpoint
		list []Delivery
		next *ragd.Cursor
	)
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		if e, err = getEndpoint(ctx, tx, tenantID, endpointID); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, "SELECT "+deliveryColumns+` FROM webhook_deliveries d JOIN webhook_events ev ON ev.id = d.event_id
			WHERE d.tenant_id = $1 AND d.endpoint_id = $2 AND (d.created_at, d.id::text) < ($3, $4)
			ORDER BY d.created_at DESC, d.id::text DESC LIMIT $5`, tenantID, endpointID, at, after, limit+1)
		if err != nil {
			return fmt.Errorf("list deliveries: %w", err)
		}
		list, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Delivery, error) { return scanDelivery(r) })
		if err != nil {
			return fmt.Errorf("list deliveries: %w", err)
		}
		list, next = ragd.TrimPage(list, limit, func(d Delivery) ragd.Cursor { return ragd.Cursor{Time: d.CreatedAt, ID: d.ID.String()} })
		return attachAttempts(ctx, tx, tenantID, list)
	})
	if err != nil {
		return Endpoint{}, nil, nil, err
	}
	return e, list, next, nil
}

func attachAttempts(ctx context.Context, q pgx.Tx, tenantID uuid.UUID, list []Delivery) error {
	if len(list) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(list))
	at := make(map[uuid.UUID]int, len(list))
	for i, d := range list {
		ids[i], at[d.ID] = d.ID, i
	}
	rows, err := q.Query(ctx, `SELECT delivery_id, attempt, status_code, latency_ms, coalesce(error, ''), coalesce(response, ''), created_at
		FROM webhook_attempts WHERE tenant_id = $1 AND delivery_id = ANY ($2) ORDER BY id`, tenantID, ids)
	if err != nil {
		return fmt.Errorf("list attempts: %w", err)
	}
	var (
		id uuid.UUID
		a  Attempt
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &a.Attempt, &a.StatusCode, &a.LatencyMS, &a.Error, &a.Response, &a.CreatedAt}, func() error {
		i := at[id]
		list[i].Attempts = append(list[i].Attempts, a)
		return nil
	})
	if err != nil {
		return fmt.Errorf("list attempts: %w", err)
	}
	return nil
}

// Retry sends a delivery again now, with a fresh schedule, whatever its
// status; a job of its earlier run stops. ErrEndpointDisabled when the
// endpoint is disabled.
func (s *Service) Retry(ctx context.Context, tenantID, endpointID, deliveryID uuid.UUID) (Delivery, error) {
	var d Delivery
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var enabled bool
		if err := tx.QueryRow(ctx, "SELECT enabled FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2", tenantID, endpointID).Scan(&enabled); err != nil {
			return postgres.NotFound(err, "webhook endpoint")
		}
		if !enabled {
			return ErrEndpointDisabled
		}
		var gen int
		if err := tx.QueryRow(ctx, `UPDATE webhook_deliveries SET status = 'pending', attempts = 0, generation = generation + 1,
				next_attempt_at = now(), leased_until = NULL, delivered_at = NULL
			WHERE tenant_id = $1 AND endpoint_id = $2 AND id = $3 RETURNING generation`, tenantID, endpointID, deliveryID).Scan(&gen); err != nil {
			return postgres.NotFound(err, "webhook delivery")
		}
		var err error
		d, err = scanDelivery(tx.QueryRow(ctx, "SELECT "+deliveryColumns+` FROM webhook_deliveries d JOIN webhook_events ev ON ev.id = d.event_id
			WHERE d.tenant_id = $1 AND d.id = $2`, tenantID, deliveryID))
		if err != nil {
			return fmt.Errorf("read delivery: %w", err)
		}
		list := []Delivery{d}
		if err := attachAttempts(ctx, tx, tenantID, list); err != nil {
			return err
		}
		d = list[0]
		return s.q.EnqueueWebhookDelivery(ctx, tx, tenantID, deliveryID, gen)
	})
	if err != nil {
		return Delivery{}, err
	}
	return d, nil
}
