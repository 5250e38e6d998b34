package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/postgres"
	"github.com/ragd/ragd/usage"
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

// limits returns the tenant's quotas: its own (package agents keeps them),
// else the defaults.
func (s *Documents) limits(ctx context.Context, db postgres.DB, tenantID uuid.UUID) (Quotas, error) {
	q, err := s.tenants.TenantQuotas(ctx, db, tenantID)
	if err != nil {
		return Quotas{}, err
	}
	return Quotas{Documents: cmp.Or(q.Documents, s.quotas.Documents), StoredBytes: cmp.Or(q.StoredBytes, s.quotas.StoredBytes),
		EmbeddingTokensPerMonth: cmp.Or(q.EmbeddingTokensPerMonth, s.quotas.EmbeddingTokensPerMonth)}, nil
}

// quotaUsage reads what a tenant uses of its quotas q, in db (a pool or a
// transaction).
func (s *Documents) quotaUsage(ctx context.Context, db postgres.DB, tenantID uuid.UUID, q Quotas) (QuotaUsage, error) {
	var docs, bytes int64
	err := db.QueryRow(ctx, `SELECT count(*), coalesce(sum(size_bytes), 0) FROM documents WHERE tenant_id = $1 AND status <> 'deleting'`,
		tenantID).Scan(&docs, &bytes)
	if err != nil {
		return QuotaUsage{}, fmt.Errorf("read quotas: %w", err)
	}
	return quotaUsageOf(ctx, db, tenantID, q, docs, bytes)
}

// quotaUsageOf is quotaUsage for a tenant of docs documents of bytes bytes
// (not being deleted): it reads the month's embedding tokens.
func quotaUsageOf(ctx context.Context, db postgres.DB, tenantID uuid.UUID, q Quotas, docs, bytes int64) (QuotaUsage, error) {
	month := usage.MonthStart(time.Now())
	tokens, err := usage.MonthTokens(ctx, db, tenantID, month)
	if err != nil {
		return QuotaUsage{}, err
	}
	return QuotaUsage{Documents: QuotaUse{Limit: q.Documents, Used: docs}, StoredBytes: QuotaUse{Limit: q.StoredBytes, Used: bytes},
		EmbeddingTokensThisMonth: QuotaUse{Limit: q.EmbeddingTokensPerMonth, Used: tokens}, MonthResetsAt: month.AddDate(0, 1, 0)}, nil
}

// checkUploadQuota refuses an upload of size bytes that the tenant's
// quotas do not allow. It serialises the tenant's uploads for the rest of
// tx when any quota is set, so that two at once cannot both take the last
// place.
func (s *Documents) checkUploadQuota(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, size int64) error {
	q, err := s.limits(ctx, tx, tenantID)
	if err != nil {
		return err
	}
	// Without quotas nothing is counted and uploads are not serialised.
	if q.Documents == nil && q.StoredBytes == nil && q.EmbeddingTokensPerMonth == nil {
		return nil
	}
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", "ragd:quota:"+tenantID.String()); err != nil {
		return err
	}
	u, err := s.quotaUsage(ctx, tx, tenantID, q)
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

// QueryTokensLeft refuses with a *ragd.QuotaError (429, Retry-After: the
// month's end) a query embedding of a tenant whose monthly embedding
// tokens are spent: searches and evaluations bill the same quota as
// documents. nil without a token quota, or while some is left.
func (s *Documents) QueryTokensLeft(ctx context.Context, tenantID uuid.UUID) error {
	q, err := s.limits(ctx, s.pool, tenantID)
	if err != nil || q.EmbeddingTokensPerMonth == nil {
		return err
	}
	month := usage.MonthStart(time.Now())
	used, err := usage.MonthTokens(ctx, s.pool, tenantID, month)
	if err != nil {
		return err
	}
	if limit := *q.EmbeddingTokensPerMonth; used >= limit {
		return &ragd.QuotaError{Quota: "embedding_tokens_per_month", Limit: limit, Used: used,
			RetryAfter: time.Until(month.AddDate(0, 1, 0)).Round(time.Second)}
	}
	return nil
}

// tokensLeft says whether the tenant may still spend embedding tokens this
// month on a document (QueryTokensLeft, as the document's failure); a
// document already under way may take the quota past its limit (by at
// most one document), the next one fails.
func (s *Documents) tokensLeft(ctx context.Context, tenantID uuid.UUID) error {
	err := s.QueryTokensLeft(ctx, tenantID)
	var qe *ragd.QuotaError
	switch {
	case errors.Is(err, ragd.ErrNotFound):
		return nil // the tenant is gone: the run is stale anyway
	case errors.As(err, &qe):
		return &Error{Code: CodeQuotaExceeded, Message: fmt.Sprintf(
			"the tenant's embedding quota of %d tokens this month is used up; reindex the document after %s or ask for a higher quota",
			qe.Limit, usage.MonthStart(time.Now()).AddDate(0, 1, 0).Format("2006-01-02"))}
	case err != nil:
		return fmt.Errorf("read embedding quota: %w", err)
	}
	return nil
}
