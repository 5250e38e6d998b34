package search

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/uuid"
)

// TestEmbeddedDenseParallelMatchesExact checks the split exact scan of a large
// partition against a plain sort of every score, after removals too.
func TestEmbeddedDenseParallelMatchesExact(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, err := OpenEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	const dims = 8
	if err := e.EnsureSchema(ctx, dims); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	vec := func() []float32 {
		v := make([]float32, dims)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return v
	}
	tenant := uuid.New()
	docs := []uuid.UUID{uuid.New(), uuid.New()}
	n := parallelScanMin * 2
	points := make([]Point, n)
	for i := range points {
		points[i] = Point{ID: uuid.New(), TenantID: tenant, DocumentID: docs[i%2], ContentVersion: 1, Index: i, Dense: vec()}
	}
	if err := e.Upsert(ctx, tenant, points); err != nil {
		t.Fatal(err)
	}
	// Remove one document's points of the first half, to exercise swap-removal.
	for i := 0; i < n/2; i += 2 {
		e.tenants[tenant].remove(points[i].ID)
	}
	for range 20 {
		q := vec()
		qn := slices.Clone(q)
		normalize(qn)
		got, err := e.tenants[tenant].exact(ctx, qn, 10, func(int32, *Point) bool { return true })
		if err != nil {
			t.Fatal(err)
		}
		var want []Hit
		for _, p := range e.tenants[tenant].points {
			want = append(want, Hit{Point: Point{ID: p.ID}, Score: dot(qn, p.Dense)})
		}
		sortHits(want)
		for i := range 10 {
			if got[i].ID != want[i].ID {
				t.Fatalf("rank %d: %s (%.5f), want %s (%.5f)", i, got[i].ID, got[i].Score, want[i].ID, want[i].Score)
			}
		}
	}
	if part := e.tenants[tenant]; len(part.slots)-part.dead != len(part.points) || len(part.points) != n-n/4 {
		t.Fatalf("slots %d (%d removed), map %d, want %d", len(part.slots), part.dead, len(part.points), n-n/4)
	}
}
