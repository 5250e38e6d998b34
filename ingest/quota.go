package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ragd/ragd"
)

// Quotas are the defaults for tenants that have none of their own (set
// by the admin on the tenant); nil is unlimited.
type Quotas struct {
	Documents               *int64
	StoredBytes             *int64
	EmbeddingTokensPerMonth *int64
}

// QuotaUse is one quota as a tenant sees it: its limit (nil: none) and
// what is used of it.
type QuotaUse struct {
	Limit *int64 `json:"limit"`
	Used  int64  `json:"used"`
}

// QuotaUsage is every quota of a tenant, as /v1/usage reports it.
type QuotaUsage struct {
	Documents   QuotaUse `json:"documents"`
	StoredBytes QuotaUse `json:"stored_bytes"`
	// EmbeddingTokensThisMonth counts the calendar month (UTC) so far.
	EmbeddingTokensThisMonth QuotaUse  `json:"embedding_tokens_this_month"`
	MonthResetsAt            time.Time `json:"month_resets_at"`
}

// quotaUsage reads a tenant's quotas and what it uses of them, in q (a
// pool or a transaction).
func (s *Documents) quotaUsage(ctx context.Context, q pgx.Tx, tenantID uuid.UUID) (QuotaUsage, error) {
	var u QuotaUsage
	var row pgx.Row
	const query = `SELECT coalesce(t.quota_documents, $2), coalesce(t.quota_stored_bytes, $3), coalesce(t.quota_embedding_tokens, $4),
		(SELECT count(*) FROM documents WHERE tenant_id = $1 AND status <> 'deleting'),
		(SELECT coalesce(sum(size_bytes), 0) FROM documents WHERE tenant_id = $1 AND status <> 'deleting'),
		coalesce((SELECT embedding_tokens FROM tenant_usage_monthly WHERE tenant_id = $1 AND month = $5), 0)
		FROM tenants t WHERE t.id = $1`
	month := monthStart(time.Now())
	args := []any{tenantID, s.quotas.Documents, s.quotas.StoredBytes, s.quotas.EmbeddingTokensPerMonth, month}
	if q != nil {
		row = q.QueryRow(ctx, query, args...)
	} else {
		row = s.pool.QueryRow(ctx, query, args...)
	}
	err := row.Scan(&u.Documents.Limit, &u.StoredBytes.Limit, &u.EmbeddingTokensThisMonth.Limit,
		&u.Documents.Used, &u.StoredBytes.Used, &u.EmbeddingTokensThisMonth.Used)
	if err != nil {
		return u, notFound(err, "read quotas")
	}
	u.MonthResetsAt = month.AddDate(0, 1, 0)
	return u, nil
}

// checkUploadQuota refuses an upload of size bytes that the tenant's
// quotas do not allow. It serialises the tenant's uploads for the rest of
// tx when any quota is set, so that two at once cannot both take the last
// place.
func (s *Documents) checkUploadQuota(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, size int64) error {
	// Without quotas nothing is counted and uploads are not serialised.
	var docs, bytes, tokens *int64
	err := tx.QueryRow(ctx, `SELECT coalesce(quota_documents, $2), coalesce(quota_stored_bytes, $3), coalesce(quota_embedding_tokens, $4)
		FROM tenants WHERE id = $1`, tenantID, s.quotas.Documents, s.quotas.StoredBytes, s.quotas.EmbeddingTokensPerMonth).Scan(&docs, &bytes, &tokens)
	if err != nil {
		return notFound(err, "read quotas")
	}
	if docs == nil && bytes == nil && tokens == nil {
		return nil
	}
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", "ragd:quota:"+tenantID.String()); err != nil {
		return err
	}
	u, err := s.quotaUsage(ctx, tx, tenantID)
	if err != nil {
		return err
	}
	switch d, b, tk := u.Documents, u.StoredBytes, u.EmbeddingTokensThisMonth; {
	case d.Limit != nil && d.Used+1 > *d.Limit:
		return &ragd.QuotaError{Quota: "documents", Limit: *d.Limit, Used: d.Used}
	case b.Limit != nil && b.Used+size > *b.Limit:
		return &ragd.QuotaError{Quota: "stored_bytes", Limit: *b.Limit, Used: b.Used}
	case tk.Limit != nil && tk.Used >= *tk.Limit:
		return &ragd.QuotaError{Quota: "embedding_tokens_per_month", Limit: *tk.Limit, Used: tk.Used,
			RetryAfter: time.Until(u.MonthResetsAt).Round(time.Second)}
	}
	return nil
}

// tokensLeft says whether the tenant may still spend embedding tokens this
// month; a document already under way may take the quota past its limit
// (by at most one document), the next one fails.
func (s *Documents) tokensLeft(ctx context.Context, tenantID uuid.UUID) error {
	month := monthStart(time.Now())
	var limit *int64
	var used int64
	err := s.pool.QueryRow(ctx, `SELECT coalesce(t.quota_embedding_tokens, $2),
		coalesce((SELECT embedding_tokens FROM tenant_usage_monthly WHERE tenant_id = $1 AND month = $3), 0)
		FROM tenants t WHERE t.id = $1`, tenantID, s.quotas.EmbeddingTokensPerMonth, month).Scan(&limit, &used)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // the tenant is gone: the run is stale anyway
	}
	if err != nil {
		return fmt.Errorf("read embedding quota: %w", err)
	}
	if limit != nil && used >= *limit {
		return &Error{Code: CodeQuotaExceeded, Message: fmt.Sprintf(
			"the tenant's embedding quota of %d tokens this month is used up; reindex the document after %s or ask for a higher quota",
			*limit, month.AddDate(0, 1, 0).Format("2006-01-02"))}
	}
	return nil
}

func monthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}
