package search

import "math"

// Calibrated scores. A hit's Relevance means the same for every query of
// a tenant, so that one threshold can say "nothing relevant":
//
//   - dense: the cosine similarity itself, clamped to [0, 1] (an absolute
//     scale already; what counts as related depends on the model);
//   - sparse: the BM25 score divided by the most the query's own terms
//     could give a chunk, Σ idf(t)·(k1+1) over the query's terms, with a
//     term no chunk uses counted as the rarest term used (in one chunk:
//     smoothing's extra weight for a term seen nowhere would make every
//     word a small tenant's documents lack count more than the words they
//     share). So 1 means every term of the query at saturation, and a
//     question whose rare words appear nowhere scores low even where its
//     common words match: the raw score's meaning, which grows with the
//     query's length, made independent of it, and of the IDF's scale,
//     which grows with the number of chunks;
//   - hybrid: the weighted mean of the two, a point missing from an arm's
//     candidates counting 0 there.
//
// Per-query normalisations (min-max, or rank fusion) cannot do this: the
// best hit of any query, even one about nothing in the corpus, scores at
// the top of their scale.

// SparseIDF is BM25's inverse document frequency of a term found in df
// of n chunks, as Qdrant's IDF modifier computes it.
func SparseIDF(n, df int) float64 {
	return math.Log(1 + (float64(n-df)+0.5)/(float64(df)+0.5))
}

// boundIDF is the IDF a query term counts with in SparseBound: its own,
// or for a term no chunk holds, that of a term in one chunk.
func boundIDF(n, df int) float64 { return SparseIDF(n, max(df, 1)) }

// SparseBound is the highest BM25 score a chunk could get for q, given
// the IDF of each of q's terms (by position): Σ q_t·idf_t·(k1+1), the
// document side of a term being at most k1+1.
func SparseBound(q SparseVector, idf func(i int) float64) float64 {
	var ub float64
	for i, v := range q.Values {
		ub += float64(v) * idf(i) * (DefaultBM25.K1 + 1)
	}
	return ub
}

// calibrateDense sets the dense arm's hits' Relevance.
func calibrateDense(hits []Hit) {
	for i := range hits {
		hits[i].Relevance = float32(min(max(float64(hits[i].Score), 0), 1))
	}
}

// calibrateSparse sets the sparse arm's hits' Relevance, bound being the
// query's SparseBound, and makes it their Score too: the order is the
// same (one bound a query), and the fusions are indifferent to an arm's
// scale.
func calibrateSparse(hits []Hit, bound float64) {
	for i := range hits {
		r := 0.0
		if bound > 0 {
			r = min(float64(hits[i].Score)/bound, 1)
		}
		hits[i].Relevance, hits[i].Score = float32(r), float32(r)
	}
}

// Thresholds are the Relevance a hit needs in each mode when a search
// names no threshold.
type Thresholds struct {
	Dense  float64 `json:"dense"`
	Sparse float64 `json:"sparse"`
	Hybrid float64 `json:"hybrid"`
}

// For is the threshold of mode m.
func (t Thresholds) For(m Mode) float64 {
	switch m {
	case ModeDense:
		return t.Dense
	case ModeSparse:
		return t.Sparse
	}
	return t.Hybrid
}

// DefaultThresholds are the thresholds searches get when they name none.
//
//   - With the local embedder, measured on ragd's judged set against
//     off-topic questions (make eval), documents ranked as evaluations
//     rank them: for each mode, the highest threshold at which 95% of the
//     judged queries keep their relevant hit and nDCG@10 stays within
//     0.005 of no threshold's. They answer 56% (hybrid), 50% (sparse) and
//     21% (dense) of the off-topic questions with nothing.
//   - With a real model, not measured here (no model is reachable): the
//     sparse arm's as measured, and for cosines a low bar (related
//     passages of OpenAI's text-embedding-3 models score about 0.3 to
//     0.6, unrelated ones 0 to 0.2). A tenant's evaluation with
//     unanswerable queries fits its own (POST /v1/evaluations, then
//     apply).
func DefaultThresholds(localEmbedder bool) Thresholds {
	if localEmbedder {
		return Thresholds{Dense: 0.2, Sparse: 0.23, Hybrid: 0.23}
	}
	return Thresholds{Dense: 0.25, Sparse: 0.23, Hybrid: 0.2}
}
