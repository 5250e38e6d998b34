package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"slices"

	"github.com/ragd/ragd/search"
)

// calibrationExperiment compares ways to put a query's top BM25 score on
// a scale that holds across queries, by the ROC AUC of the top score
// (judged queries against off-topic ones), the sparse arm alone and
// mixed with the dense arm's cosine.
func calibrationExperiment(ctx context.Context, idx index, judged []search.Judgment, offtopic []string) error {
	n, df := idx.chunks, idx.df
	idf := func(t uint32) float64 { return search.SparseIDF(n, df[t]) }
	ref := func(share float64) float64 { return search.SparseIDF(n, int(share*float64(n))) }
	run := func(q string) (sample, error) {
		var s sample
		sq := search.QuerySparse(q)
		for _, t := range sq.Indices {
			s.terms = append(s.terms, idf(t))
			s.ub += search.SparseIDF(n, max(df[t], 1)) * (search.DefaultBM25.K1 + 1)
		}
		zero := 0.0
		for _, mode := range []search.Mode{search.ModeSparse, search.ModeDense} {
			res, err := idx.searcher.Search(ctx, idx.tenant, search.Request{Query: q, TopK: 10, Mode: mode, ScoreThreshold: &zero})
			if err != nil {
				return s, err
			}
			if len(res.Hits) > 0 {
				if mode == search.ModeSparse {
					s.raw = float64(res.Hits[0].Score)
				} else {
					s.dense = float64(res.Hits[0].Score)
				}
			}
		}
		return s, nil
	}
	var on, off []sample
	for _, j := range judged {
		s, err := run(j.Query)
		if err != nil {
			return err
		}
		on = append(on, s)
	}
	for _, q := range offtopic {
		s, err := run(q)
		if err != nil {
			return err
		}
		off = append(off, s)
	}
	variants := []struct {
		name string
		f    func(s sample) float64
	}{
		{"raw BM25", func(s sample) float64 { return s.raw }},
		{"BM25 / bound of the query's terms (ragd)", func(s sample) float64 { return div(s.raw, s.ub) }},
		{"BM25 / bound, a term seen nowhere at the highest IDF", floorBound(0)},
		{"BM25 / bound, terms at least as rare as 1% of chunks", floorBound(ref(0.01))},
		{"BM25 / bound, terms at least as rare as 0.3% of chunks", floorBound(ref(0.003))},
		{"BM25 / bound, terms at least as rare as 0.1% of chunks", floorBound(ref(0.001))},
		{"BM25 / bound, terms at the highest IDF", func(s sample) float64 { return div(s.raw, float64(len(s.terms))*ref(0)*(search.DefaultBM25.K1+1)) }},
		{"dense cosine", func(s sample) float64 { return s.dense }},
	}
	if os.Getenv("EVALMAN_SHOW") != "" {
		type row struct {
			q string
			v float64
		}
		var rows []row
		for i, s := range off {
			rows = append(rows, row{offtopic[i], 0.5*max(s.dense, 0) + 0.5*div(s.raw, s.ub)})
		}
		slices.SortFunc(rows, func(a, b row) int { return cmp.Compare(b.v, a.v) })
		for _, r := range rows[:30] {
			fmt.Printf("off %.3f %s\n", r.v, r.q)
		}
		rows = rows[:0]
		for i, s := range on {
			rows = append(rows, row{judged[i].Query, 0.5*max(s.dense, 0) + 0.5*div(s.raw, s.ub)})
		}
		slices.SortFunc(rows, func(a, b row) int { return cmp.Compare(a.v, b.v) })
		for _, r := range rows[:20] {
			fmt.Printf("on %.3f %s\n", r.v, r.q)
		}
	}
	fmt.Printf("\nCalibrating the top score (%d chunks): ROC AUC, judged against off-topic\n\n", n)
	fmt.Println("| sparse score | sparse alone | mean with dense 0.3/0.7 | 0.5/0.5 | 0.7/0.3 | max of the two |")
	fmt.Println("| --- | --- | --- | --- | --- | --- |")
	for _, v := range variants {
		col := func(wd float64) float64 {
			mix := func(s sample) float32 {
				if wd < 0 {
					return float32(max(s.dense, v.f(s)))
				}
				return float32(wd*max(s.dense, 0) + (1-wd)*v.f(s))
			}
			var pos, neg []float32
			for _, s := range on {
				pos = append(pos, mix(s))
			}
			for _, s := range off {
				neg = append(neg, mix(s))
			}
			return auc(pos, neg)
		}
		fmt.Printf("| %s | %.3f | %.3f | %.3f | %.3f | %.3f |\n", v.name, col(0), col(0.3), col(0.5), col(0.7), col(-1))
	}
	return nil
}

func div(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return min(a/b, 1)
}

// sample is a query's top scores and its terms' IDF.
type sample struct {
	raw, ub, dense float64
	terms          []float64
}

// floorBound divides by the bound with each term's IDF raised to at
// least floor: a query of common words cannot score high by matching
// them all.
func floorBound(floor float64) func(s sample) float64 {
	return func(s sample) float64 {
		var ub float64
		for _, t := range s.terms {
			ub += max(t, floor) * (search.DefaultBM25.K1 + 1)
		}
		return div(s.raw, ub)
	}
}
