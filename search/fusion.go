package search

import (
	"fmt"
	"math"

	"github.com/google/uuid"
)

// Fusion is how a hybrid query combines its dense and sparse arms. Every
// store computes it the same way, with Fuse, on the arms' ranked lists of
// PrefetchLimit candidates each: one implementation, so both stores rank
// alike, and weights that Qdrant's own fusion does not take.
type Fusion string

// Fusions. A point missing from an arm's list gets nothing from that arm.
//
//   - rrf: Reciprocal Rank Fusion, Σ w/(RRFK + position) with positions
//     from 0; only ranks count, so a weak arm has as much say as a strong
//     one unless its weight is lower. Scores lie in (0, (w_dense+w_sparse)/RRFK].
//   - dbsf: distribution-based score fusion, as Qdrant defines it: each
//     arm's scores are mapped to [0, 1] between mean − 3σ and mean + 3σ
//     of that arm's candidates, then Σ w·normalised. Scores lie in
//     [0, w_dense + w_sparse].
//   - convex: a convex combination of min-max normalised scores (Bruch et
//     al., "An Analysis of Fusion Functions for Hybrid Retrieval", ACM
//     TOIS 2023): each arm's candidates are mapped to [0, 1] between the
//     arm's lowest and highest score, and the weights are scaled to sum to
//     1, so scores lie in [0, 1] and 1 means best in both arms.
//   - calibrated: the weighted mean of the arms' calibrated scores (see
//     Calibrated): the score is the hit's Relevance, so it orders hits
//     and means the same across queries.
//
// Whatever the fusion, every fused hit's Relevance is that weighted mean:
// the first three order hits by a score relative to the query's other
// candidates, and a threshold compares Relevance.
const (
	FusionRRF        Fusion = "rrf"
	FusionDBSF       Fusion = "dbsf"
	FusionConvex     Fusion = "convex"
	FusionCalibrated Fusion = "calibrated"
)

// Fusions lists the fusions, for validation and evaluations.
var Fusions = []Fusion{FusionRRF, FusionDBSF, FusionConvex, FusionCalibrated}

// Weights are the arms' weights in a fusion; both ≥ 0, not both 0.
type Weights struct {
	Dense  float64 `json:"dense"`
	Sparse float64 `json:"sparse"`
}

// MaxWeight bounds a weight (only their ratio matters).
const MaxWeight = 100

// Fusing is a fusion with its weights.
type Fusing struct {
	Fusion  Fusion  `json:"fusion"`
	Weights Weights `json:"weights"`
}

// DefaultFusing is the fusion hybrid queries get when neither the request
// nor the agent says. It depends on the embedder, because the arms'
// strengths do:
//
//   - With the local hashing embedder (a lexical signal, weaker than
//     BM25), a convex combination weighted 0.3 dense to 0.7 sparse: on
//     ragd's judged set (make eval) nDCG@10 0.863, above sparse alone
//     (0.837), where plain RRF (0.802) scores below it.
//   - With a real embedding model, plain weights 0.5/0.5 of the same
//     convex combination: Bruch et al. found it at or above RRF on every
//     BEIR set they tried. We cannot measure a hosted model here, so the
//     tenant's own evaluations (POST /v1/evaluations) are the way to tune
//     it.
func DefaultFusing(localEmbedder bool) Fusing {
	if localEmbedder {
		return Fusing{Fusion: FusionConvex, Weights: Weights{Dense: 0.3, Sparse: 0.7}}
	}
	return Fusing{Fusion: FusionConvex, Weights: Weights{Dense: 0.5, Sparse: 0.5}}
}

// Validate checks the fusion and weights; field names the request field
// they came from, for the error.
func (f Fusing) Validate() error {
	switch f.Fusion {
	case FusionRRF, FusionDBSF, FusionConvex, FusionCalibrated:
	default:
		return fmt.Errorf("fusion must be rrf, dbsf, convex or calibrated, not %q", f.Fusion)
	}
	w := f.Weights
	if !(w.Dense >= 0 && w.Sparse >= 0 && w.Dense <= MaxWeight && w.Sparse <= MaxWeight) || w.Dense+w.Sparse == 0 {
		return fmt.Errorf("weights must be between 0 and %d, not both 0", MaxWeight)
	}
	return nil
}

// orDefault is f, or RRF with equal weights when f is the zero value (a
// store queried without a fusion ranks as ragd always did).
func (f Fusing) orDefault() Fusing {
	if f.Fusion == "" {
		f.Fusion = FusionRRF
	}
	if f.Weights == (Weights{}) {
		f.Weights = Weights{Dense: 1, Sparse: 1}
	}
	return f
}

// Fuse combines a hybrid query's two ranked arms (best first) into the
// topK best by f (the zero Fusing: RRF, equal weights). Ties break by
// point id, so that every store returns the same order.
func Fuse(f Fusing, topK int, dense, sparse []Hit) []Hit {
	f = f.orDefault()
	wd, ws := f.Weights.Dense, f.Weights.Sparse
	if f.Fusion == FusionConvex {
		sum := wd + ws
		wd, ws = wd/sum, ws/sum
	}
	// Relevance is the same weighted mean in every fusion.
	rd, rs := f.Weights.Dense/(f.Weights.Dense+f.Weights.Sparse), f.Weights.Sparse/(f.Weights.Dense+f.Weights.Sparse)
	byID := make(map[uuid.UUID]*Hit, len(dense)+len(sparse))
	add := func(list []Hit, w, rw float64) {
		if w == 0 {
			return
		}
		norm := normaliser(f.Fusion, list)
		for pos, h := range list {
			s, r := float32(w*norm(pos, h.Score)), float32(rw*float64(h.Relevance))
			if got, ok := byID[h.ID]; ok {
				got.Score += s
				got.Relevance += r
				continue
			}
			h.Score, h.Relevance = s, r
			byID[h.ID] = &h
		}
	}
	add(dense, wd, rd)
	add(sparse, ws, rs)
	out := make([]Hit, 0, len(byID))
	for _, h := range byID {
		if f.Fusion == FusionCalibrated {
			h.Score = h.Relevance
		}
		out = append(out, *h)
	}
	sortHits(out)
	return out[:min(topK, len(out))]
}

// normaliser returns the function mapping a candidate of list (its
// position and score) to what the fusion adds for it before weighting.
func normaliser(f Fusion, list []Hit) func(pos int, score float32) float64 {
	switch f {
	case FusionDBSF:
		var mean, sq float64
		for _, h := range list {
			mean += float64(h.Score)
		}
		mean /= float64(max(len(list), 1))
		for _, h := range list {
			d := float64(h.Score) - mean
			sq += d * d
		}
		sd := math.Sqrt(sq / float64(max(len(list), 1)))
		lo, hi := mean-3*sd, mean+3*sd
		return func(_ int, s float32) float64 { return unit(float64(s), lo, hi) }
	case FusionCalibrated:
		return func(int, float32) float64 { return 0 } // the score is the Relevance
	case FusionConvex:
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, h := range list {
			lo, hi = min(lo, float64(h.Score)), max(hi, float64(h.Score))
		}
		return func(_ int, s float32) float64 { return unit(float64(s), lo, hi) }
	}
	return func(pos int, _ float32) float64 { return 1 / float64(pos+RRFK) }
}

// unit maps s from [lo, hi] to [0, 1], clamped; an arm whose candidates
// all score alike maps them to 1 (each is as good as the best).
func unit(s, lo, hi float64) float64 {
	if !(hi > lo) {
		return 1
	}
	return min(max((s-lo)/(hi-lo), 0), 1)
}
