package search

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
)

// BenchmarkEmbeddedQuery measures dense queries over one tenant's n
// 1536-dimensional points of uniform noise (with many small tenants beside
// it), through the graph since both sizes pass annMinPoints (for recall on
// data where it means something, see BenchmarkEmbeddedIndex): latency
// p50 and p99 over 50 queries, the heap each point costs, and, in the same
// run, the time to read those vectors' bytes once, the floor an exact
// scan cannot beat.
func BenchmarkEmbeddedQuery(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			const dims = 1536
			ctx := context.Background()
			r := rand.New(rand.NewPCG(1, uint64(n)))
			vec := func() []float32 {
				v := make([]float32, dims)
				for i := range v {
					v[i] = float32(r.NormFloat64())
				}
				return v
			}
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			e, err := OpenEmbedded(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			if err := e.EnsureSchema(ctx, dims); err != nil {
				b.Fatal(err)
			}
			tenant, doc := uuid.New(), uuid.New()
			batch := make([]Point, 0, 1000)
			for i := range n {
				batch = append(batch, Point{ID: uuid.New(), TenantID: tenant, DocumentID: doc, ContentVersion: 1, Index: i,
					Dense: vec(), Sparse: DocumentSparse(fmt.Sprintf("chunk %d about tenants and vectors", i)), Text: "chunk text of a typical length for a benchmark"})
				if len(batch) == cap(batch) || i == n-1 {
					if err := e.Upsert(ctx, tenant, batch); err != nil {
						b.Fatal(err)
					}
					batch = batch[:0]
				}
			}
			for range 200 { // small tenants beside it
				t := uuid.New()
				if err := e.Upsert(ctx, t, []Point{{ID: uuid.New(), TenantID: t, DocumentID: uuid.New(), Dense: vec()}}); err != nil {
					b.Fatal(err)
				}
			}
			runtime.GC()
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			perPoint := float64(after.HeapAlloc-before.HeapAlloc) / float64(n+200)

			// The floor: read every vector's floats once.
			part := e.tenants[tenant]
			var sink float32
			scan := time.Now()
			for _, p := range part.points {
				for _, x := range p.Dense {
					sink += x
				}
			}
			floor := time.Since(scan)
			_ = sink

			var lat []time.Duration
			for b.Loop() {
				lat = lat[:0]
				for range 50 {
					q := Query{Mode: ModeDense, Dense: vec(), TopK: 8}
					start := time.Now()
					if _, err := e.Query(ctx, tenant, q); err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(start))
				}
			}
			slices.Sort(lat)
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
			b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
			b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
			b.ReportMetric(ms(floor), "read-once-ms")
			b.ReportMetric(perPoint/1024, "KiB/point")
			b.ReportMetric(0, "ns/op")
		})
	}
}
