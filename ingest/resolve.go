package ingest

import (
	"context"
	"fmt"

	"github.com/google/uuid"
)

// Resolve says which of ids are the tenant's documents, and which
// documents carry each of externalIDs (several may share one); documents being deleted count as gone.
// What it does not return does not exist for the tenant.
func (s *Documents) Resolve(ctx context.Context, tenantID uuid.UUID, ids []uuid.UUID, externalIDs []string) (map[uuid.UUID]bool, map[string][]uuid.UUID, error) {
	found, byExternal := map[uuid.UUID]bool{}, map[string][]uuid.UUID{}
	if len(ids) == 0 && len(externalIDs) == 0 {
		return found, byExternal, nil
	}
	if ids == nil {
		ids = []uuid.UUID{}
	}
	if externalIDs == nil {
		externalIDs = []string{}
	}
	rows, err := s.pool.Query(ctx, `SELECT id, coalesce(external_id, '') FROM documents
		WHERE tenant_id = $1 AND status <> 'deleting' AND (id = ANY($2) OR external_id = ANY($3))`, tenantID, ids, externalIDs)
	if err != nil {
		return nil, nil, fmt.Errorf("resolve documents: %w", err)
	}
	defer rows.Close()
	want := make(map[uuid.UUID]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	for rows.Next() {
		var id uuid.UUID
		var ext string
		if err := rows.Scan(&id, &ext); err != nil {
			return nil, nil, fmt.Errorf("resolve documents: %w", err)
		}
		if want[id] {
			found[id] = true
		}
		if ext != "" {
			byExternal[ext] = append(byExternal[ext], id)
		}
	}
	return found, byExternal, rows.Err()
}
