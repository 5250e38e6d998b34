package agents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/postgres"
)

// The settings of a tenant other packages ask for, read (and, for the
// embedding space, written) here, the one package that writes tenants.
// Each takes db, a pool or the caller's transaction, so that a caller can
// read a setting under its own locks.

// Chunking is a tenant's default chunking, from its settings:
// {"chunking": {"max_tokens": 400, "overlap_tokens": 40}}. A field that is
// missing, or not a whole number, is 0 (unset); whether a value is one
// the chunker takes is the chunker's to say.
type Chunking struct {
	MaxTokens, OverlapTokens int
}

// TenantChunking returns the tenant's chunking settings; a tenant that
// does not exist has none. Settings that do not parse are ignored.
func (s *ControlPlane) TenantChunking(ctx context.Context, db postgres.DB, tenantID uuid.UUID) (Chunking, error) {
	var raw []byte
	err := db.QueryRow(ctx, `SELECT settings->'chunking' FROM tenants WHERE id = $1`, tenantID).Scan(&raw)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return Chunking{}, fmt.Errorf("read tenant chunking settings: %w", err)
	}
	var set struct {
		MaxTokens     float64 `json:"max_tokens"`
		OverlapTokens float64 `json:"overlap_tokens"`
	}
	_ = json.Unmarshal(raw, &set)
	return Chunking{MaxTokens: whole(set.MaxTokens), OverlapTokens: whole(set.OverlapTokens)}, nil
}

// whole is f when it is a whole number a chunk size could be, else 0.
func whole(f float64) int {
	if f != math.Trunc(f) || f < 0 || f > math.MaxInt32 {
		return 0
	}
	return int(f)
}

// TenantQuotas returns the quotas set on the tenant (a nil one: the
// server's default); ErrNotFound when the tenant does not exist.
func (s *ControlPlane) TenantQuotas(ctx context.Context, db postgres.DB, tenantID uuid.UUID) (Quotas, error) {
	var q Quotas
	err := db.QueryRow(ctx, `SELECT quota_documents, quota_stored_bytes, quota_embedding_tokens FROM tenants WHERE id = $1`, tenantID).
		Scan(&q.Documents, &q.StoredBytes, &q.EmbeddingTokensPerMonth)
	if err != nil {
		return q, translate(err, "read quotas")
	}
	return q, nil
}

// EmbeddingSpace names the embedding model, at a dimension count, whose
// index a tenant's searches use.
type EmbeddingSpace struct {
	Model      string
	Dimensions int
}

// TenantEmbeddingSpace returns the space the tenant's searches use (the
// zero EmbeddingSpace: the server's default); ErrNotFound when the tenant
// does not exist.
func (s *ControlPlane) TenantEmbeddingSpace(ctx context.Context, db postgres.DB, tenantID uuid.UUID) (EmbeddingSpace, error) {
	var model *string
	var dims *int
	err := db.QueryRow(ctx, "SELECT embedding_model, embedding_dimensions FROM tenants WHERE id = $1", tenantID).Scan(&model, &dims)
	if err != nil {
		return EmbeddingSpace{}, translate(err, "read the tenant's embedding space")
	}
	if model == nil || dims == nil {
		return EmbeddingSpace{}, nil
	}
	return EmbeddingSpace{Model: *model, Dimensions: *dims}, nil
}

// SetTenantEmbeddingSpace switches the space the tenant's searches use
// (the caller's transaction holds what makes the switch safe: see package
// spaces).
func (s *ControlPlane) SetTenantEmbeddingSpace(ctx context.Context, db postgres.DB, tenantID uuid.UUID, sp EmbeddingSpace) error {
	tag, err := db.Exec(ctx, "UPDATE tenants SET embedding_model = $2, embedding_dimensions = $3, updated_at = now() WHERE id = $1",
		tenantID, sp.Model, sp.Dimensions)
	if err != nil {
		return fmt.Errorf("switch the tenant's embedding space: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("switch the tenant's embedding space: %w", ragd.ErrNotFound)
	}
	return nil
}
