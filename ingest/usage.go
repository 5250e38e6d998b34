package ingest

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
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
func (s *Store) AddUsage(ctx context.Context, tenantID uuid.UUID, embeddingTokens, searches int) error {
	return addUsage(ctx, s.pool, tenantID, embeddingTokens, searches)
}

// execer is a pool, a connection or a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func addUsage(ctx context.Context, db execer, tenantID uuid.UUID, embeddingTokens, searches int) error {
	if embeddingTokens == 0 && searches == 0 {
		return nil
	}
	_, err := db.Exec(ctx, `WITH total AS (
		INSERT INTO tenant_usage (tenant_id, embedding_tokens, searches)
		SELECT $1, $2, $3 WHERE EXISTS (SELECT FROM tenants WHERE id = $1)
		ON CONFLICT (tenant_id) DO UPDATE SET embedding_tokens = tenant_usage.embedding_tokens + $2,
			searches = tenant_usage.searches + $3, updated_at = now()
		RETURNING tenant_id)
		INSERT INTO tenant_usage_monthly (tenant_id, month, embedding_tokens)
		SELECT tenant_id, $4, $2 FROM total WHERE $2 > 0
		ON CONFLICT (tenant_id, month) DO UPDATE SET embedding_tokens = tenant_usage_monthly.embedding_tokens + $2`,
		tenantID, embeddingTokens, searches, monthStart(time.Now()))
	if err != nil {
		return fmt.Errorf("record usage: %w", err)
	}
	return nil
}

// Usage returns a tenant's usage now.
func (s *Store) Usage(ctx context.Context, tenantID uuid.UUID) (Usage, error) {
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
