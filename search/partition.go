package search

import (
	"context"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/google/uuid"
)

// annMinPoints is the partition size from which dense queries use an HNSW
// graph; below it an exact scan is as fast and needs no graph (measured:
// BENCHMARKS.md, "Embedded vector store").
const annMinPoints = 5000

// rescoreFactor and rescoreMin: a dense query for k hits re-scores the
// graph's best max(rescoreMin, rescoreFactor·k) candidates by their int8
// distance with the float32 vectors, not all ef of them (408 at 1M): each
// is 6 KiB read at random. On clustered 1536-dimensional points a brute
// force over the codes that re-scores its best 32 finds the exact top 10
// (BENCHMARKS.md, "recall with size"); vars so that a benchmark can vary
// them.
var rescoreFactor, rescoreMin = 4, 100

// parallelScanMin is the partition size from which an exact dense scan is
// split across the cores.
const parallelScanMin = 8192

// partition is one tenant's points and their indexes. Each point has a
// slot, given in order of arrival; a removed point leaves a tombstone (a
// nil slot) until the partition compacts, which renumbers the live points
// and builds the indexes afresh.
type partition struct {
	points map[uuid.UUID]*Point
	docs   map[uuid.UUID]map[uuid.UUID]*Point // points by document
	slot   map[uuid.UUID]int32
	slots  []*Point    // nil where removed
	vecs   [][]float32 // each slot's normalised vector, kept after removal: the graph walks through it
	dead   int

	df    map[uint32]int // live points containing each sparse term
	terms map[uint32]*postingList

	// graph indexes slots [0, indexed) once the partition has annMinPoints
	// points; nil before. Until indexed covers every slot, dense queries
	// scan.
	graph   *hnsw
	indexed int
	// building: a background build (Embedded.buildIndexes) is bringing the
	// graph up to date a few slots at a time; index leaves it alone.
	building bool
	// savedGraph and savedIndexed are graph and indexed as the graph
	// checkpoint last saved or loaded them: Close saves again when they
	// differ.
	savedGraph   *hnsw
	savedIndexed int
}

// postingList holds, in slot order, the points containing a term and the
// term's weight in each; max bounds the weights (removed points included).
type postingList struct {
	slots []int32
	vals  []float32
	max   float32
}

func newPartition() *partition {
	return &partition{points: map[uuid.UUID]*Point{}, docs: map[uuid.UUID]map[uuid.UUID]*Point{}, slot: map[uuid.UUID]int32{}, df: map[uint32]int{}, terms: map[uint32]*postingList{}}
}

// put adds or replaces a point; its vector is normalised in place. The
// graph learns of it in index.
func (part *partition) put(p *Point) {
	normalize(p.Dense)
	part.insert(p)
}

// insert adds or replaces a point whose vector is already normalised
// (and may be read-only: a checkpoint's mapped vector).
func (part *partition) insert(p *Point) {
	part.remove(p.ID)
	part.post(p, part.place(p))
}

// place gives p the next slot; p's id must not be in the partition.
func (part *partition) place(p *Point) int32 {
	s := int32(len(part.slots))
	part.points[p.ID], part.slot[p.ID] = p, s
	doc := part.docs[p.DocumentID]
	if doc == nil {
		doc = map[uuid.UUID]*Point{}
		part.docs[p.DocumentID] = doc
	}
	doc[p.ID] = p
	part.slots = append(part.slots, p)
	part.vecs = append(part.vecs, p.Dense)
	return s
}

// post adds slot s's sparse terms to the posting lists and document
// frequencies.
func (part *partition) post(p *Point, s int32) {
	for j, t := range p.Sparse.Indices {
		part.df[t]++
		pl := part.terms[t]
		if pl == nil {
			pl = &postingList{}
			part.terms[t] = pl
		}
		pl.slots = append(pl.slots, s)
		pl.vals = append(pl.vals, p.Sparse.Values[j])
		pl.max = max(pl.max, p.Sparse.Values[j])
	}
}

func (part *partition) remove(id uuid.UUID) {
	old, ok := part.points[id]
	if !ok {
		return
	}
	for _, t := range old.Sparse.Indices {
		if part.df[t]--; part.df[t] <= 0 {
			delete(part.df, t)
		}
	}
	s := part.slot[id]
	part.slots[s] = nil
	part.dead++
	delete(part.points, id)
	delete(part.slot, id)
	if doc := part.docs[old.DocumentID]; len(doc) <= 1 {
		delete(part.docs, old.DocumentID)
	} else {
		delete(doc, id)
	}
}

