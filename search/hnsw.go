package search

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// HNSW parameters (Malkov and Yashunin, 2016): m links per node on the
// upper layers and 2m on layer 0, efConstruction candidates while linking a
// node, hnswEfSearch candidates while searching a partition of up to
// 100k points (efSearch grows it with the partition; never fewer than
// asked for).
//
// Measured with BenchmarkGraphRecall on clustered 1536-dimensional
// vectors (BENCHMARKS.md): recall@10 against the exact scan, at ef 128,
// falls with the partition's size (0.999 at 100k, 0.966 at 300k with
// efConstruction 100) while the int8 codes re-scored lose nothing: a
// graph linked with more candidates (efConstruction 200: 0.980 at 300k
// and ef 128, 0.999 at ef 192) and a beam that widens with the partition
// hold it.
const (
	hnswM              = 16
	hnswEfConstruction = 200
	hnswEfSearch       = 128
)

// efSearch is the beam of a query for k hits in a graph of n nodes:
// hnswEfSearch up to 100k nodes, then growing with the square root of n
// (224 at 300k, 408 at 1M), in steps of 8, and never below k.
func efSearch(n, k int) int {
	ef := hnswEfSearch
	if n > 100_000 {
		ef = int(math.Ceil(hnswEfSearch*math.Sqrt(float64(n)/100_000)/8)) * 8
	}
	return max(ef, k)
}

// hnsw is a Hierarchical Navigable Small World graph over a partition's
// slots. Vectors are not copied: vecs[i] is slot i's (normalised) vector.
// Distances are 1 − cosine, computed from int8 codes of the vectors.
//
// Nodes are never removed: a deleted slot stays in the graph as a
// waypoint (alive says which slots may be returned) until the partition
// compacts and builds a new graph.
//
// Concurrency: add may run from several goroutines at once (build does);
// each node's links are guarded by its own lock, the entry point by
// entryMu. search only reads and may run alongside other searches, never
// alongside add (the store's lock sees to that).
type hnsw struct {
	vecs [][]float32
	// codes and scales are the vectors quantised to int8 (see quantize):
	// the graph is built and walked with them, a quarter of the bytes to
	// read per distance; the caller re-scores what search returns with the
	// float32 vectors.
	codes  [][]int8
	scales []float32
	// mappedCodes is how many of the first codes are in a checkpoint's
	// mapping (see moveCodes); the rest are on the heap.
	mappedCodes int
	nodes       []hnswNode
	locks       []sync.Mutex

	entryMu  sync.RWMutex
	entry    int32
	maxLevel int

	// m, efConstruction: see hnswM, hnswEfConstruction (fields so that
	// BenchmarkGraphRecall can vary them).
	m, efConstruction int

	levelMult float64
	seed      atomic.Uint64
	visited   sync.Pool // *visitSet
}

type hnswNode struct {
	links [][]int32 // links[layer]
}

func newHNSW() *hnsw {
	return &hnsw{entry: -1, m: hnswM, efConstruction: hnswEfConstruction, levelMult: 1 / math.Log(hnswM)}
}

// grow makes room for (and quantises) the slots of vecs not yet seen;
// not concurrent with add.
func (h *hnsw) grow(vecs [][]float32) {
	h.vecs = vecs
	for _, v := range vecs[len(h.codes):] {
		c, s := quantize(v)
		h.codes, h.scales = append(h.codes, c), append(h.scales, s)
	}
	if n := len(vecs); n > len(h.nodes) {
		h.nodes = append(h.nodes, make([]hnswNode, n-len(h.nodes))...)
	}
	if n := len(vecs); n > len(h.locks) {
		// No lock is held between calls to add, so a new array is safe.
		h.locks = make([]sync.Mutex, max(n, 2*len(h.locks)))
	}
}

func (h *hnsw) randomLevel() int {
	s := h.seed.Add(0x9E3779B97F4A7C15)
	r := rand.New(rand.NewPCG(s, s>>7))
	return int(-math.Log(1-r.Float64()) * h.levelMult)
}

// hq is a vector to measure distances from, quantised.
type hq struct {
	codes []int8
	scale float32
}

func newHQ(v []float32) hq {
	c, s := quantize(v)
	return hq{c, s}
}

func (h *hnsw) node(i int32) hq { return hq{h.codes[i], h.scales[i]} }

// dist approximates 1 − cosine from the int8 codes.
func (h *hnsw) dist(q hq, i int32) float32 {
	return 1 - float32(dotInt8(q.codes, h.codes[i]))*q.scale*h.scales[i]
}

