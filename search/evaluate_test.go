package search_test

import (
	"context"
	"math"
	"testing"

	"github.com/google/uuid"

	"github.com/ragd/ragd/search"
)

func TestScore(t *testing.T) {
	t.Parallel()
	a, b, c, d := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	near := func(got, want float64) bool { return math.Abs(got-want) < 1e-9 }

	// One relevant document at rank 3: nDCG = (1/log2 4) / (1/log2 2).
	s := search.Score([]uuid.UUID{c, d, a}, map[uuid.UUID]int{a: 1}, 10)
	if !near(s.NDCG10, 0.5) || !near(s.MRR, 1.0/3) || s.Recall != 1 {
		t.Fatalf("one relevant at rank 3: %+v", s)
	}
	// Grades: the ideal order puts grade 2 first.
	s = search.Score([]uuid.UUID{b, a}, map[uuid.UUID]int{a: 2, b: 1}, 10)
	want := (1 + 2/math.Log2(3)) / (2 + 1/math.Log2(3))
	if !near(s.NDCG10, want) || s.MRR != 1 {
		t.Fatalf("graded: %+v, want nDCG %v", s, want)
	}
	// Recall at k counts only the first k; nothing found scores 0.
	s = search.Score([]uuid.UUID{c, a, b}, map[uuid.UUID]int{a: 1, b: 1}, 2)
	if s.Recall != 0.5 {
		t.Fatalf("recall@2 with one of two in the top 2: %v", s.Recall)
	}
	if s := search.Score([]uuid.UUID{c, d}, map[uuid.UUID]int{a: 1}, 10); s != (search.Scores{}) {
		t.Fatalf("nothing relevant found: %+v", s)
	}
	// No relevant document (grades 0 only) scores 0 rather than NaN.
	if s := search.Score([]uuid.UUID{a}, map[uuid.UUID]int{a: 0}, 10); s != (search.Scores{}) {
		t.Fatalf("no relevant documents: %+v", s)
	}
	// A relevant document past rank 10 counts for MRR and recall, not nDCG@10.
	ranked := make([]uuid.UUID, 12)
	for i := range ranked {
		ranked[i] = uuid.New()
	}
	ranked[11] = a
	s = search.Score(ranked, map[uuid.UUID]int{a: 1}, 20)
	if s.NDCG10 != 0 || !near(s.MRR, 1.0/12) || s.Recall != 1 {
		t.Fatalf("relevant at rank 12: %+v", s)
	}
}

func TestEvaluateAndBest(t *testing.T) {
	t.Parallel()
	a, b := uuid.New(), uuid.New()
	judged := []search.Judgment{{Query: "q1", Relevant: map[uuid.UUID]int{a: 1}}, {Query: "q2", Relevant: map[uuid.UUID]int{b: 1}}}
	configs := []search.Config{{Mode: search.ModeDense}, {Mode: search.ModeSparse}}
	// Dense finds a first for both queries; sparse finds each query's own.
	rank := func(_ context.Context, c search.Config, j search.Judgment) ([]search.Ranked, error) {
		if c.Mode == search.ModeDense {
			return []search.Ranked{{Document: a, Relevance: 0.9}, {Document: b, Relevance: 0.8}}, nil
		}
		for id := range j.Relevant {
			return []search.Ranked{{Document: id, Relevance: 0.5}}, nil
		}
		return nil, nil
	}
	var calls int
	res, err := search.Evaluate(context.Background(), judged, configs, 10, true, rank, func(done, total int) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	if calls != 4 || len(res) != 2 || len(res[0].PerQuery) != 2 {
		t.Fatalf("progress %d, results %+v", calls, res)
	}
	if res[1].Mean.NDCG10 != 1 || res[0].Mean.NDCG10 >= 1 {
		t.Fatalf("means: dense %+v, sparse %+v", res[0].Mean, res[1].Mean)
	}
	if best, _ := search.Best(res); best.Config.Mode != search.ModeSparse {
		t.Fatalf("best %v", best.Name)
	}
}

// TestEvaluateUnanswerable: a query with no relevant document is right
// only when nothing reaches the threshold; the scores of answerable
// queries leave it out, and the fitted threshold is the one that answers
// the most queries right.
func TestEvaluateUnanswerable(t *testing.T) {
	t.Parallel()
	a, b, x := uuid.New(), uuid.New(), uuid.New()
	judged := []search.Judgment{
		{Query: "about a", Relevant: map[uuid.UUID]int{a: 1}},
		{Query: "about b", Relevant: map[uuid.UUID]int{b: 1}},
		{Query: "about nothing", Relevant: map[uuid.UUID]int{}},
	}
	// a's query finds a at 0.6; b's finds x at 0.5, then b at 0.45; the
	// unanswerable one finds x at 0.3.
	hits := map[string][]search.Ranked{
		"about a":       {{Document: a, Relevance: 0.6}},
		"about b":       {{Document: x, Relevance: 0.5}, {Document: b, Relevance: 0.45}},
		"about nothing": {{Document: x, Relevance: 0.3}},
	}
	rank := func(_ context.Context, _ search.Config, j search.Judgment) ([]search.Ranked, error) {
		return hits[j.Query], nil
	}
	configs := []search.Config{{Mode: search.ModeSparse, Threshold: 0}, {Mode: search.ModeDense, Threshold: 0.4}, {Mode: search.ModeHybrid, Threshold: 0.55}}
	res, err := search.Evaluate(context.Background(), judged, configs, 10, true, rank, nil)
	if err != nil {
		t.Fatal(err)
	}
	near := func(got, want float64) bool { return math.Abs(got-want) < 1e-9 }
	// Threshold 0: every hit, so the unanswerable query is answered.
	if r := res[0]; *r.NoAnswer != 0 || !near(r.Mean.NDCG10, (1+1/math.Log2(3))/2) || *r.PerQuery[2].Empty {
		t.Fatalf("threshold 0: %+v no answer %v", r.Mean, *r.NoAnswer)
	}
	// 0.4: the unanswerable query gets nothing; both others keep theirs.
	if r := res[1]; *r.NoAnswer != 1 || !near(r.Mean.NDCG10, (1+1/math.Log2(3))/2) || r.PerQuery[0].Empty != nil {
		t.Fatalf("threshold 0.4: %+v no answer %v", r.Mean, *r.NoAnswer)
	}
	// 0.55 loses b: recall 1/2.
	if r := res[2]; *r.NoAnswer != 1 || r.Mean.Recall != 0.5 {
		t.Fatalf("threshold 0.55: %+v", r.Mean)
	}
	// The fit: above 0.3 (the unanswerable one's best) and at most 0.45
	// (b's): the lowest such on the grid is 0.31.
	f := res[0].Fit
	if f == nil || !near(f.Threshold, 0.31) || f.NoAnswer != 1 || !near(f.Overall, (1+1/math.Log2(3)+1)/3) {
		t.Fatalf("fit %+v", f)
	}
	// The three fit alike (same hits); of equals, the best nDCG at its
	// own threshold, then the earlier: threshold 0.
	if best, _ := search.Best(res); best.Config != configs[0] {
		t.Fatalf("best %v", best.Name)
	}
	// Without unanswerable queries there is nothing to fit.
	res, err = search.Evaluate(context.Background(), judged[:2], configs[:1], 10, false, rank, nil)
	if err != nil || res[0].Fit != nil || res[0].NoAnswer != nil {
		t.Fatalf("answerable only: fit %+v, no answer %v, %v", res[0].Fit, res[0].NoAnswer, err)
	}
}