// index brings the indexes up to date after puts and removes: it compacts
// when tombstones outnumber half the live points, builds the graph when
// the partition reaches annMinPoints, and otherwise links the new slots
// into it. Several cores share the work.
func (part *partition) index() {
	if part.dead > 64 && part.dead > len(part.points)/2 {
		part.compact()
	}
	if part.building {
		return
	}
	if part.graph == nil {
		if len(part.points) < annMinPoints {
			return
		}
		part.graph, part.indexed = newHNSW(), 0
	}
	if part.indexed < len(part.slots) {
		part.graph.build(part.vecs, part.indexed, part.alive)
		part.indexed = len(part.slots)
	}
}

// buildSome links up to n more slots into the graph (making the graph if
// the partition has reached annMinPoints) and reports whether the graph
// is then up to date, which ends building.
func (part *partition) buildSome(n int) (done bool) {
	if part.graph == nil {
		if len(part.points) < annMinPoints {
			part.building = false
			return true
		}
		part.graph, part.indexed = newHNSW(), 0
	}
	end := min(part.indexed+n, len(part.slots))
	part.graph.build(part.vecs[:end], part.indexed, part.alive)
	part.indexed = end
	if end == len(part.slots) {
		part.building = false
		return true
	}
	return false
}

func (part *partition) alive(s int32) bool { return part.slots[s] != nil }

// compact renumbers the live points in slot order and drops the
// tombstones, the posting lists and the graph (index builds a new one).
func (part *partition) compact() {
	live := make([]*Point, 0, len(part.points))
	for _, p := range part.slots {
		if p != nil {
			live = append(live, p)
		}
	}
	building := part.building
	*part = *newPartition()
	part.building = building
	for _, p := range live {
		part.insert(p) // normalised when first put
	}
}

// dense returns the k points nearest to q that pass f. Below annMinPoints
// it scans every point. With a graph it searches the graph, unless f
// leaves few enough points that scanning them is cheaper; slots the graph
// does not cover yet (while it is built after a start, from the
// checkpoint's end or from nothing) are scanned and merged in; a search
// that finds fewer than k (or all that pass) is answered by a scan, so a
// filter never hides a hit that exists.
func (part *partition) dense(ctx context.Context, q []float32, f Filter, k int) ([]Hit, error) {
	qn := slices.Clone(q)
	normalize(qn)
	if part.graph == nil || part.indexed == 0 {
		return part.exact(ctx, qn, k, func(_ int32, p *Point) bool { return f.matches(p) })
	}
	accept := part.alive
	want := min(k, len(part.points))
	if !f.empty() {
		allowed := make([]bool, len(part.slots))
		n := 0
		for s, p := range part.slots {
			if p != nil && f.matches(p) {
				allowed[s] = true
				n++
			}
		}
		if n <= len(part.points)/8 {
			return part.exact(ctx, qn, k, func(s int32, _ *Point) bool { return allowed[s] })
		}
		accept = func(s int32) bool { return allowed[s] }
		want = min(k, n)
	}
	if unlinked := len(part.slots) - part.indexed; unlinked > part.indexed {
		// Mostly unlinked (a build from nothing after a start): scan.
		return part.exact(ctx, qn, k, func(s int32, _ *Point) bool { return accept(s) })
	}
	found := part.graph.search(qn, efSearch(len(part.graph.nodes), k), accept)
	// Re-score the best candidates the graph found with the float32
	// vectors: the exact scan's scores, and the order the int8 distances
	// blurred. found comes nearest first by those distances, which order
	// the points almost as the vectors do, so the best rescoreFactor·k
	// (at least rescoreMin) hold the exact top k.
	found = found[:min(len(found), max(rescoreMin, rescoreFactor*k))]
	top := &hitHeap{}
	for _, c := range found {
		top.offer(part.slots[c.id], dot(qn, part.vecs[c.id]), k)
	}
	seen := len(found)
	for s := part.indexed; s < len(part.slots); s++ {
		if p := part.slots[s]; p != nil && accept(int32(s)) {
			top.offer(p, dot(qn, part.vecs[s]), k)
			seen++
		}
	}
	if seen < want {
		return part.exact(ctx, qn, k, func(s int32, _ *Point) bool { return accept(s) })
	}
	return top.sorted(), nil
}

