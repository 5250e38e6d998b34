package main

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"unicode"

	"github.com/google/uuid"

	"github.com/ragd/ragd/search"
)

// featureExperiment compares query-level signals for "nothing relevant",
// each computed from the tenant's own index alone, alone and combined
// with the top Relevance (rel), by the ROC AUC of the signal (judged
// queries against off-topic ones) and the share of off-topic queries
// below the level that keeps 99.5% and 95% of the judged queries above
// it (a query-level screen, not the report's per-hit figures):
//
//   - coverage: the share of the query's IDF mass (as SparseBound counts
//     it) whose terms a hit holds at all, whatever their frequency;
//   - the IDF profile: how common the query's words are in the tenant's
//     chunks (mean IDF over the highest; mean log df over log n), and the
//     share of its IDF mass from words no chunk holds;
//   - a null model: the top Relevance of nullK queries of random words
//     of the tenant's own vocabulary, each as common in its chunks as the
//     word of the query it stands for; rel is compared with theirs;
//   - peakedness: the top sparse Relevance over the mean of the top 10.
func featureExperiment(ctx context.Context, idx index, pages []*page, judged []search.Judgment, offtopic []string) error {
	n, df := idx.chunks, idx.df
	// The null model: queries of random words of the tenant's own
	// vocabulary, each as common in its chunks as the query's word it
	// stands for. A query's top relevance is compared with theirs.
	word := map[uint32]string{}
	for _, p := range pages {
		for _, c := range p.chunks {
			for _, w := range strings.FieldsFunc(strings.ToLower(c.Text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) && r != '_' }) {
				if q := search.QuerySparse(w); len(q.Indices) == 1 {
					if _, ok := word[q.Indices[0]]; !ok && df[q.Indices[0]] > 0 {
						word[q.Indices[0]] = w
					}
				}
			}
		}
	}
	type vw struct {
		w  string
		df int
	}
	var vocab []vw
	for t, w := range word {
		vocab = append(vocab, vw{w, df[t]})
	}
	slices.SortFunc(vocab, func(a, b vw) int { return cmp.Or(cmp.Compare(a.df, b.df), cmp.Compare(a.w, b.w)) })
	rng := rand.New(rand.NewPCG(1, 2))
	const nullK = 6 // random queries a query
	nullQueries := func(q string) []string {
		sq := search.QuerySparse(q)
		out := make([]string, nullK)
		for k := range out {
			var ws []string
			for i, t := range sq.Indices {
				if df[t] == 0 {
					ws = append(ws, fmt.Sprintf("zq%dx%dv", k, i))
					continue
				}
				at, _ := slices.BinarySearchFunc(vocab, df[t], func(e vw, d int) int { return cmp.Compare(e.df, d) })
				j := min(max(at+rng.IntN(101)-50, 0), len(vocab)-1)
				ws = append(ws, vocab[j].w)
			}
			out[k] = strings.Join(ws, " ")
		}
		return out
	}
	def := search.DefaultFusing(true)
	zero := 0.0
	type feats map[string]float64
	run := func(q string) (feats, error) {
		f := feats{}
		sq := search.QuerySparse(q)
		w := map[uint32]float64{}
		var total, unknown float64
		for i, t := range sq.Indices {
			v := float64(sq.Values[i]) * search.SparseIDF(n, max(df[t], 1))
			w[t] = v
			total += v
			if df[t] == 0 {
				unknown += v
			}
		}
		cov := func(id [16]byte) float64 {
			if total == 0 {
				return 0
			}
			var c float64
			for t, v := range w {
				if idx.terms[id][t] {
					c += v
				}
			}
			return c / total
		}
		res, err := idx.searcher.Search(ctx, idx.tenant, search.Request{Query: q, TopK: search.EvalDepth, Mode: search.ModeHybrid, Fusion: def.Fusion, Weights: &def.Weights, ScoreThreshold: &zero})
		if err != nil {
			return nil, err
		}
		for i, h := range res.Hits {
			r := float64(h.Relevance)
			c := cov(h.ChunkID)
			f["rel (ragd's top Relevance)"] = max(f["rel (ragd's top Relevance)"], r)
			if i < 10 {
				f["coverage, best of top 10"] = max(f["coverage, best of top 10"], c)
			}
			f["rel·coverage"] = max(f["rel·coverage"], r*c)
			f["rel·√coverage"] = max(f["rel·√coverage"], r*math.Sqrt(c))
			f["(rel+coverage)/2"] = max(f["(rel+coverage)/2"], (r+c)/2)
		}
		if len(res.Hits) > 0 {
			f["coverage of the top hit"] = cov(res.Hits[0].ChunkID)
		}
		var nulls []float64
		for _, nq := range nullQueries(q) {
			nr, err := idx.searcher.Search(ctx, idx.tenant, search.Request{Query: nq, TopK: search.EvalDepth, Mode: search.ModeHybrid, Fusion: def.Fusion, Weights: &def.Weights, ScoreThreshold: &zero})
			if err != nil {
				return nil, err
			}
			top := 0.0
			for _, h := range nr.Hits {
				top = max(top, float64(h.Relevance))
			}
			nulls = append(nulls, top)
		}
		var nm, nsd float64
		for _, v := range nulls {
			nm += v
		}
		nm /= float64(max(len(nulls), 1))
		for _, v := range nulls {
			nsd += (v - nm) * (v - nm)
		}
		nsd = math.Sqrt(nsd / float64(max(len(nulls), 1)))
		r := f["rel (ragd's top Relevance)"]
		f["null: rel − null mean"] = r - nm
		f["null: (rel − null mean)/(1 − null mean)"] = (r - nm) / (1 - nm)
		f["null: (rel − mean)/sd"] = (r - nm) / max(nsd, 0.01)
		f["null: rel / null mean"] = r / max(nm, 0.01)
		f["null: −(null mean) alone"] = -nm
		maxIDF := search.SparseIDF(n, 1)
		var avgIDF, common float64
		for _, t := range sq.Indices {
			avgIDF += search.SparseIDF(n, max(df[t], 1)) / maxIDF
			common += math.Log1p(float64(df[t])) / math.Log1p(float64(n))
		}
		if k := float64(len(sq.Indices)); k > 0 {
			avgIDF /= k
			common /= k
		}
		f["idf: 1 − mean IDF/max IDF"] = 1 - avgIDF
		f["idf: mean log df / log n"] = common
		for _, l := range []float64{0.1, 0.3} {
			f[fmt.Sprintf("idf: rel + %.1f·(1 − mean IDF/max)", l)] = r + l*(1-avgIDF)
			f[fmt.Sprintf("idf: rel + %.1f·mean log df/log n", l)] = r + l*common
		}
		f["idf: rel·(1 − mean IDF/max)"] = r * (1 - avgIDF)
		f["idf: rel·√(1 − mean IDF/max)"] = r * math.Sqrt(1-avgIDF)
		f["known share of the query's IDF mass"] = 1 - unknown/max(total, 1e-9)
		f["rel·known share"] = f["rel (ragd's top Relevance)"] * f["known share of the query's IDF mass"]
		sp, err := idx.searcher.Search(ctx, idx.tenant, search.Request{Query: q, TopK: 10, Mode: search.ModeSparse, ScoreThreshold: &zero})
		if err != nil {
			return nil, err
		}
		if len(sp.Hits) > 1 {
			var mean float64
			for _, h := range sp.Hits {
				mean += float64(h.Relevance)
			}
			mean /= float64(len(sp.Hits))
			f["sparse top / mean of top 10"] = float64(sp.Hits[0].Relevance) / max(mean, 1e-9)
		}
		return f, nil
	}
	var on, off []feats
	for _, j := range judged {
		f, err := run(j.Query)
		if err != nil {
			return err
		}
		on = append(on, f)
	}
	for _, q := range offtopic {
		f, err := run(q)
		if err != nil {
			return err
		}
		off = append(off, f)
	}
	var names []string
	for k := range on[0] {
		names = append(names, k)
	}
	slices.Sort(names)
	fmt.Printf("\nQuery-level signals (%d chunks), judged (%d) against off-topic (%d):\n\n", n, len(on), len(off))
	fmt.Println("| signal | ROC AUC | off-topic below the level keeping 99.5% of judged | 95% of judged |")
	fmt.Println("| --- | --- | --- | --- |")
	for _, name := range names {
		var pos, neg []float32
		for _, f := range on {
			pos = append(pos, float32(f[name]))
		}
		for _, f := range off {
			neg = append(neg, float32(f[name]))
		}
		slices.Sort(pos)
		below := func(keep float64) float64 {
			t := pos[int(math.Floor((1-keep)*float64(len(pos))))]
			c := 0
			for _, v := range neg {
				if v < t {
					c++
				}
			}
			return 100 * float64(c) / float64(len(neg))
		}
		fmt.Printf("| %s | %.3f | %.1f%% | %.1f%% |\n", name, auc(pos, neg), below(0.995), below(0.95))
	}
	return nil
}

