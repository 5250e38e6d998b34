package ingest

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ragd/ragd"
)

// Usage is what a tenant has used, for billing.
type Usage struct {
	TenantID uuid.UUID `json:"tenant_id"`
	// Documents not being deleted, and of those how many per status.
	Documents         int            `json:"documents"`
	DocumentsByStatus map[string]int `json:"documents_by_status"`
	Chunks            int64          `json:"chunks"`
	StoredBytes       int64          `json:"stored_bytes"`
	// EmbeddingTokens billed by the provider, for ingest and queries.
	EmbeddingTokens int64     `json:"embedding_tokens"`
	Searches        int64     `json:"searches"`
	AsOf            time.Time `json:"as_of"`
	// Quotas: each limit (null: none) and what is used of it.
	Quotas QuotaUsage `json:"quotas"`
}

// AddUsage adds to a tenant's running totals. A tenant that no longer
// exists is ignored.
func (s *Documents) AddUsage(ctx context.Context, tenantID uuid.UUID, embeddingTokens, searches int) error {
	return addUsage(ctx, s.pool, tenantID, embeddingTokens, searches)
}

// execer is a pool, a connection or a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// addUsage adds to the tenant's running totals, the month's embedding
// tokens and today's row of tenant_usage_daily, in one statement.
func addUsage(ctx context.Context, db execer, tenantID uuid.UUID, embeddingTokens, searches int) error {
	if embeddingTokens == 0 && searches == 0 {
		return nil
	}
	now := time.Now()
	_, err := db.Exec(ctx, `WITH total AS (
		INSERT INTO tenant_usage (tenant_id, embedding_tokens, searches)
		SELECT $1, $2, $3 WHERE EXISTS (SELECT FROM tenants WHERE id = $1)
		ON CONFLICT (tenant_id) DO UPDATE SET embedding_tokens = tenant_usage.embedding_tokens + $2,
			searches = tenant_usage.searches + $3, updated_at = now()
		RETURNING tenant_id),
	monthly AS (
		INSERT INTO tenant_usage_monthly (tenant_id, month, embedding_tokens)
		SELECT tenant_id, $4, $2 FROM total WHERE $2 > 0
		ON CONFLICT (tenant_id, month) DO UPDATE SET embedding_tokens = tenant_usage_monthly.embedding_tokens + $2)
		INSERT INTO tenant_usage_daily (tenant_id, day, embedding_tokens, searches)
		SELECT tenant_id, $5, $2, $3 FROM total
		ON CONFLICT (tenant_id, day) DO UPDATE SET embedding_tokens = tenant_usage_daily.embedding_tokens + $2,
			searches = tenant_usage_daily.searches + $3`,
		tenantID, embeddingTokens, searches, monthStart(now), dayStart(now))
	if err != nil {
		return fmt.Errorf("record usage: %w", err)
	}
	return nil
}

// addUploadUsage counts a new document of size bytes in today's row of
// tenant_usage_daily, in the transaction that creates it. Create calls it
// last, so a tenant's concurrent uploads wait on the day's row only for
// the commit, not while the bytes are copied.
func addUploadUsage(ctx context.Context, db execer, tenantID uuid.UUID, size int64) error {
	_, err := db.Exec(ctx, `INSERT INTO tenant_usage_daily (tenant_id, day, documents_uploaded, bytes_uploaded)
		VALUES ($1, $2, 1, $3)
		ON CONFLICT (tenant_id, day) DO UPDATE SET documents_uploaded = tenant_usage_daily.documents_uploaded + 1,
			bytes_uploaded = tenant_usage_daily.bytes_uploaded + $3`,
		tenantID, dayStart(time.Now()), size)
	if err != nil {
		return fmt.Errorf("record upload usage: %w", err)
	}
	return nil
}

// dayStart is the start of t's day in UTC, the day usage is counted on.
func dayStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// The range of days UsageDaily reports.
const (
	DefaultUsageDays = 30
	MaxUsageDays     = 366
)

// UsageDaysProblem says what is wrong with a number of days out of range.
var UsageDaysProblem = fmt.Sprintf("must be an integer from 1 to %d", MaxUsageDays)

// UsageDay is a tenant's usage on one day (UTC).
type UsageDay struct {
	// Day is the date, as 2006-01-02.
	Day               string `json:"day"`
	EmbeddingTokens   int64  `json:"embedding_tokens"`
	Searches          int64  `json:"searches"`
	DocumentsUploaded int64  `json:"documents_uploaded"`
	BytesUploaded     int64  `json:"bytes_uploaded"`
}

// UsageDaily returns the tenant's usage on each of the last days days
// (UTC), today included, oldest first; a day without usage is all zeros.
// days must be from 1 to MaxUsageDays, else a *ragd.ValidationError for
// the field "days".
func (s *Documents) UsageDaily(ctx context.Context, tenantID uuid.UUID, days int) ([]UsageDay, error) {
	if days < 1 || days > MaxUsageDays {
		return nil, (ragd.Problems{"days": UsageDaysProblem}).Err()
	}
	rows, err := s.pool.Query(ctx, `SELECT g.day, coalesce(u.embedding_tokens, 0), coalesce(u.searches, 0),
			coalesce(u.documents_uploaded, 0), coalesce(u.bytes_uploaded, 0)
		FROM (SELECT $2::date - i AS day FROM generate_series(0, $3::int - 1) AS i) g
		LEFT JOIN tenant_usage_daily u ON u.tenant_id = $1 AND u.day = g.day
		ORDER BY g.day`, tenantID, dayStart(time.Now()), days)
	if err != nil {
		return nil, fmt.Errorf("daily usage: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (UsageDay, error) {
		var d UsageDay
		var day time.Time
		err := r.Scan(&day, &d.EmbeddingTokens, &d.Searches, &d.DocumentsUploaded, &d.BytesUploaded)
		d.Day = day.Format(time.DateOnly)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("daily usage: %w", err)
	}
	return out, nil
}

// Usage returns a tenant's usage now.
func (s *Documents) Usage(ctx context.Context, tenantID uuid.UUID) (Usage, error) {
	u := Usage{TenantID: tenantID, DocumentsByStatus: map[string]int{}, AsOf: time.Now().UTC()}
	rows, err := s.pool.Query(ctx, `SELECT status, count(*), coalesce(sum(size_bytes), 0) FROM documents
		WHERE tenant_id = $1 AND status <> 'deleting' GROUP BY status`, tenantID)
	if err != nil {
		return u, fmt.Errorf("usage: %w", err)
	}
	for rows.Next() {
		var status string
		var n int
		var bytes int64
		if err := rows.Scan(&status, &n, &bytes); err != nil {
			rows.Close()
			return u, fmt.Errorf("usage: %w", err)
		}
		u.DocumentsByStatus[status] = n
		u.Documents += n
		u.StoredBytes += bytes
	}
	if err := rows.Err(); err != nil {
		return u, fmt.Errorf("usage: %w", err)
	}
	err = s.pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id
			WHERE c.tenant_id = $1 AND d.status <> 'deleting' AND c.content_version = d.content_version),
		coalesce((SELECT embedding_tokens FROM tenant_usage WHERE tenant_id = $1), 0),
		coalesce((SELECT searches FROM tenant_usage WHERE tenant_id = $1), 0)`, tenantID).
		Scan(&u.Chunks, &u.EmbeddingTokens, &u.Searches)
	if err != nil {
		return u, fmt.Errorf("usage: %w", err)
	}
	if u.Quotas, err = s.quotaUsage(ctx, nil, tenantID); err != nil {
		return u, err
	}
	return u, nil
}
