package ingest

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/ragd/ragd/usage"
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

// AddUsage adds to a tenant's running totals (package usage). A tenant
// that no longer exists is ignored.
func (s *Documents) AddUsage(ctx context.Context, tenantID uuid.UUID, embeddingTokens, searches int) error {
	return usage.Record(ctx, s.pool, tenantID, embeddingTokens, searches)
}

// UsageDaily returns the tenant's usage on each of the last days days
// (UTC), today included, oldest first (see usage.Daily).
func (s *Documents) UsageDaily(ctx context.Context, tenantID uuid.UUID, days int) ([]usage.Day, error) {
	return usage.Daily(ctx, s.pool, tenantID, days)
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
	err = s.pool.QueryRow(ctx, `SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id
			WHERE c.tenant_id = $1 AND d.status <> 'deleting' AND c.content_version = d.content_version`, tenantID).Scan(&u.Chunks)
	if err != nil {
		return u, fmt.Errorf("usage: %w", err)
	}
	totals, err := usage.ReadTotals(ctx, s.pool, tenantID)
	if err != nil {
		return u, err
	}
	u.EmbeddingTokens, u.Searches = totals.EmbeddingTokens, totals.Searches
	q, err := s.limits(ctx, s.pool, tenantID)
	if err != nil {
		return u, err
	}
	if u.Quotas, err = quotaUsageOf(ctx, s.pool, tenantID, q, int64(u.Documents), u.StoredBytes); err != nil {
		return u, err
	}
	return u, nil
}