// exact scans every live point that keep accepts; partitions of
// parallelScanMin points or more are split across the cores.
func (part *partition) exact(ctx context.Context, qn []float32, k int, keep func(int32, *Point) bool) ([]Hit, error) {
	scan := func(lo, hi int) (*hitHeap, error) {
		top := &hitHeap{}
		for s := lo; s < hi; s++ {
			if s%4096 == 4095 && ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if p := part.slots[s]; p != nil && keep(int32(s), p) {
				top.offer(p, dot(qn, part.vecs[s]), k)
			}
		}
		return top, nil
	}
	workers := min(runtime.GOMAXPROCS(0), 8)
	if len(part.slots) < parallelScanMin || workers < 2 {
		top, err := scan(0, len(part.slots))
		if err != nil {
			return nil, err
		}
		return top.sorted(), nil
	}
	// Each core keeps its own best k of a range; the best k of those win.
	tops := make([]*hitHeap, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	size := (len(part.slots) + workers - 1) / workers
	for w := range workers {
		lo, hi := w*size, min((w+1)*size, len(part.slots))
		wg.Go(func() { tops[w], errs[w] = scan(lo, hi) })
	}
	wg.Wait()
	var all []Hit
	for w := range workers {
		if errs[w] != nil {
			return nil, errs[w]
		}
		all = append(all, *tops[w]...)
	}
	sortHits(all)
	return all[:min(k, len(all))], nil
}

// sparse returns the k best BM25 matches of q that pass f, from the
// posting lists with MaxScore (Turtle and Flood, 1995): query terms are
// ordered by the most they can add to a score; once the best k found so
// far set a bar that the lowest terms together cannot reach, points
// holding only those terms are never looked at, and a candidate is
// dropped as soon as what it has plus what it could still get falls short.
//
// Scores are those of a scan of every point, bit for bit: a candidate's
// terms are summed in the same (ascending term) order, in float64.
func (part *partition) sparse(ctx context.Context, q SparseVector, f Filter, k int) ([]Hit, error) {
	n := float64(len(part.points))
	weight := make(map[uint32]float64, len(q.Indices))
	for j, t := range q.Indices {
		if df := float64(part.df[t]); df > 0 {
			weight[t] = math.Log(1+(n-df+0.5)/(df+0.5)) * float64(q.Values[j])
		}
	}
	if len(weight) == 0 {
		return []Hit{}, nil
	}
	type cursor struct {
		order  int // rank of the term among the query's, ascending
		w, ub  float64
		list   *postingList
		at     int
		inCand bool
	}
	ids := make([]uint32, 0, len(weight))
	for t := range weight {
		ids = append(ids, t)
	}
	slices.Sort(ids)
	cur := make([]cursor, len(ids))
	for i, t := range ids {
		pl := part.terms[t]
		cur[i] = cursor{order: i, w: weight[t], ub: weight[t] * float64(pl.max), list: pl}
	}
	slices.SortFunc(cur, func(a, b cursor) int {
		if a.ub != b.ub {
			if a.ub < b.ub {
				return -1
			}
			return 1
		}
		return a.order - b.order
	})
	// below[i] bounds the score from the terms cur[:i].
	below := make([]float64, len(cur)+1)
	for i, c := range cur {
		below[i+1] = below[i] + c.ub
	}
	contrib := make([]float64, len(cur)) // by order
	has := make([]bool, len(cur))
	top := &hitHeap{}
	// bar is the score a new hit must reach, lowered by a margin for the
	// rounding of bounds summed in another order and of scores to float32
	// (ties enter by id, so a hit equal to the k-th must be scored).
	bar := math.Inf(-1)
	firstEssential := 0
	for visited := 0; ; visited++ {
		if visited%4096 == 4095 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		for firstEssential < len(cur) && below[firstEssential+1] < bar {
			firstEssential++
		}
		if firstEssential == len(cur) {
			break
		}
		doc := int32(math.MaxInt32)
		for i := firstEssential; i < len(cur); i++ {
			if c := &cur[i]; c.at < len(c.list.slots) {
				doc = min(doc, c.list.slots[c.at])
			}
		}
		if doc == math.MaxInt32 {
			break
		}
		clear(has)
		partial := 0.0
		for i := firstEssential; i < len(cur); i++ {
			c := &cur[i]
			if c.at < len(c.list.slots) && c.list.slots[c.at] == doc {
				v := c.w * float64(c.list.vals[c.at])
				contrib[c.order], has[c.order] = v, true
				partial += v
				c.at++
			}
		}
		p := part.slots[doc]
		if p == nil {
			continue
		}
		skip := false
		for i := firstEssential - 1; i >= 0; i-- {
			if partial+below[i+1] < bar {
				skip = true
				break
			}
			c := &cur[i]
			rest := c.list.slots[c.at:]
			j, ok := slices.BinarySearch(rest, doc)
			c.at += j
			if ok {
				v := c.w * float64(c.list.vals[c.at])
				contrib[c.order], has[c.order] = v, true
				partial += v
				c.at++
			}
		}
		if skip {
			continue
		}
		var s float64
		for o, ok := range has {
			if ok {
				s += contrib[o]
			}
		}
		if s > 0 && f.matches(p) {
			top.offer(p, float32(s), k)
			if top.Len() == k {
				bar = float64((*top)[0].Score) * (1 - 1e-5)
			}
		}
	}
	return top.sorted(), nil
}

// empty reports whether f filters nothing.
func (f Filter) empty() bool {
	return len(f.DocumentIDs) == 0 && len(f.TagsAny) == 0 && len(f.TagsAll) == 0 && len(f.Metadata) == 0
}