// linksOf returns i's links on layer. While the graph is being built
// (locked) it copies them into buf under i's lock; a search without
// writers reads them in place.
func (h *hnsw) linksOf(buf []int32, i int32, layer int, locked bool) []int32 {
	if !locked {
		if layer >= len(h.nodes[i].links) {
			return nil
		}
		return h.nodes[i].links[layer]
	}
	h.locks[i].Lock()
	defer h.locks[i].Unlock()
	if layer >= len(h.nodes[i].links) {
		return buf[:0]
	}
	return append(buf[:0], h.nodes[i].links[layer]...)
}

// build adds slots [from, len(vecs)) using every core.
func (h *hnsw) build(vecs [][]float32, from int, alive func(int32) bool) {
	h.grow(vecs)
	workers := min(runtime.GOMAXPROCS(0), 8)
	var next atomic.Int64
	next.Store(int64(from))
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(vecs)) {
					return
				}
				if alive(int32(i)) {
					h.add(int32(i))
				}
			}
		})
	}
	wg.Wait()
}

// add links slot i into the graph; grow must have covered it.
func (h *hnsw) add(i int32) {
	level := h.randomLevel()
	links := make([][]int32, level+1)
	h.locks[i].Lock()
	h.nodes[i].links = links
	h.locks[i].Unlock()

	h.entryMu.RLock()
	ep, top := h.entry, h.maxLevel
	h.entryMu.RUnlock()
	if ep < 0 {
		h.entryMu.Lock()
		if h.entry < 0 {
			h.entry, h.maxLevel = i, level
			h.entryMu.Unlock()
			return
		}
		ep, top = h.entry, h.maxLevel
		h.entryMu.Unlock()
	}
	q := h.node(i)
	cur := candidate{ep, h.dist(q, ep)}
	for l := top; l > level; l-- {
		cur = h.greedy(q, cur, l, true)
	}
	eps := []candidate{cur}
	for l := min(level, top); l >= 0; l-- {
		found := h.searchLayer(q, eps, h.efConstruction, l, nil, true)
		maxLinks := h.m
		if l == 0 {
			maxLinks = 2 * h.m
		}
		chosen := h.selectNeighbours(found, h.m)
		ids := make([]int32, len(chosen))
		for j, c := range chosen {
			ids[j] = c.id
		}
		h.locks[i].Lock()
		h.nodes[i].links[l] = ids
		h.locks[i].Unlock()
		for _, c := range chosen {
			h.link(c.id, i, c.dist, l, maxLinks)
		}
		eps = found
	}
	if level > top {
		h.entryMu.Lock()
		if level > h.maxLevel {
			h.entry, h.maxLevel = i, level
		}
		h.entryMu.Unlock()
	}
}

// link adds to to from's links on layer l, pruning them with the
// heuristic when they overflow.
func (h *hnsw) link(from, to int32, d float32, l, maxLinks int) {
	h.locks[from].Lock()
	defer h.locks[from].Unlock()
	links := h.nodes[from].links
	if l >= len(links) {
		return
	}
	if len(links[l]) < maxLinks {
		links[l] = append(links[l], to)
		return
	}
	cands := make([]candidate, 0, len(links[l])+1)
	cands = append(cands, candidate{to, d})
	v := h.node(from)
	for _, n := range links[l] {
		cands = append(cands, candidate{n, h.dist(v, n)})
	}
	slices.SortFunc(cands, candidate.compare)
	chosen := h.selectNeighbours(cands, maxLinks)
	links[l] = links[l][:0]
	for _, c := range chosen {
		links[l] = append(links[l], c.id)
	}
}

// selectNeighbours is the paper's heuristic (algorithm 4): of candidates
// sorted nearest first, keep one only if it is nearer to the new node than
// to every one already kept, so links spread in all directions. Like
// hnswlib it does not fill up with the rejected: a list pruned below m has
// room, so the next links to it cost no pruning.
func (h *hnsw) selectNeighbours(cands []candidate, m int) []candidate {
	if len(cands) <= m {
		return cands
	}
	kept := make([]candidate, 0, m)
	for _, c := range cands {
		if len(kept) == m {
			break
		}
		good := true
		for _, k := range kept {
			if h.dist(h.node(c.id), k.id) < c.dist {
				good = false
				break
			}
		}
		if good {
			kept = append(kept, c)
		}
	}
	return kept
}

