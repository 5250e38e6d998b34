// Package usage keeps what each tenant uses, for billing and quotas:
// running totals (tenant_usage), the embedding tokens of each calendar
// month (tenant_usage_monthly) and a row a day (tenant_usage_daily), all
// in UTC. It is the one writer of those tables: the packages whose work
// is used (uploads, embedding, searches) record it in their own
// transactions through Record and RecordUpload.
package usage

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/postgres"
)

// Record adds to the tenant's running totals, the month's embedding
// tokens and today's row, in one statement. A tenant that no longer
// exists is ignored.
func Record(ctx context.Context, db postgres.DB, tenantID uuid.UUID, embeddingTokens, searches int) error {
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
		tenantID, embeddingTokens, searches, MonthStart(now), DayStart(now))
	if err != nil {
		return fmt.Errorf("record usage: %w", err)
	}
	return nil
}

// RecordUpload counts a new document of size bytes in today's row, in the
// transaction that creates it. Call it last in that transaction, so that a
// tenant's concurrent uploads wait on the day's row only for the commit,
// not while the bytes are copied.
func RecordUpload(ctx context.Context, db postgres.DB, tenantID uuid.UUID, size int64) error {
	_, err := db.Exec(ctx, `INSERT INTO tenant_usage_daily (tenant_id, day, documents_uploaded, bytes_uploaded)
		VALUES ($1, $2, 1, $3)
		ON CONFLICT (tenant_id, day) DO UPDATE SET documents_uploaded = tenant_usage_daily.documents_uploaded + 1,
			bytes_uploaded = tenant_usage_daily.bytes_uploaded + $3`,
		tenantID, DayStart(time.Now()), size)
	if err != nil {
		return fmt.Errorf("record upload usage: %w", err)
	}
	return nil
}

// MonthTokens returns the embedding tokens the tenant used in the month
// that starts at month (MonthStart).
func MonthTokens(ctx context.Context, db postgres.DB, tenantID uuid.UUID, month time.Time) (int64, error) {
	var used int64
	err := db.QueryRow(ctx, `SELECT coalesce((SELECT embedding_tokens FROM tenant_usage_monthly WHERE tenant_id = $1 AND month = $2), 0)`,
		tenantID, month).Scan(&used)
	if err != nil {
		return 0, fmt.Errorf("read the month's embedding tokens: %w", err)
	}
	return used, nil
}

// Totals are a tenant's running totals since it was created.
type Totals struct {
	EmbeddingTokens, Searches int64
}

// ReadTotals returns the tenant's running totals (zeros for none yet).
func ReadTotals(ctx context.Context, db postgres.DB, tenantID uuid.UUID) (Totals, error) {
	var t Totals
	err := db.QueryRow(ctx, `SELECT coalesce((SELECT embedding_tokens FROM tenant_usage WHERE tenant_id = $1), 0),
		coalesce((SELECT searches FROM tenant_usage WHERE tenant_id = $1), 0)`, tenantID).Scan(&t.EmbeddingTokens, &t.Searches)
	if err != nil {
		return t, fmt.Errorf("usage: %w", err)
	}
	return t, nil
}

// MonthStart is the start of t's calendar month in UTC, the month
// embedding tokens are counted in.
func MonthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// DayStart is the start of t's day in UTC, the day usage is counted on.
func DayStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// The range of days Daily reports.
const (
	DefaultDays = 30
	MaxDays     = 366
)

// DaysProblem says what is wrong with a number of days out of range.
var DaysProblem = fmt.Sprintf("must be an integer from 1 to %d", MaxDays)

// Day is a tenant's usage on one day (UTC).
type Day struct {
	// Day is the date, as 2006-01-02.
	Day               string `json:"day"`
	EmbeddingTokens   int64  `json:"embedding_tokens"`
	Searches          int64  `json:"searches"`
	DocumentsUploaded int64  `json:"documents_uploaded"`
	BytesUploaded     int64  `json:"bytes_uploaded"`
}

// Daily returns the tenant's usage on each of the last days days (UTC),
// today included, oldest first; a day without usage is all zeros. days
// must be from 1 to MaxDays, else a *ragd.ValidationError for the field
// "days".
func Daily(ctx context.Context, db postgres.DB, tenantID uuid.UUID, days int) ([]Day, error) {
	if days < 1 || days > MaxDays {
		return nil, (ragd.Problems{"days": DaysProblem}).Err()
	}
	rows, err := db.Query(ctx, `SELECT g.day, coalesce(u.embedding_tokens, 0), coalesce(u.searches, 0),
			coalesce(u.documents_uploaded, 0), coalesce(u.bytes_uploaded, 0)
		FROM (SELECT $2::date - i AS day FROM generate_series(0, $3::int - 1) AS i) g
		LEFT JOIN tenant_usage_daily u ON u.tenant_id = $1 AND u.day = g.day
		ORDER BY g.day`, tenantID, DayStart(time.Now()), days)
	if err != nil {
		return nil, fmt.Errorf("daily usage: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Day, error) {
		var d Day
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
