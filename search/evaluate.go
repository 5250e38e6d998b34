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
// (1 relevant, higher more so; 0 or absent: not relevant). A judgment
// with no relevant document is unanswerable: the tenant's documents do
// not answer it, and the right answer is nothing.
type Judgment struct {
	Query    string
	Relevant map[uuid.UUID]int
	Filter   Filter
}

// Answerable reports whether some document answers j.
func (j Judgment) Answerable() bool {
	for _, g := range j.Relevant {
		if g > 0 {
			return true
		}
	}
	return false
}

// Config is one retrieval configuration an evaluation compares: a mode
// and, for hybrid, a fusion with its weights, and the threshold its
// searches drop hits below (see Request.ScoreThreshold).
type Config struct {
	Mode      Mode    `json:"mode"`
	Fusion    Fusion  `json:"fusion,omitempty"`
	Wts       Weights `json:"weights,omitzero"`
	Threshold float64 `json:"score_threshold"`
}

// Name is how tables and results name c: "sparse", "hybrid convex 0.3/0.7".
func (c Config) Name() string {
	if c.Mode != ModeHybrid {
		return string(c.Mode)
	}
	return fmt.Sprintf("hybrid %s %g/%g", c.Fusion, c.Wts.Dense, c.Wts.Sparse)
}

