package ingest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/ragd/ragd/chunker"
	"github.com/ragd/ragd/embedder"
	"github.com/ragd/ragd/extract"
	"github.com/ragd/ragd/ingest"
	"github.com/ragd/ragd/postgres/pgtest"
	"github.com/ragd/ragd/search"
	"github.com/ragd/ragd/spaces"
)

// benchTenant is a tenant with docs ready documents of about 6 chunks
// each, indexed in the default space (the local embedder at 256
// dimensions, the embedded store), and a second space (local at 128).
type benchTenant struct {
	store  *ingest.Documents
	p      *ingest.Pipeline
	svc    *spaces.Service
	spaces *search.Indexes
	tenant ingest.Document // TenantID only
	to     search.Space
}

func setupBenchTenant(b *testing.B, docs int) *benchTenant {
	ctx := context.Background()
	pool := pgtest.NewPool(b)
	tenant := newTenant(b, pool)
	def, _ := embedder.NewLocal(256)
	vectors, err := search.OpenEmbedded(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { vectors.Close() })
	to := search.Space{Model: embedder.LocalModel, Dimensions: 128}
	indexes := search.NewIndexes(search.Index{Embedder: def, Store: vectors}, func(ctx context.Context, sp search.Space) (search.Index, error) {
		e, err := embedder.NewLocal(sp.Dimensions)
		if err != nil {
			return search.Index{}, err
		}
		s, err := search.OpenEmbedded(b.TempDir())
		return search.Index{Embedder: e, Store: s}, err
	})
	st := newStack(b, pool, indexes)
	store := st.docs
	p := st.pipeline(b, ingest.PipelineConfig{Chunking: chunker.Options{MaxTokens: 64, OverlapTokens: 8}})
	words := strings.Fields("otter colony weir river bank holt cub fish eel reed dam survey count spring autumn night trail camera")
	for i := range docs {
		var sb strings.Builder
		fmt.Fprintf(&sb, "Survey note %d. ", i)
		for j := range 300 {
			sb.WriteString(words[(i*7+j*j)%len(words)])
			sb.WriteString(" ")
		}
		c, err := store.Create(ctx, tenant.ID, ingest.Upload{Filename: fmt.Sprintf("n%d.txt", i), Type: extract.TypeText,
			Content: ingest.BytesContent([]byte(sb.String()))}, ingest.CreateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Process(ctx, tenant.ID, c.Document.ID, 1); err != nil {
			b.Fatal(err)
		}
	}
	return &benchTenant{store: store, p: p, svc: st.spaces, spaces: indexes, tenant: ingest.Document{TenantID: tenant.ID}, to: to}
}

// BenchmarkMigration measures moving a tenant of 200 documents (about 1,200
// chunks) to another embedding space with the build job's work
// (Pipeline.BuildIndex: embed, write, record each document, cut over) against
// the baseline a user has without migrations, `ragd reindex --tenant`
// (Pipeline.Rebuild: embed and write the same chunks), in the same run.
func BenchmarkMigration(b *testing.B) {
	ctx := context.Background()
	bt := setupBenchTenant(b, 200)
	id := bt.tenant.TenantID
	docs, chunks, tokens, err := bt.store.EstimateEmbedding(ctx, id)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d documents, %d chunks, %d tokens", docs, chunks, tokens)
	b.Run("rebuild", func(b *testing.B) {
		for b.Loop() {
			if _, err := bt.p.Rebuild(ctx, &id, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(chunks), "ns/chunk")
	})
	b.Run("migrate", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			m, err := bt.svc.Create(ctx, id, spaces.Request{Model: bt.to.Model, Dimensions: bt.to.Dimensions, RollbackWindowSeconds: new(int64), Admin: true, By: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if err := bt.p.BuildIndex(ctx, id, m.ID); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if m, _ = bt.svc.Get(ctx, id, m.ID); m.State != spaces.Active {
				b.Fatalf("migration %s", m.State)
			}
			if _, err := bt.svc.End(ctx, id, m.ID, spaces.Rollback); err != nil {
				b.Fatal(err)
			}
			if _, err := bt.svc.Settle(ctx, id, m.ID); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(chunks), "ns/chunk")
	})
}

// BenchmarkSearchRouting measures a dense search of the tenant above with
// the Searcher of one space (no lookup) against the routed Searcher ragd
// serves with, which reads the tenant's space from Postgres before the
// store query and again after it: the cost of migrations to every search.
func BenchmarkSearchRouting(b *testing.B) {
	ctx := context.Background()
	bt := setupBenchTenant(b, 50)
	id := bt.tenant.TenantID
	def := bt.spaces.Default()
	for _, s := range []struct {
		name     string
		searcher *search.Searcher
	}{
		{"single", search.NewSearcher(def.Embedder, def.Store, bt.store, 0)},
		{"routed", search.NewRoutedSearcher(bt.spaces, bt.svc, bt.store, 0)},
	} {
		b.Run(s.name, func(b *testing.B) {
			for b.Loop() {
				res, err := s.searcher.Search(ctx, id, search.Request{Query: "otter holt survey", Mode: search.ModeDense, TopK: 8})
				if err != nil || len(res.Hits) == 0 {
					b.Fatalf("%d hits, %v", len(res.Hits), err)
				}
			}
		})
	}
}
