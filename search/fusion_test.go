package search_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/google/uuid"

	"github.com/ragd/ragd/search"
	"github.com/ragd/ragd/search/qdranttest"
	"github.com/ragd/ragd/search/storetest"
)

// arm makes a ranked list of hits with the given ids and scores, and a
// relevance in [0, 1) that orders them alike.
func arm(ids []uuid.UUID, scores ...float32) []search.Hit {
	out := make([]search.Hit, len(scores))
	for i, s := range scores {
		out[i] = search.Hit{Point: search.Point{ID: ids[i]}, Score: s, Relevance: s / (1 + s)}
	}
	return out
}

func TestFuse(t *testing.T) {
	t.Parallel()
	ids := make([]uuid.UUID, 6)
	for i := range ids {
		ids[i] = uuid.NewSHA1(uuid.Nil, []byte{byte(i)})
	}
	// Dense ranks 0, 1, 2, 3; sparse ranks 3, 0, 4, 5.
	dense := arm(ids, 0.9, 0.8, 0.5, 0.1)
	sparse := arm([]uuid.UUID{ids[3], ids[0], ids[4], ids[5]}, 12, 6, 3, 0)

	t.Run("ZeroValueIsPlainRRF", func(t *testing.T) {
		got := search.Fuse(search.Fusing{}, 10, dense, sparse)
		want := map[uuid.UUID]float32{ids[0]: 1.0/2 + 1.0/3, ids[3]: 1.0/5 + 1.0/2, ids[1]: 1.0 / 3, ids[2]: 1.0 / 4, ids[4]: 1.0 / 4, ids[5]: 1.0 / 5}
		if len(got) != 6 || got[0].ID != ids[0] || got[1].ID != ids[3] {
			t.Fatalf("order %v", got)
		}
		for _, h := range got {
			if math.Abs(float64(h.Score-want[h.ID])) > 1e-6 {
				t.Fatalf("%v scores %v, want %v", h.ID, h.Score, want[h.ID])
			}
		}
	})

	t.Run("OneArmWeightedZeroIsTheOtherArm", func(t *testing.T) {
		for _, f := range search.Fusions {
			got := search.Fuse(search.Fusing{Fusion: f, Weights: search.Weights{Dense: 0, Sparse: 1}}, 10, dense, sparse)
			if len(got) != 4 {
				t.Fatalf("%s: %d hits, want the sparse arm's 4", f, len(got))
			}
			for i, h := range got[:3] { // the last two sparse hits may tie at 0 under convex
				if h.ID != sparse[i].ID {
					t.Fatalf("%s: position %d is %v, want sparse's %v", f, i, h.ID, sparse[i].ID)
				}
			}
		}
	})

	t.Run("ConvexScoresLieInUnitInterval", func(t *testing.T) {
		got := search.Fuse(search.Fusing{Fusion: search.FusionConvex, Weights: search.Weights{Dense: 3, Sparse: 7}}, 10, dense, sparse)
		for _, h := range got {
			if h.Score < 0 || h.Score > 1 {
				t.Fatalf("convex score %v outside [0, 1]", h.Score)
			}
		}
		// ids[3]: dense worst (0 × 0.3), sparse best (1 × 0.7); ids[0]:
		// dense best (1 × 0.3), sparse 6 of 0..12 (0.5 × 0.7).
		if got[0].ID != ids[3] || math.Abs(float64(got[0].Score)-0.7) > 1e-6 || got[1].ID != ids[0] || math.Abs(float64(got[1].Score)-0.65) > 1e-6 {
			t.Fatalf("top hits %v %v, %v %v; want ids[3] at 0.7, ids[0] at 0.65", got[0].ID, got[0].Score, got[1].ID, got[1].Score)
		}
		both := search.Fuse(search.Fusing{Fusion: search.FusionConvex, Weights: search.Weights{Dense: 1, Sparse: 1}}, 1, dense, arm(ids, 5, 1))
		if both[0].Score != 1 {
			t.Fatalf("best in both arms scores %v, want 1", both[0].Score)
		}
	})

	t.Run("RelevanceIsTheWeightedMeanInEveryFusion", func(t *testing.T) {
		rel := func(list []search.Hit, id uuid.UUID) float64 {
			for _, h := range list {
				if h.ID == id {
					return float64(h.Relevance)
				}
			}
			return 0 // missing from an arm: nothing from it
		}
		for _, f := range search.Fusions {
			got := search.Fuse(search.Fusing{Fusion: f, Weights: search.Weights{Dense: 1, Sparse: 3}}, 10, dense, sparse)
			for _, h := range got {
				want := (rel(dense, h.ID) + 3*rel(sparse, h.ID)) / 4
				if math.Abs(float64(h.Relevance)-want) > 1e-6 {
					t.Fatalf("%s: %v has relevance %v, want %v", f, h.ID, h.Relevance, want)
				}
				if f == search.FusionCalibrated && h.Score != h.Relevance {
					t.Fatalf("calibrated: score %v is not the relevance %v", h.Score, h.Relevance)
				}
			}
		}
	})

	t.Run("DBSFScoresLieInWeightSum", func(t *testing.T) {
		got := search.Fuse(search.Fusing{Fusion: search.FusionDBSF, Weights: search.Weights{Dense: 1, Sparse: 2}}, 10, dense, sparse)
		for _, h := range got {
			if h.Score < 0 || h.Score > 3 {
				t.Fatalf("dbsf score %v outside [0, 3]", h.Score)
			}
		}
	})

	t.Run("StrongArmWins", func(t *testing.T) {
		// A weak dense arm that ranks the relevant point last: RRF with
		// equal weights lets it pull the point down, a sparse-heavy
		// convex combination does not.
		rel := ids[5]
		weak := arm([]uuid.UUID{ids[0], ids[1], ids[2], rel}, 0.31, 0.30, 0.30, 0.29)
		strong := arm([]uuid.UUID{rel, ids[0], ids[1], ids[2]}, 20, 2, 1, 0.5)
		rrf := search.Fuse(search.Fusing{}, 4, weak, strong)
		convex := search.Fuse(search.Fusing{Fusion: search.FusionConvex, Weights: search.Weights{Dense: 0.3, Sparse: 0.7}}, 4, weak, strong)
		if rrf[0].ID == rel || convex[0].ID != rel {
			t.Fatalf("rrf top %v, convex top %v; want rrf to lose the strong arm's best and convex to keep it", rrf[0].ID, convex[0].ID)
		}
	})

	t.Run("Validate", func(t *testing.T) {
		for _, bad := range []search.Fusing{
			{Fusion: "borda", Weights: search.Weights{Dense: 1, Sparse: 1}},
			{Fusion: search.FusionRRF},
			{Fusion: search.FusionRRF, Weights: search.Weights{Dense: -1, Sparse: 1}},
			{Fusion: search.FusionRRF, Weights: search.Weights{Dense: math.NaN(), Sparse: 1}},
			{Fusion: search.FusionRRF, Weights: search.Weights{Dense: math.Inf(1), Sparse: 1}},
			{Fusion: search.FusionRRF, Weights: search.Weights{Dense: 101, Sparse: 1}},
		} {
			if bad.Validate() == nil {
				t.Fatalf("%+v validated", bad)
			}
		}
		for _, local := range []bool{true, false} {
			if err := search.DefaultFusing(local).Validate(); err != nil {
				t.Fatalf("default fusing (local %v): %v", local, err)
			}
		}
	})
}

