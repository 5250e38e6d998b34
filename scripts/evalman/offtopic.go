package main

import (
	"bufio"
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/google/uuid"

	"github.com/ragd/ragd/extract"
	"github.com/ragd/ragd/search"
)

// The off-topic set: questions the indexed manual pages do not answer,
// taken from another corpus (the headings and titles of news and blog
// pages), for which the best answer is nothing. The threshold report
// measures how well a configuration's top Relevance tells them from the
// judged queries.

// readOfftopic reads one query a line ('#' lines are comments).
func readOfftopic(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w (run from the repository's root)", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out, sc.Err()
}

// generateOfftopic writes n off-topic queries: the titles and section
// headings of the web pages under dir (each page a folder with a
// source.html) of at least 10 KiB (real pages, not the suite's made-up
// ones), extracted by ragd's HTML extractor: English ones of 3 to
// 15 words with at least three searchable terms that are not numbers
// (as the judged queries have), sampled with a fixed seed.
func generateOfftopic(ctx context.Context, path, dir string, n int) error {
	pages, err := filepath.Glob(filepath.Join(dir, "*", "source.html"))
	if err != nil || len(pages) == 0 {
		return fmt.Errorf("no */source.html under %s", dir)
	}
	seen := map[string]bool{}
	var cands []string
	add := func(s string) {
		s = strings.Join(strings.Fields(s), " ")
		words := len(strings.Fields(s))
		if words < 3 || words > 15 || wordTerms(s) < 3 || seen[strings.ToLower(s)] || !mostlyASCII(s) {
			return
		}
		seen[strings.ToLower(s)] = true
		cands = append(cands, s)
	}
	for _, p := range pages {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if len(b) < 10<<10 {
			// The suite's made-up test pages ("Base URL test", "Lorem
			// ipsum"), a few hundred bytes each: no one's questions.
			continue
		}
		ext, err := extract.Extract(ctx, extract.TypeHTML, b, extract.Limits{})
		if err != nil {
			continue
		}
		add(ext.Title)
		for _, sec := range ext.Sections {
			if len(sec.HeadingPath) > 0 {
				add(sec.HeadingPath[len(sec.HeadingPath)-1])
			}
		}
	}
	sort.Strings(cands)
	h := fnv.New64a()
	io.WriteString(h, "ragd-evalman-offtopic-1")
	r := rand.New(rand.NewPCG(h.Sum64(), 1))
	r.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	cands = cands[:min(n, len(cands))]
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "# ragd's off-topic queries: titles and headings of news and blog pages (mozilla/readability's test pages, Apache-2.0),")
	fmt.Fprintln(w, "# which the manual pages do not answer. Written by `go run ./scripts/evalman -generate-offtopic DIR`; see scripts/evalman.")
	for _, c := range cands {
		fmt.Fprintln(w, c)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Printf("wrote %s: %d off-topic queries of %d candidates\n", path, len(cands), len(seen))
	return nil
}

// wordTerms counts s's BM25 terms that are not numbers.
func wordTerms(s string) int {
	n := 0
	for _, t := range search.Terms(s) {
		if strings.IndexFunc(t, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
			n++
		}
	}
	return n
}

func mostlyASCII(s string) bool {
	ascii := 0
	for _, r := range s {
		if r < 128 {
			ascii++
		}
	}
	return ascii*10 >= len([]rune(s))*9
}

// reportThresholds prints, for each configuration: the ROC AUC of the
// top hit's Relevance (judged queries against off-topic ones), and at the
// default threshold of its mode, the share of off-topic queries answered
// with nothing, the share of judged queries that keep a relevant document
// among their top 10 hits (of those that have one without a threshold)
// and nDCG@10 with the threshold. Then, for the default configuration, the
// same at other thresholds.
func reportThresholds(ctx context.Context, idx index, judged []search.Judgment, offtopic []string, configs []search.Config, defConfig search.Config) error {
	runAll := func(c search.Config, queries []search.Judgment) ([]run, error) {
		out := make([]run, len(queries))
		for i, j := range queries {
			// As the evaluation ranks documents: the top EvalDepth hits,
			// threshold 0 (every hit), cut below.
			r := c.Request(j, search.EvalDepth)
			if err := r.Validate(); err != nil {
				return nil, err
			}
			res, err := idx.searcher.Search(ctx, idx.tenant, r)
			if err != nil {
				return nil, err
			}
			out[i].judge = j
			if len(res.Hits) > 0 {
				out[i].score = res.Hits[0].Score
			}
			for _, h := range res.Hits {
				out[i].rel = append(out[i].rel, h.Relevance)
				out[i].docs = append(out[i].docs, h.DocumentID)
				out[i].top = max(out[i].top, h.Relevance)
			}
		}
		return out, nil
	}
	off := make([]search.Judgment, len(offtopic))
	for i, q := range offtopic {
		off[i] = search.Judgment{Query: q}
	}
	th := idx.searcher.Thresholds()
	fmt.Printf("\nNothing relevant: %d judged queries against %d off-topic ones (scripts/evalman/offtopic.tsv), documents ranked by their best of the top %d hits as evaluations rank them, at each mode's default threshold (dense %.2f, sparse %.2f, hybrid %.2f):\n\n",
		len(judged), len(off), search.EvalDepth, th.Dense, th.Sparse, th.Hybrid)
	fmt.Println("| configuration | top-score AUC | top-relevance AUC | off-topic answered with nothing | judged keeping a relevant hit | nDCG@10 (thresholded) |")
	fmt.Println("| --- | --- | --- | --- | --- | --- |")
	var defOn, defOff []run
	var fits []string
	for _, c := range configs {
		on, err := runAll(c, judged)
		if err != nil {
			return err
		}
		offr, err := runAll(c, off)
		if err != nil {
			return err
		}
		var pos, neg, spos, sneg []float32
		for _, r := range on {
			pos, spos = append(pos, r.top), append(spos, r.score)
		}
		for _, r := range offr {
			neg, sneg = append(neg, r.top), append(sneg, r.score)
		}
		empty, kept, ndcg := at(on, offr, float32(th.For(c.Mode)))
		name := c.Name()
		if c == defConfig {
			name += " (default)"
			defOn, defOff = on, offr
		}
		fmt.Printf("| %s | %.3f | %.3f | %.1f%% | %.1f%% | %.3f |\n", name, auc(spos, sneg), auc(pos, neg), 100*empty, 100*kept, ndcg)
		_, _, ndcg0 := at(on, offr, 0)
		best := ruleThreshold(on, offr)
		e, k, n := at(on, offr, best)
		fits = append(fits, fmt.Sprintf("| %s | %.3f | %.1f%% | %.1f%% | %.3f (%.3f) |", name, best, 100*e, 100*k, n, ndcg0))
	}
	fmt.Println("\nThe highest threshold at which 95% of the judged queries keep their relevant hit and nDCG@10 stays within 0.005 of no threshold's, each configuration:")
	fmt.Println("\n| configuration | threshold | off-topic answered with nothing | judged keeping a relevant hit | nDCG@10 (no threshold) |")
	fmt.Println("| --- | --- | --- | --- | --- |")
	for _, f := range fits {
		fmt.Println(f)
	}
	if defOn == nil {
		return nil
	}
	fmt.Println("\nThe default configuration at other thresholds:")
	fmt.Println("\n| threshold | off-topic answered with nothing | judged keeping a relevant hit | nDCG@10 |")
	fmt.Println("| --- | --- | --- | --- |")
	for t := float32(0); t <= 0.5; t += 0.025 {
		empty, kept, ndcg := at(defOn, defOff, t)
		fmt.Printf("| %.3f | %.1f%% | %.1f%% | %.3f |\n", t, 100*empty, 100*kept, ndcg)
	}
	return nil
}

// auc is the probability that a positive scores above a negative (ties
// count half): the area under the ROC curve.
func auc(pos, neg []float32) float64 {
	if len(pos) == 0 || len(neg) == 0 {
		return 0
	}
	sorted := slices.Clone(neg)
	slices.Sort(sorted)
	var sum float64
	for _, p := range pos {
		below, _ := slices.BinarySearch(sorted, p)
		upTo := below
		for upTo < len(sorted) && sorted[upTo] == p {
			upTo++
		}
		sum += float64(below) + float64(upTo-below)/2
	}
	return sum / float64(len(pos)*len(neg))
}

// run is a query's hits, ranked as its configuration ranks them.
type run struct {
	score float32   // the best hit's Score (what ranks; 0: no hit)
	top   float32   // best Relevance (0: no hit)
	rel   []float32 // Relevance of each hit, best first
	docs  []uuid.UUID
	judge search.Judgment
}

// at scores runs with threshold t: off-topic answered with nothing,
// judged queries keeping a relevant hit, nDCG@10.
func at(on, offr []run, t float32) (empty, kept, ndcg float64) {
	for _, r := range offr {
		if r.top < t {
			empty++
		}
	}
	had := 0
	for _, r := range on {
		var docs []uuid.UUID
		seen := map[uuid.UUID]bool{}
		hadRel, keptRel := false, false
		for i, d := range r.docs {
			if r.judge.Relevant[d] > 0 {
				hadRel = true
				if r.rel[i] >= t {
					keptRel = true
				}
			}
			if r.rel[i] >= t && !seen[d] {
				seen[d] = true
				docs = append(docs, d)
			}
		}
		if hadRel {
			had++
			if keptRel {
				kept++
			}
		}
		ndcg += search.Score(docs, r.judge.Relevant, 10).NDCG10
	}
	return empty / float64(max(len(offr), 1)), kept / float64(max(had, 1)), ndcg / float64(max(len(on), 1))
}

// ruleThreshold is the threshold the defaults' rule picks, reading the
// judged queries alone: the highest at which 95% of them keep their
// relevant hit and nDCG@10 is within 0.005 of no threshold's.
func ruleThreshold(on, offr []run) float32 {
	_, _, ndcg0 := at(on, offr, 0)
	best := float32(0)
	for t := float32(0); t <= 1; t += 0.005 {
		if _, kept, ndcg := at(on, offr, t); kept >= 0.95 && ndcg >= ndcg0-0.005 {
			best = t
		}
	}
	return best
}
