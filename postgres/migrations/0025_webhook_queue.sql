-- Webhook deliveries get their own River queue, "webhooks" (issue 23): a
-- receiver that hangs for the whole attempt timeout held an ingest worker
-- per attempt, and another tenant's uploads waited for it. Jobs already
-- queued in the default queue move over (River's tables do not exist yet
-- on a new database: its migrations run after ragd's).
DO $$
BEGIN
    IF to_regclass('river_job') IS NOT NULL THEN
        UPDATE river_job SET queue = 'webhooks'
        WHERE kind = 'deliver_webhook' AND queue = 'default'
          AND state IN ('available', 'pending', 'retryable', 'scheduled');
    END IF;
END $$;

-- Deliver shares the senders by tenant: it counts each tenant's
-- deliveries in flight and the tenants with deliveries due, on every
-- attempt.
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (tenant_id, next_attempt_at, leased_until) WHERE status = 'pending';
