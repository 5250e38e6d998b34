package webhooks

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
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
	if ok, wait, err := s.lease(ctx, tenantID, deliveryID, endpointID, generation); !ok {
		return wait, err
	}

	var res result
	if s.box == nil {
		res = result{err: "this process has no encryption key to open the endpoint's signing secret"}
	} else if key, err := s.box.Open(sealed, binding(endpointID)); err != nil {
		res = result{err: "cannot open the endpoint's signing secret: no encryption key of the server opens it (was RAGD_ENCRYPTION_KEY changed without the old one in RAGD_ENCRYPTION_KEY_PREVIOUS?); create a new endpoint in its place"}
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

// leaseLock serialises the share decisions of every process (a
// transaction advisory lock, held for one short statement group).
const leaseLock = 0x72616764_77686b73 // "ragdwhks"

// lease takes the delivery for one attempt, when its tenant and endpoint
// may send one more now; else it says how long to wait (another worker
// holds it, or its tenant or endpoint is at its share), or 0 when the
// delivery needs nothing more (it was sent or sent again meanwhile).
//
// The senders (Config.Senders) are shared by the tenants with deliveries
// due or in flight: a tenant may have at most Senders / (such tenants) in
// flight, and never all of them, so that another tenant's first delivery
// finds a sender free. An endpoint that is failing (no attempt succeeded
// since its last failure) gets one attempt at a time: a receiver that
// hangs for the whole timeout costs its tenant one sender, not one per
// event. A healthy endpoint gets as many as its tenant's share.
func (s *Service) lease(ctx context.Context, tenantID, deliveryID, endpointID uuid.UUID, generation int) (bool, time.Duration, error) {
	var (
		wait   time.Duration
		leased bool
	)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(leaseLock)); err != nil {
			return err
		}
		var (
			mine, tenants int
			failing, busy bool
			heldUntil     *time.Time
		)
		err := tx.QueryRow(ctx, `SELECT
				(SELECT count(*) FROM webhook_deliveries WHERE tenant_id = $1 AND status = 'pending' AND leased_until > now()),
				(SELECT count(DISTINCT tenant_id) FROM webhook_deliveries WHERE status = 'pending'
					AND (leased_until > now() OR next_attempt_at <= now())),
				(SELECT failing_since IS NOT NULL FROM webhook_endpoints WHERE id = $2),
				EXISTS (SELECT 1 FROM webhook_deliveries WHERE endpoint_id = $2 AND status = 'pending' AND leased_until > now()),
				(SELECT leased_until FROM webhook_deliveries WHERE id = $3 AND leased_until > now())`,
			tenantID, endpointID, deliveryID).Scan(&mine, &tenants, &failing, &busy, &heldUntil)
		if err != nil {
			return fmt.Errorf("read webhook shares: %w", err)
		}
		switch {
		case heldUntil != nil: // another worker is sending it (or a crashed one was)
			wait = max(time.Until(*heldUntil), time.Second)
			return nil
		case failing && busy:
			wait = s.shareWait(s.cfg.Timeout)
			return nil
		case mine >= shareOf(s.cfg.Senders, tenants):
			wait = s.shareWait(s.cfg.Timeout / 2)
			return nil
		}
		tag, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET leased_until = now() + $4::bigint * interval '1 millisecond'
			WHERE tenant_id = $1 AND id = $2 AND generation = $3 AND status = 'pending' AND (leased_until IS NULL OR leased_until < now())`,
			tenantID, deliveryID, generation, s.LeaseFor().Milliseconds())
		if err != nil {
			return fmt.Errorf("lease delivery: %w", err)
		}
		leased = tag.RowsAffected() == 1
		return nil
	})
	if err != nil {
		return false, 0, fmt.Errorf("lease delivery: %w", err)
	}
	return leased, wait, nil
}

// shareOf is how many deliveries a tenant may have in flight when tenants
// tenants (itself among them) have some due or in flight: an equal share
// of senders, at least one, and never every sender while there are two.
func shareOf(senders, tenants int) int {
	share := senders / max(tenants, 1)
	if senders > 1 {
		share = min(share, senders-1)
	}
	return max(share, 1)
}

// shareWait is how long a delivery that found its share taken waits
// before it asks again: up to d, spread so that a backlog's jobs do not
// all ask at once.
func (s *Service) shareWait(d time.Duration) time.Duration {
	d = max(d, 2*time.Second)
	return d/2 + rand.N(d/2)
}