// TestStoresFuseAlike: the embedded store and Qdrant (in process), holding
// the same points, return the same ranking for every fusion.
func TestStoresFuseAlike(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	emb, err := search.OpenEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Close()
	qd, err := search.OpenQdrant(search.QdrantConfig{URL: qdranttest.Start(t), Collection: "fuse"})
	if err != nil {
		t.Fatal(err)
	}
	defer qd.Close()
	tenant := uuid.New()
	words := []string{"kiwi", "lime", "mango", "pear"}
	var pts []search.Point
	for i, w := range words {
		pts = append(pts, storetest.Points(tenant, uuid.New(), 1, 30, w, func(p *search.Point) {
			p.Text = fmt.Sprintf("%s %s %s", p.Text, words[(p.Index+i)%4], words[(p.Index*3+i)%4])
			p.Sparse = search.DocumentSparse(p.Text)
		})...)
	}
	for _, s := range []search.VectorStore{emb, qd} {
		if err := s.EnsureSchema(ctx, storetest.Dims); err != nil {
			t.Fatal(err)
		}
		if err := s.Upsert(ctx, tenant, pts); err != nil {
			t.Fatal(err)
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		for _, f := range search.Fusions {
			text := words[r.IntN(4)] + " " + words[r.IntN(4)]
			if r.IntN(2) == 0 {
				text += " quince" // a term no point holds: its IDF is the highest
			}
			q := search.Query{Mode: search.ModeHybrid, Dense: storetest.Vector(r), Sparse: search.QuerySparse(text),
				TopK: 10, Fusing: search.Fusing{Fusion: f, Weights: search.Weights{Dense: r.Float64(), Sparse: 1}}}
			a, err := emb.Query(ctx, tenant, q)
			if err != nil {
				t.Fatal(err)
			}
			b, err := qd.Query(ctx, tenant, q)
			if err != nil {
				t.Fatal(err)
			}
			if len(a) != len(b) {
				t.Fatalf("%s: embedded %d hits, qdrant %d", f, len(a), len(b))
			}
			for i := range a {
				if a[i].ID != b[i].ID || math.Abs(float64(a[i].Score-b[i].Score)) > 1e-4 {
					t.Fatalf("%s: hit %d: embedded %v %v, qdrant %v %v", f, i, a[i].ID, a[i].Score, b[i].ID, b[i].Score)
				}
				// Qdrant does not report IDF: the relevance it is given
				// must still be the embedded store's exact one.
				if math.Abs(float64(a[i].Relevance-b[i].Relevance)) > 1e-4 || a[i].Relevance <= 0 || a[i].Relevance > 1 {
					t.Fatalf("%s %q: hit %d: relevance embedded %v, qdrant %v", f, text, i, a[i].Relevance, b[i].Relevance)
				}
			}
		}
	}
	// A query of more terms than Qdrant is probed for: the terms past the
	// probes count at the highest IDF, so its relevance is at most the
	// embedded store's exact one, and still positive.
	long := "kiwi lime"
	for i := range 80 {
		long += fmt.Sprintf(" filler%d", i)
	}
	q := search.Query{Mode: search.ModeSparse, Sparse: search.QuerySparse(long), TopK: 5}
	a, err := emb.Query(ctx, tenant, q)
	if err != nil {
		t.Fatal(err)
	}
	b, err := qd.Query(ctx, tenant, q)
	if err != nil || len(a) == 0 || len(a) != len(b) {
		t.Fatalf("long query: %d and %d hits, %v", len(a), len(b), err)
	}
	for i := range a {
		if a[i].ID != b[i].ID || b[i].Relevance <= 0 || b[i].Relevance > a[i].Relevance+1e-6 {
			t.Fatalf("long query: hit %d: embedded %v %v, qdrant %v %v", i, a[i].ID, a[i].Relevance, b[i].ID, b[i].Relevance)
		}
	}
}
