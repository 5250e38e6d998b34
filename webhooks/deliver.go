package webhooks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// orderWait is how long a delivery waits, at least, for an earlier event
// of its subject to the same endpoint to be delivered or given up.
const orderWait = time.Second

// LeaseFor is how long a worker holds a delivery while it sends it: longer
// than an attempt, so that a crashed worker's delivery is sent again soon
// after and a live one's never twice at once.
func (s *Service) LeaseFor() time.Duration { return s.cfg.Timeout + 20*time.Second }

// Deliver makes the delivery's next attempt, if it is still due: pending,
// of generation generation, to an enabled endpoint, with every earlier
// event of its subject to that endpoint delivered or given up. It returns
// how long to wait before calling it again (0: nothing more to do), or an
// error of ragd's own (Postgres), after which the call should be retried.
//
// A failed attempt waits the next step of Config.Retries; when they are
// used up the delivery fails, and so does the endpoint (disabled, with the
// reason) when no attempt to it succeeded since this delivery's first.
func (s *Service) Deliver(ctx context.Context, tenantID, deliveryID uuid.UUID, generation int) (time.Duration, error) {
	var (
		status, url           string
		gen, attempts         int
		endpointID, subjectID uuid.UUID
		eventID               uuid.UUID
		seq                   int64
		enabled               bool
		sealed, payload       []byte
	)
	err := s.pool.QueryRow(ctx, `SELECT d.status, d.generation, d.attempts, d.endpoint_id, d.event_id, d.subject_id, d.seq,
			e.enabled, e.url, e.secret_sealed, ev.payload
		FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id JOIN webhook_events ev ON ev.id = d.event_id
		WHERE d.tenant_id = $1 AND d.id = $2`, tenantID, deliveryID).Scan(&status, &gen, &attempts, &endpointID, &eventID, &subjectID, &seq,
		&enabled, &url, &sealed, &payload)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil // the endpoint, or the tenant, is gone
	}
	if err != nil {
		return 0, fmt.Errorf("read delivery: %w", err)
	}
	if status != StatusPending || gen != generation {
		return 0, nil // done, or sent again by a newer run
	}
	if !enabled {
		_, err := s.pool.Exec(ctx, `UPDATE webhook_deliveries SET status = 'failed', last_error = 'not sent: the endpoint is disabled', leased_until = NULL
			WHERE tenant_id = $1 AND id = $2 AND generation = $3 AND status = 'pending'`, tenantID, deliveryID, generation)
		if err != nil {
			return 0, fmt.Errorf("fail delivery: %w", err)
		}
		return 0, nil
	}
	var earlier time.Time
	err = s.pool.QueryRow(ctx, `SELECT next_attempt_at FROM webhook_deliveries
		WHERE endpoint_id = $1 AND subject_id = $2 AND seq < $3 AND status = 'pending' ORDER BY seq LIMIT 1`, endpointID, subjectID, seq).Scan(&earlier)
	switch {
	case err == nil:
		return max(time.Until(earlier), 0) + orderWait, nil
	case !errors.Is(err, pgx.ErrNoRows):
		return 0, fmt.Errorf("check earlier deliveries: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE webhook_deliveries SET leased_until = now() + $4::bigint * interval '1 millisecond'
		WHERE tenant_id = $1 AND id = $2 AND generation = $3 AND status = 'pending' AND (leased_until IS NULL OR leased_until < now())`,
		tenantID, deliveryID, generation, s.LeaseFor().Milliseconds())
	if err != nil {
		return 0, fmt.Errorf("lease delivery: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return s.LeaseFor(), nil // another worker is sending it (or a crashed one was)
	}

	var res result
	if s.box == nil {
		res = result{err: "this process has no encryption key to open the endpoint's signing secret"}
	} else if key, err := s.box.Open(sealed, binding(endpointID)); err != nil {
		res = result{err: "cannot open the endpoint's signing secret (was RAGD_ENCRYPTION_KEY changed?)"}
	} else {
		res = s.sender.send(ctx, url, key, eventID.String(), payload)
	}
	// The attempt happened: record it even if the job's context ended.
	return s.recordAttempt(context.WithoutCancel(ctx), tenantID, deliveryID, endpointID, attempts, res)
}

// recordAttempt stores an attempt and what follows from it, in one
// transaction, and returns when to try again (0: not again).
func (s *Service) recordAttempt(ctx context.Context, tenantID, deliveryID, endpointID uuid.UUID, attempts int, res result) (time.Duration, error) {
	var wait time.Duration
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var code *int
		if res.statusCode != 0 {
			code = &res.statusCode
		}
		var errText, response *string
		if res.err != "" {
			errText = &res.err
		}
		if res.response != "" {
			response = &res.response
		}
		if _, err := tx.Exec(ctx, `INSERT INTO webhook_attempts (delivery_id, tenant_id, attempt, status_code, latency_ms, error, response)
			VALUES ($1, $2, (SELECT count(*) + 1 FROM webhook_attempts WHERE delivery_id = $1), $3, $4, $5, $6)`,
			deliveryID, tenantID, code, res.latency.Milliseconds(), errText, response); err != nil {
			return fmt.Errorf("record attempt: %w", err)
		}
		if res.delivered() {
			if _, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, delivered_at = now(),
				leased_until = NULL, last_error = NULL WHERE id = $1`, deliveryID); err != nil {
				return fmt.Errorf("mark delivered: %w", err)
			}
			_, err := tx.Exec(ctx, "UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL", endpointID)
			return err
		}
		var failingSince time.Time
		if err := tx.QueryRow(ctx, `UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, now()) WHERE id = $1 RETURNING failing_since`,
			endpointID).Scan(&failingSince); err != nil {
			return fmt.Errorf("record failing endpoint: %w", err)
		}
		n := attempts + 1
		if n <= len(s.cfg.Retries) {
			wait = s.cfg.Retries[n-1]
			_, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET attempts = $2, next_attempt_at = now() + $3::bigint * interval '1 millisecond', leased_until = NULL, last_error = $4
				WHERE id = $1`, deliveryID, n, wait.Milliseconds(), res.err)
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET status = 'failed', attempts = $2, leased_until = NULL, last_error = $3 WHERE id = $1`,
			deliveryID, n, res.err); err != nil {
			return fmt.Errorf("fail delivery: %w", err)
		}
		// Disabled only when nothing got through since this delivery
		// began: one event a receiver refuses does not disable it.
		reason := excerpt(fmt.Sprintf("every attempt failed since %s; a delivery used up its %d attempts (last error: %s). Fix the receiver, then enable the endpoint and retry its failed deliveries.",
			failingSince.UTC().Format(time.RFC3339), n, res.err))
		_, err := tx.Exec(ctx, `UPDATE webhook_endpoints SET enabled = false, disabled_reason = $2, updated_at = now()
			WHERE id = $1 AND enabled AND failing_since <= (SELECT min(created_at) FROM webhook_attempts WHERE delivery_id = $3)`,
			endpointID, reason, deliveryID)
		return err
	})
	if err != nil {
		return 0, err
	}
	return wait, nil
}
