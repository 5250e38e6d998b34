package jobs

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// waitingTenantsSQL lists the tenants with an ingest job waiting to run:
// released and due (available, scheduled_at passed: not one snoozed for
// later), or not yet released by the dispatcher (pending). Both come off
// River's (state, queue, priority, scheduled_at, id) index. The rows read
// are bounded, so that a tenant's flood of pending jobs costs a bounded
// query: a tenant whose only waiting job sits behind more than
// maxWaitingRows others' pending ones is not seen (its job then waits for
// the next extraction to end, as it would without the share; the
// dispatcher releases it in its turn).
const waitingTenantsSQL = `
SELECT DISTINCT tenant FROM (
	(SELECT args->>'tenant_id' AS tenant FROM river_job
	 WHERE state = 'available' AND queue = 'default' AND scheduled_at <= now() AND kind = 'ingest_document'
	 LIMIT $1)
	UNION ALL
	(SELECT args->>'tenant_id' FROM river_job
	 WHERE state = 'pending' AND queue = 'default' AND kind = 'ingest_document'
	 LIMIT $1)
) w`

// maxWaitingRows bounds the jobs of each state WaitingTenants reads.
const maxWaitingRows = 5000

// WaitingTenants returns the tenants with an ingest job waiting to run,
// in any process: the ingest pipeline asks, to keep a tenant within its
// share of extraction slots while others wait.
func (q *Queue) WaitingTenants(ctx context.Context) ([]uuid.UUID, error) {
	rows, err := q.pool.Query(ctx, waitingTenantsSQL, maxWaitingRows)
	if err != nil {
		return nil, fmt.Errorf("tenants waiting: %w", err)
	}
	ids, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (uuid.UUID, error) {
		var s string
		if err := r.Scan(&s); err != nil {
			return uuid.Nil, err
		}
		return uuid.Parse(s)
	})
	if err != nil {
		return nil, fmt.Errorf("tenants waiting: %w", err)
	}
	return ids, nil
}