// Request is the search request c makes for j's query at depth topK,
// with threshold 0: every hit, with its Relevance, for Evaluate to cut.
func (c Config) Request(j Judgment, topK int) Request {
	zero := 0.0
	r := Request{Query: j.Query, TopK: topK, Mode: c.Mode, Filter: j.Filter, ScoreThreshold: &zero}
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
	// Empty is set for an unanswerable query alone: whether it was
	// answered with nothing, as it should be.
	Empty *bool `json:"answered_with_nothing,omitempty"`
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

// ConfigScores is one configuration's scores at its threshold: the means
// over the answerable queries, the share of unanswerable ones answered
// with nothing, and each query's scores when asked for (in the
// judgments' order).
type ConfigScores struct {
	Config Config `json:"config"`
	Name   string `json:"name"`
	Mean   Scores `json:"mean"`
	// NoAnswer is the share of unanswerable queries answered with nothing
	// (nil when there are none).
	NoAnswer *float64 `json:"no_answer"`
	// Fit is the threshold that would have served these judgments best
	// (nil without unanswerable queries, where 0 always does).
	Fit      *Fit     `json:"fitted_threshold,omitempty"`
	PerQuery []Scores `json:"per_query,omitempty"`
}

// Fit is the threshold under which a configuration does best over all
// the judgments, each answerable query counting its nDCG@10 and each
// unanswerable one 1 when answered with nothing (Overall, their mean),
// and what it scores there.
type Fit struct {
	Threshold float64 `json:"score_threshold"`
	Overall   float64 `json:"overall"`
	Mean      Scores  `json:"mean"`
	NoAnswer  float64 `json:"no_answer"`
}

// Ranked is a hit of an evaluation's search: its document and Relevance.
type Ranked struct {
	Document  uuid.UUID
	Relevance float32
}

// Ranker returns c's hits for j, best first, every hit (threshold 0).
type Ranker func(ctx context.Context, c Config, j Judgment) ([]Ranked, error)

// Evaluate scores every configuration over the judgments with rank, at
// recall depth k; progress (may be nil) is told after each query. Each
// configuration's hits below its Threshold are dropped before scoring.
func Evaluate(ctx context.Context, judged []Judgment, configs []Config, k int, perQuery bool, rank Ranker, progress func(done, total int)) ([]ConfigScores, error) {
	out := make([]ConfigScores, len(configs))
	total, done := len(judged)*len(configs), 0
	for ci, c := range configs {
		out[ci] = ConfigScores{Config: c, Name: c.Name()}
		hits := make([][]Ranked, len(judged))
		for i, j := range judged {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			var err error
			if hits[i], err = rank(ctx, c, j); err != nil {
				return nil, fmt.Errorf("%s: %q: %w", c.Name(), j.Query, err)
			}
			done++
			if progress != nil {
				progress(done, total)
			}
		}
		at := scoreAt(judged, hits, k, c.Threshold)
		out[ci].Mean, out[ci].NoAnswer = at.mean, at.noAnswer
		if perQuery {
			out[ci].PerQuery = at.perQuery
		}
		if at.noAnswer != nil {
			out[ci].Fit = fit(judged, hits, k)
		}
	}
	return out, nil
}

// thresholded is a configuration's scores at one threshold.
type thresholded struct {
	mean     Scores
	noAnswer *float64
	overall  float64
	perQuery []Scores
}

// scoreAt scores each judgment's hits with those below t dropped.
func scoreAt(judged []Judgment, hits [][]Ranked, k int, t float64) thresholded {
	var out thresholded
	var sum Scores
	answerable, empty, unanswerable := 0, 0, 0
	for i, j := range judged {
		docs := documentsAbove(hits[i], t)
		if !j.Answerable() {
			unanswerable++
			none := len(docs) == 0
			if none {
				empty++
			}
			out.perQuery = append(out.perQuery, Scores{Empty: &none})
			continue
		}
		answerable++
		s := Score(docs, j.Relevant, k)
		sum.NDCG10 += s.NDCG10
		sum.Recall += s.Recall
		sum.MRR += s.MRR
		out.perQuery = append(out.perQuery, s)
	}
	if n := float64(answerable); n > 0 {
		out.mean = Scores{NDCG10: sum.NDCG10 / n, Recall: sum.Recall / n, MRR: sum.MRR / n}
	}
	if unanswerable > 0 {
		share := float64(empty) / float64(unanswerable)
		out.noAnswer = &share
	}
	if n := len(judged); n > 0 {
		out.overall = (sum.NDCG10 + float64(empty)) / float64(n)
	}
	return out
}

// fit tries thresholds from 0 to 1 by 0.01 and returns the one of the
// best Overall (the lowest of equals: it drops the fewest hits).
func fit(judged []Judgment, hits [][]Ranked, k int) *Fit {
	var best *Fit
	for i := 0; i <= 100; i++ {
		t := float64(i) / 100
		at := scoreAt(judged, hits, k, t)
		if best == nil || at.overall > best.Overall+1e-12 {
			best = &Fit{Threshold: t, Overall: at.overall, Mean: at.mean, NoAnswer: *at.noAnswer}
		}
	}
	return best
}

// documentsAbove lists the documents of the hits whose Relevance reaches
// t, in order of first appearance.
func documentsAbove(hits []Ranked, t float64) []uuid.UUID {
	seen := map[uuid.UUID]bool{}
	var out []uuid.UUID
	for _, h := range hits {
		if float64(h.Relevance) >= t && !seen[h.Document] {
			seen[h.Document] = true
			out = append(out, h.Document)
		}
	}
	return out
}

// Best is the best configuration: with unanswerable queries, the one of
// the highest Overall at its fitted threshold; otherwise the highest mean
// nDCG@10 (then MRR, then the earlier one).
func Best(results []ConfigScores) (ConfigScores, bool) {
	if len(results) == 0 {
		return ConfigScores{}, false
	}
	better := func(a, b ConfigScores) bool {
		if a.Fit != nil && b.Fit != nil && a.Fit.Overall != b.Fit.Overall {
			return a.Fit.Overall > b.Fit.Overall
		}
		return a.Mean.NDCG10 > b.Mean.NDCG10 || (a.Mean.NDCG10 == b.Mean.NDCG10 && a.Mean.MRR > b.Mean.MRR)
	}
	best := results[0]
	for _, r := range results[1:] {
		if better(r, best) {
			best = r
		}
	}
	return best, true
}

// EvalDepth is how many chunks an evaluation's search asks for; their
// documents, in order of first appearance, are the ranking scored.
const EvalDepth = MaxTopK

// RankDocuments is the Ranker of the Searcher for tenantID: its top
// EvalDepth hits, every one (threshold 0).
func (s *Searcher) RankDocuments(tenantID uuid.UUID) Ranker {
	return func(ctx context.Context, c Config, j Judgment) ([]Ranked, error) {
		r := c.Request(j, EvalDepth)
		if err := r.Validate(); err != nil {
			return nil, err
		}
		res, err := s.Search(ctx, tenantID, r)
		if err != nil {
			return nil, err
		}
		return RankedOf(res.Hits), nil
	}
}

// RankedOf is hits as an evaluation ranks them.
func RankedOf(hits []Found) []Ranked {
	out := make([]Ranked, len(hits))
	for i, h := range hits {
		out[i] = Ranked{Document: h.DocumentID, Relevance: h.Relevance}
	}
	return out
}

// StandardConfigs are the configurations an evaluation compares when it
// is not told which: each arm alone, and each fusion with equal weights
// and with the sparse arm favoured.
func StandardConfigs(th Thresholds) []Config {
	cs := []Config{{Mode: ModeSparse, Threshold: th.Sparse}, {Mode: ModeDense, Threshold: th.Dense}}
	for _, f := range Fusions {
		for _, w := range []Weights{{Dense: 0.5, Sparse: 0.5}, {Dense: 0.3, Sparse: 0.7}, {Dense: 0.7, Sparse: 0.3}} {
			cs = append(cs, Config{Mode: ModeHybrid, Fusion: f, Wts: w, Threshold: th.Hybrid})
		}
	}
	return cs
}