// hitRun is a query's hybrid hits (the default configuration, top
// EvalDepth, best first) with each hit's calibrated score on either arm,
// computed for every hit (the stores count 0 for a hit outside an arm's
// candidates).
type hitRun struct {
	judge        search.Judgment
	docs         []uuid.UUID
	dense, spars []float64
}

// relevanceExperiment re-scores the default configuration's hits with
// other ways of combining the arms' calibrated scores into a relevance
// (weighted arithmetic means, as ragd's, weighted geometric means, which
// need both arms to agree, the minimum and a weighted harmonic mean),
// and reports, at the threshold the defaults' rule picks for each (the
// highest at which 95% of judged queries keep a relevant hit and nDCG@10
// stays within 0.005 of no threshold's), what reportThresholds reports.
func relevanceExperiment(ctx context.Context, idx index, judged []search.Judgment, offtopic []string) error {
	def := search.DefaultFusing(true)
	zero := 0.0
	searchOne := func(j search.Judgment) (hitRun, error) {
		r := hitRun{judge: j}
		// Each arm's calibrated score of every hit, computed exactly (as
		// the stores do, but for hits outside an arm's candidates too).
		qe, err := idx.emb.Embed(ctx, idx.tenant, []string{j.Query})
		if err != nil {
			return r, err
		}
		qv := qe.Vectors[0]
		sq := search.QuerySparse(j.Query)
		idf := map[uint32]float64{}
		for _, t := range sq.Indices {
			idf[t] = search.SparseIDF(idx.chunks, idx.df[t])
		}
		bound := search.SparseBound(sq, func(i int) float64 { return search.SparseIDF(idx.chunks, max(idx.df[sq.Indices[i]], 1)) })
		exact := func(id uuid.UUID) (d, s float64) {
			p := idx.points[id]
			var dot, nq, np float64
			for i := range qv {
				dot += float64(qv[i]) * float64(p.Dense[i])
				nq += float64(qv[i]) * float64(qv[i])
				np += float64(p.Dense[i]) * float64(p.Dense[i])
			}
			if nq > 0 && np > 0 {
				d = min(max(dot/math.Sqrt(nq*np), 0), 1)
			}
			var sc float64
			for i, t := range p.Sparse.Indices {
				sc += idf[t] * float64(p.Sparse.Values[i])
			}
			if bound > 0 {
				s = min(sc/bound, 1)
			}
			return d, s
		}
		res, err := idx.searcher.Search(ctx, idx.tenant, search.Request{Query: j.Query, TopK: search.EvalDepth, Mode: search.ModeHybrid, Fusion: def.Fusion, Weights: &def.Weights, ScoreThreshold: &zero})
		if err != nil {
			return r, err
		}
		for _, h := range res.Hits {
			r.docs = append(r.docs, h.DocumentID)
			d, s := exact(h.ChunkID)
			r.dense = append(r.dense, d)
			r.spars = append(r.spars, s)
		}
		return r, nil
	}
	var on, off []hitRun
	for _, j := range judged {
		r, err := searchOne(j)
		if err != nil {
			return err
		}
		on = append(on, r)
	}
	for _, q := range offtopic {
		r, err := searchOne(search.Judgment{Query: q})
		if err != nil {
			return err
		}
		off = append(off, r)
	}
	// scored is runs with each hit's relevance by rel.
	scored := func(runs []hitRun, rel func(d, s float64) float64) []run {
		out := make([]run, len(runs))
		for i, r := range runs {
			out[i] = run{docs: r.docs, judge: r.judge}
			for j := range r.docs {
				v := float32(rel(r.dense[j], r.spars[j]))
				out[i].rel = append(out[i].rel, v)
				out[i].top = max(out[i].top, v)
			}
		}
		return out
	}
	type variant struct {
		name string
		rel  func(d, s float64) float64
	}
	var variants []variant
	for _, w := range []float64{0.2, 0.3, 0.4, 0.5} {
		variants = append(variants,
			variant{fmt.Sprintf("arithmetic %.1f/%.1f", w, 1-w), func(d, s float64) float64 { return w*d + (1-w)*s }},
			variant{fmt.Sprintf("geometric %.1f/%.1f", w, 1-w), func(d, s float64) float64 { return math.Pow(d, w) * math.Pow(s, 1-w) }})
	}
	variants = append(variants,
		variant{"min of the two", func(d, s float64) float64 { return min(d, s) }},
		variant{"harmonic 0.3/0.7", func(d, s float64) float64 {
			if d <= 0 || s <= 0 {
				return 0
			}
			return 1 / (0.3/d + 0.7/s)
		}})
	fmt.Printf("\nRelevance of the default configuration's hits, arms combined otherwise (%d judged, %d off-topic), each at the threshold of the defaults' rule:\n\n", len(on), len(off))
	fmt.Println("| relevance | top-relevance AUC | threshold | off-topic answered with nothing | judged keeping a relevant hit | nDCG@10 (no threshold) |")
	fmt.Println("| --- | --- | --- | --- | --- | --- |")
	for _, v := range variants {
		son, soff := scored(on, v.rel), scored(off, v.rel)
		var pos, neg []float32
		for _, r := range son {
			pos = append(pos, r.top)
		}
		for _, r := range soff {
			neg = append(neg, r.top)
		}
		_, _, ndcg0 := at(son, soff, 0)
		best := ruleThreshold(son, soff)
		e, k, n := at(son, soff, best)
		fmt.Printf("| %s | %.3f | %.3f | %.1f%% | %.1f%% | %.3f (%.3f) |\n", v.name, auc(pos, neg), best, 100*e, 100*k, n, ndcg0)
	}
	return nil
}