// greedy walks layer l towards q from cur.
func (h *hnsw) greedy(q hq, cur candidate, l int, locked bool) candidate {
	var buf []int32
	for changed := true; changed; {
		changed = false
		buf = h.linksOf(buf, cur.id, l, locked)
		for _, n := range buf {
			if d := h.dist(q, n); d < cur.dist {
				cur, changed = candidate{n, d}, true
			}
		}
	}
	return cur
}

// searchLayer is the beam search of layer l (algorithm 2): the ef nearest
// nodes to q that accept allows (all when accept is nil), nearest first.
// Nodes accept refuses are still walked through, so a filter or a
// tombstone never cuts the graph.
func (h *hnsw) searchLayer(q hq, eps []candidate, ef, l int, accept func(int32) bool, locked bool) []candidate {
	vs := h.visitSet()
	defer h.visited.Put(vs)
	var cands minHeap
	var found maxHeap
	for _, ep := range eps {
		vs.visit(ep.id)
		cands.push(ep)
		if accept == nil || accept(ep.id) {
			found.push(ep)
		}
	}
	buf := make([]int32, 0, 2*hnswM)
	for len(cands) > 0 {
		c := cands.pop()
		if len(found) >= ef && c.dist > found[0].dist {
			break
		}
		buf = h.linksOf(buf, c.id, l, locked)
		for _, n := range buf {
			if !vs.visit(n) {
				continue
			}
			d := h.dist(q, n)
			if len(found) < ef || d < found[0].dist {
				cands.push(candidate{n, d})
				if accept == nil || accept(n) {
					found.push(candidate{n, d})
					if len(found) > ef {
						found.pop()
					}
				}
			}
		}
	}
	out := []candidate(found)
	slices.SortFunc(out, candidate.compare)
	return out
}

// search returns up to ef accepted nodes nearest to q (normalised),
// nearest first by the quantised distance.
func (h *hnsw) search(v []float32, ef int, accept func(int32) bool) []candidate {
	q := newHQ(v)
	h.entryMu.RLock()
	ep, top := h.entry, h.maxLevel
	h.entryMu.RUnlock()
	if ep < 0 {
		return nil
	}
	cur := candidate{ep, h.dist(q, ep)}
	for l := top; l > 0; l-- {
		cur = h.greedy(q, cur, l, false)
	}
	return h.searchLayer(q, []candidate{cur}, ef, 0, accept, false)
}

type candidate struct {
	id   int32
	dist float32
}

func (a candidate) compare(b candidate) int {
	switch {
	case a.dist < b.dist:
		return -1
	case a.dist > b.dist:
		return 1
	}
	return int(a.id) - int(b.id)
}

// visitSet marks visited nodes with a generation number, so it is cleared
// in O(1) between searches.
type visitSet struct {
	gen  uint32
	mark []uint32
}

func (h *hnsw) visitSet() *visitSet {
	vs, _ := h.visited.Get().(*visitSet)
	if vs == nil {
		vs = &visitSet{}
	}
	if len(vs.mark) < len(h.nodes) {
		vs.mark = make([]uint32, len(h.nodes)+len(h.nodes)/4)
		vs.gen = 0
	}
	vs.gen++
	if vs.gen == 0 {
		clear(vs.mark)
		vs.gen = 1
	}
	return vs
}

// visit marks i and reports whether it was unvisited.
func (vs *visitSet) visit(i int32) bool {
	if vs.mark[i] == vs.gen {
		return false
	}
	vs.mark[i] = vs.gen
	return true
}

// minHeap pops the nearest candidate, maxHeap the farthest.
type minHeap []candidate
type maxHeap []candidate

func (h *minHeap) push(c candidate) {
	*h = append(*h, c)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if s[p].dist <= s[i].dist {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (h *minHeap) pop() candidate {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(s) && s[l].dist < s[m].dist {
			m = l
		}
		if r < len(s) && s[r].dist < s[m].dist {
			m = r
		}
		if m == i {
			break
		}
		s[m], s[i] = s[i], s[m]
		i = m
	}
	*h = s
	return top
}

func (h *maxHeap) push(c candidate) {
	*h = append(*h, c)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if s[p].dist >= s[i].dist {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (h *maxHeap) pop() candidate {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(s) && s[l].dist > s[m].dist {
			m = l
		}
		if r < len(s) && s[r].dist > s[m].dist {
			m = r
		}
		if m == i {
			break
		}
		s[m], s[i] = s[i], s[m]
		i = m
	}
	*h = s
	return top
}
