package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/chunker"
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
	// EmbeddingTokensPerMonth counts the calendar month (UTC) so far,
	// under the name the quota is set by (PATCH .../tenants/{id}
	// {"quotas": {"embedding_tokens_per_month": ...}}).
	EmbeddingTokensPerMonth QuotaUse `json:"embedding_tokens_per_month"`
	// EmbeddingTokensThisMonth is the same, under the name it was
	// reported by first; deprecated, kept for the clients that read it.
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
		EmbeddingTokensPerMonth:  QuotaUse{Limit: q.EmbeddingTokensPerMonth, Used: tokens},
		EmbeddingTokensThisMonth: QuotaUse{Limit: q.EmbeddingTokensPerMonth, Used: tokens}, MonthResetsAt: month.AddDate(0, 1, 0)}, nil
}

// checkUploadQuota refuses an upload that adds size bytes and newDocs
// documents (a replacement of a document's bytes adds none, and maybe
// fewer bytes) that the tenant's quotas do not allow. It serialises the tenant's uploads for the rest of
// tx when any quota is set, so that two at once cannot both take the last
// place.
func (s *Documents) checkUploadQuota(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, size, newDocs int64) error {
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
	case d.Limit != nil && newDocs > 0 && d.Used+newDocs > *d.Limit:
		return &ragd.QuotaError{Quota: "documents", Limit: *d.Limit, Used: d.Used}
	case b.Limit != nil && size > 0 && b.Used+size > *b.Limit:
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
	left, err := s.TokensLeft(ctx, tenantID)
	if err != nil || left.Limit == nil || left.Left() > 0 {
		return err
	}
	return left.Err()
}

// TokenBudget is what is left of a tenant's monthly embedding tokens.
type TokenBudget struct {
	Limit   *int64 // nil: no quota
	Used    int64
	ResetAt time.Time
}

// Left is the tokens left (0 when spent; meaningless without a limit).
func (b TokenBudget) Left() int64 {
	if b.Limit == nil {
		return math.MaxInt64
	}
	return max(*b.Limit-b.Used, 0)
}

// Err is the quota error of a spent budget.
func (b TokenBudget) Err() error {
	return &ragd.QuotaError{Quota: "embedding_tokens_per_month", Limit: *b.Limit, Used: b.Used,
		RetryAfter: time.Until(b.ResetAt).Round(time.Second)}
}

// TokensLeft reads the tenant's monthly embedding-token budget.
func (s *Documents) TokensLeft(ctx context.Context, tenantID uuid.UUID) (TokenBudget, error) {
	q, err := s.limits(ctx, s.pool, tenantID)
	if err != nil || q.EmbeddingTokensPerMonth == nil {
		return TokenBudget{}, err
	}
	month := usage.MonthStart(time.Now())
	used, err := usage.MonthTokens(ctx, s.pool, tenantID, month)
	if err != nil {
		return TokenBudget{}, err
	}
	return TokenBudget{Limit: q.EmbeddingTokensPerMonth, Used: used, ResetAt: month.AddDate(0, 1, 0)}, nil
}

// reservationTTL is how long a run's reservation counts: longer than an
// ingest job's timeout, so that only a crashed run's expires.
const reservationTTL = 20 * time.Minute

// reserveTokens promises the embedding tokens a document's run will cost
// (estimate, asked only when the tenant has a token quota) of the
// tenant's month, before the provider is called, and returns the
// reservation's id (uuid.Nil without a token quota, or when the tenant is
// gone). A run that would take the month's used and reserved tokens past
// the quota fails CodeQuotaExceeded before spending any: the quota then
// holds however many workers index at once, within what the estimate
// misses. finish records what the run cost and removes its reservation in
// one transaction; releaseTokens removes it on every other way out.
func (s *Documents) reserveTokens(ctx context.Context, tenantID uuid.UUID, estimate func(context.Context) (int64, error)) (uuid.UUID, error) {
	var id uuid.UUID
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q, err := s.limits(ctx, tx, tenantID)
		if err != nil || q.EmbeddingTokensPerMonth == nil {
			return err
		}
		n, err := estimate(ctx)
		if err != nil {
			return err
		}
		// The uploads' quota lock: reservations of the tenant are made one
		// at a time, each seeing the others.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", "ragd:quota:"+tenantID.String()); err != nil {
			return err
		}
		month := usage.MonthStart(time.Now())
		used, err := usage.MonthTokens(ctx, tx, tenantID, month)
		if err != nil {
			return err
		}
		reserved, err := reservedTokens(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		limit, reset := *q.EmbeddingTokensPerMonth, month.AddDate(0, 1, 0).Format("2006-01-02")
		if n == 0 && used+reserved >= limit {
			// Free to embed (the local embedder), but a spent quota is
			// spent, as for uploads and searches.
			return &Error{Code: CodeQuotaExceeded, Message: fmt.Sprintf(
				"the tenant's embedding quota of %d tokens this month is used up; reindex the document after %s or ask for a higher quota", limit, reset)}
		}
		if used+reserved+n > limit {
			return &Error{Code: CodeQuotaExceeded, Message: fmt.Sprintf(
				"the document needs about %d embedding tokens, and %d of the tenant's quota of %d tokens this month are left (%d used, %d promised to documents being indexed); "+
					"reindex the document after %s or ask for a higher quota",
				n, max(limit-used-reserved, 0), limit, used, reserved, reset)}
		}
		id = uuid.New()
		_, err = tx.Exec(ctx, "INSERT INTO token_reservations (id, tenant_id, tokens, expires_at) VALUES ($1, $2, $3, now() + $4::bigint * interval '1 second')",
			id, tenantID, n, int64(reservationTTL.Seconds()))
		return err
	})
	if errors.Is(err, ragd.ErrNotFound) {
		return uuid.Nil, nil // the tenant is gone: the run is stale anyway
	}
	if _, ok := AsError(err); !ok && err != nil {
		return uuid.Nil, fmt.Errorf("reserve embedding tokens: %w", err)
	}
	return id, err
}

// releaseTokens removes a reservation (a no-op for uuid.Nil, or one that
// finish already settled).
func (s *Documents) releaseTokens(ctx context.Context, id uuid.UUID) error {
	if id == uuid.Nil {
		return nil
	}
	_, err := s.pool.Exec(ctx, "DELETE FROM token_reservations WHERE id = $1", id)
	return err
}

// reservedTokens is the sum of the tenant's live reservations.
func reservedTokens(ctx context.Context, db postgres.DB, tenantID uuid.UUID) (int64, error) {
	var n int64
	err := db.QueryRow(ctx, "SELECT coalesce(sum(tokens), 0) FROM token_reservations WHERE tenant_id = $1 AND expires_at > now()", tenantID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("read reserved tokens: %w", err)
	}
	return n, nil
}

// tokensFor estimates what embedding a document's chunks costs, for its
// reservation: each chunk's tokens and those of the context IndexText puts
// before it (the title and heading path, counted once per distinct one),
// times the billed indexes a run writes (two during an embedding
// migration; the local embedder's are free). It
// is what the provider bills for cl100k models; one whose tokenizer
// differs bills within a few per cent of it, and chunks found in the
// embedding cache cost nothing.
func (p *Pipeline) tokensFor(title string, pieces []chunker.Chunk, indexes int) int64 {
	heads := map[string]int{}
	var n int64
	for _, c := range pieces {
		whole := IndexText(title, c)
		head := whole[:len(whole)-len(c.Text)]
		k, ok := heads[head]
		if !ok {
			k = p.tok.Count(head)
			heads[head] = k
		}
		n += int64(c.TokenCount + k)
	}
	return n * int64(indexes)
}
