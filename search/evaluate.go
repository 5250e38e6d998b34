package search

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/google/uuid"
)

// Judgment is a judged query: the documents that answer it, with grades
// (1 relevant, higher more so; 0 or absent: not relevant).
type Judgment struct {
	Query    string
	Relevant map[uuid.UUID]int
	Filter   Filter
}

// Config is one retrieval configuration an evaluation compares: a mode
// and, for hybrid, a fusion with its weights.
type Config struct {
	Mode   Mode    `json:"mode"`
	Fusion Fusion  `json:"fusion,omitempty"`
	Wts    Weights `json:"weights,omitzero"`
}

// Name is how tables and results name c: "sparse", "hybrid convex 0.3/0.7".
func (c Config) Name() string {
	if c.Mode != ModeHybrid {
		return string(c.Mode)
	}
	return fmt.Sprintf("hybrid %s %g/%g", c.Fusion, c.Wts.Dense, c.Wts.Sparse)
}

// Request is the search request c makes for j's query at depth topK.
func (c Config) Request(j Judgment, topK int) Request {
	r := Request{Query: j.Query, TopK: topK, Mode: c.Mode, Filter: j.Filter}
	if c.Mode == ModeHybrid {
		w := c.Wts
		r.Fusion, r.Weights = c.Fusion, &w
	}
	return r
}

// Scores are a ranking's quality against a judgment. NDCG is at 10
// documents with linear gains (grade / log2(rank+1)); Recall is at the
// evaluation's K documents; MRR is the reciprocal rank of the first
// relevant document within the ranking's depth (0 when none).
type Scores struct {
	NDCG10 float64 `json:"ndcg_at_10"`
	Recall float64 `json:"recall_at_k"`
	MRR    float64 `json:"mrr"`
}

// Score scores ranked documents (best first, no repeats) against rel.
func Score(ranked []uuid.UUID, rel map[uuid.UUID]int, k int) Scores {
	var s Scores
	var dcg float64
	relevant := 0
	var grades []int
	for _, g := range rel {
		if g > 0 {
			relevant++
			grades = append(grades, g)
		}
	}
	if relevant == 0 {
		return s
	}
	found := 0
	for i, id := range ranked {
		g := rel[id]
		if g <= 0 {
			continue
		}
		if i < 10 {
			dcg += float64(g) / math.Log2(float64(i+2))
		}
		if i < k {
			found++
		}
		if s.MRR == 0 {
			s.MRR = 1 / float64(i+1)
		}
	}
	slices.SortFunc(grades, func(a, b int) int { return cmp.Compare(b, a) })
	var idcg float64
	for i, g := range grades[:min(10, len(grades))] {
		idcg += float64(g) / math.Log2(float64(i+2))
	}
	s.NDCG10 = dcg / idcg
	s.Recall = float64(found) / float64(relevant)
	return s
}

// ConfigScores is one configuration's mean scores, and each query's when
// asked for (in the judgments' order).
type ConfigScores struct {
	Config   Config   `json:"config"`
	Name     string   `json:"name"`
	Mean     Scores   `json:"mean"`
	PerQuery []Scores `json:"per_query,omitempty"`
}

// Ranker returns the documents c ranks for j, best first, without repeats.
type Ranker func(ctx context.Context, c Config, j Judgment) ([]uuid.UUID, error)

// Evaluate scores every configuration over the judgments with rank, at
// recall depth k; progress (may be nil) is told after each query.
func Evaluate(ctx context.Context, judged []Judgment, configs []Config, k int, perQuery bool, rank Ranker, progress func(done, total int)) ([]ConfigScores, error) {
	out := make([]ConfigScores, len(configs))
	total, done := len(judged)*len(configs), 0
	for ci, c := range configs {
		out[ci] = ConfigScores{Config: c, Name: c.Name()}
		var sum Scores
		for _, j := range judged {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			ranked, err := rank(ctx, c, j)
			if err != nil {
				return nil, fmt.Errorf("%s: %q: %w", c.Name(), j.Query, err)
			}
			s := Score(ranked, j.Relevant, k)
			sum.NDCG10 += s.NDCG10
			sum.Recall += s.Recall
			sum.MRR += s.MRR
			if perQuery {
				out[ci].PerQuery = append(out[ci].PerQuery, s)
			}
			done++
			if progress != nil {
				progress(done, total)
			}
		}
		if n := float64(len(judged)); n > 0 {
			out[ci].Mean = Scores{NDCG10: sum.NDCG10 / n, Recall: sum.Recall / n, MRR: sum.MRR / n}
		}
	}
	return out, nil
}

// Best is the configuration with the highest mean nDCG@10 (then MRR, then
// the earlier one).
func Best(results []ConfigScores) (ConfigScores, bool) {
	if len(results) == 0 {
		return ConfigScores{}, false
	}
	best := results[0]
	for _, r := range results[1:] {
		if r.Mean.NDCG10 > best.Mean.NDCG10 || (r.Mean.NDCG10 == best.Mean.NDCG10 && r.Mean.MRR > best.Mean.MRR) {
			best = r
		}
	}
	return best, true
}

// EvalDepth is how many chunks an evaluation's search asks for; their
// documents, in order of first appearance, are the ranking scored.
const EvalDepth = MaxTopK

// RankDocuments is the Ranker of the Searcher for tenantID: the documents
// of its top EvalDepth chunks, in order of their best chunk.
func (s *Searcher) RankDocuments(tenantID uuid.UUID) Ranker {
	return func(ctx context.Context, c Config, j Judgment) ([]uuid.UUID, error) {
		r := c.Request(j, EvalDepth)
		if err := r.Validate(); err != nil {
			return nil, err
		}
		res, err := s.Search(ctx, tenantID, r)
		if err != nil {
			return nil, err
		}
		return DocumentsOf(res.Hits), nil
	}
}

// DocumentsOf lists the documents of hits in order of first appearance.
func DocumentsOf(hits []Found) []uuid.UUID {
	seen := map[uuid.UUID]bool{}
	var out []uuid.UUID
	for _, h := range hits {
		if !seen[h.DocumentID] {
			seen[h.DocumentID] = true
			out = append(out, h.DocumentID)
		}
	}
	return out
}

// StandardConfigs are the configurations an evaluation compares when it
// is not told which: each arm alone, and each fusion with equal weights
// and with the sparse arm favoured.
func StandardConfigs() []Config {
	cs := []Config{{Mode: ModeSparse}, {Mode: ModeDense}}
	for _, f := range Fusions {
		for _, w := range []Weights{{Dense: 0.5, Sparse: 0.5}, {Dense: 0.3, Sparse: 0.7}, {Dense: 0.7, Sparse: 0.3}} {
			cs = append(cs, Config{Mode: ModeHybrid, Fusion: f, Wts: w})
		}
	}
	return cs
}
