package ingest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ragd/ragd/embedder"
	"github.com/ragd/ragd/extract"
	"github.com/ragd/ragd/ingest"
	"github.com/ragd/ragd/postgres/pgtest"
	"github.com/ragd/ragd/search"
	"github.com/ragd/ragd/spaces"
	"github.com/ragd/ragd/usage"
)

// TestMigrationStopsAtTheTokenQuota: a migration whose tenant has spent
// the month's embedding tokens fails with advice that fits a migration
// (start it again when the tokens reset or the quota is raised), not a
// document's.
func TestMigrationStopsAtTheTokenQuota(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	tenant := newTenant(t, pool)
	def, _ := embedder.NewLocal(64)
	vectors, err := search.OpenEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer vectors.Close()
	local32, _ := embedder.NewLocal(32)
	to := search.Space{Model: embedder.LocalModel, Dimensions: 32}
	indexes := search.NewIndexes(search.Index{Embedder: def, Store: vectors}, func(ctx context.Context, sp search.Space) (search.Index, error) {
		if sp != to {
			return search.Index{}, search.ErrUnknownSpace
		}
		s, err := search.OpenEmbedded(t.TempDir())
		return search.Index{Embedder: local32, Store: s}, err
	})
	st := newStack(t, pool, indexes)
	p := st.pipeline(t, ingest.PipelineConfig{})
	c, err := st.docs.Create(ctx, tenant.ID, ingest.Upload{Filename: "n.txt", Type: extract.TypeText,
		Content: ingest.BytesContent([]byte("A note about the otter colony by the weir."))}, ingest.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Process(ctx, tenant.ID, c.Document.ID, 1); err != nil {
		t.Fatal(err)
	}
	m, err := st.spaces.Create(ctx, tenant.ID, spaces.Request{Model: to.Model, Dimensions: to.Dimensions, RollbackWindowSeconds: new(int64), Admin: true, By: "test"})
	if err != nil {
		t.Fatal(err)
	}
	// The month's tokens are spent.
	if _, err := pool.Exec(ctx, `UPDATE tenants SET quota_embedding_tokens = 100 WHERE id = $1`, tenant.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO tenant_usage_monthly (tenant_id, month, embedding_tokens) VALUES ($1, $2, 100)
		ON CONFLICT (tenant_id, month) DO UPDATE SET embedding_tokens = 100`, tenant.ID, usage.MonthStart(time.Now())); err != nil {
		t.Fatal(err)
	}
	if err := p.BuildIndex(ctx, tenant.ID, m.ID); err != nil {
		t.Fatal(err)
	}
	m, _ = st.spaces.Get(ctx, tenant.ID, m.ID)
	reset := usage.MonthStart(time.Now()).AddDate(0, 1, 0).Format("2006-01-02")
	if m.State != spaces.Failed || m.Error == nil {
		t.Fatalf("migration %s", m.State)
	}
	if strings.Contains(*m.Error, "document") ||
		!strings.Contains(*m.Error, "start the migration again") || !strings.Contains(*m.Error, reset) || !strings.Contains(*m.Error, "quota is raised") {
		t.Fatalf("the migration's error: %s", *m.Error)
	}
}
