package search

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// annFixture is one tenant's clustered points in an embedded store, with
// queries, built once per size and shared by the sub-benchmarks (and by
// -count repetitions).
type annFixture struct {
	e       *Embedded
	tenant  uuid.UUID
	queries []Query // hybrid, top 26 as the search endpoint asks for its default 8
	matrix  blas32.General
	build   time.Duration // upserts, graph included
	reopen  time.Duration // OpenEmbedded on the written log: the replay, after which it serves
	indexed time.Duration // from OpenEmbedded until the graphs are built (WaitIndexed)
	// restart: OpenEmbedded and WaitIndexed once more, after a Close, with
	// the graph checkpoint the build saved: the start of a store whose
	// graphs are saved.
	restart time.Duration
	// CPU time of the same (user + system), which a loaded machine
	// stretches less than the wall clock.
	buildCPU, reopenCPU, indexedCPU, restartCPU time.Duration
	heapPP                                      float64 // heap bytes per point, indexes included, after the restart
	mappedPP                                    float64 // bytes of the graph checkpoint (mapped) per point
}

var (
	annFixturesMu sync.Mutex
	annFixtures   = map[string]*annFixture{}
)

// annBench sizes: ANN_BENCH_SIZES="100000x1536,1000000x128" (default the
// first); ANN_BENCH_QUERIES queries (default 200); ANN_BENCH_NO_BLAS=1
// leaves out gonum's baseline and its copy of the vectors; ANN_BENCH_DIR
// names an empty directory to write the store to and keep (for
// BenchmarkEmbeddedRestart: ANN_RESTART_DIR=parent, the directory named
// <n>x<dims>), instead of a temporary one;
// ANN_BENCH_DEFER_GRAPH=1 writes the points without linking the graph, so
// that it is built once, at the timed reopen. ANN_BENCH_OUT names a file to write the vectors and queries to
// for scripts/annbench.py: int32 n, queries, dims, then the points' then
// the queries' float32s, little-endian.
func annSizes() [][2]int {
	spec := os.Getenv("ANN_BENCH_SIZES")
	if spec == "" {
		spec = "100000x1536"
	}
	var out [][2]int
	for _, s := range strings.Split(spec, ",") {
		a, b, _ := strings.Cut(s, "x")
		n, err1 := strconv.Atoi(a)
		d, err2 := strconv.Atoi(b)
		if err1 == nil && err2 == nil && n > 0 && d > 0 {
			out = append(out, [2]int{n, d})
		}
	}
	return out
}

func loadANNFixture(b *testing.B, n, dims int) *annFixture {
	b.Helper()
	key := fmt.Sprint(n, "x", dims)
	annFixturesMu.Lock()
	defer annFixturesMu.Unlock()
	if f := annFixtures[key]; f != nil {
		return f
	}
	ctx := context.Background()
	gen := newClustered(uint64(n), dims, 300, 1.0)
	r := rand.New(rand.NewPCG(3, 4))
	topic := func(c int) string { return topicWord(r, c) }
	common := func() string { return commonWord(r) }
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	dir := os.Getenv("ANN_BENCH_DIR")
	reuse := false // the store of an earlier run, opened from its checkpoint
	if dir == "" {
		dir = b.TempDir()
	} else if _, err := os.Stat(filepath.Join(dir, checkpointName)); err == nil {
		reuse = true
	} else if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		b.Fatalf("ANN_BENCH_DIR %s is neither empty nor a store", dir)
	}
	openStart, openStartCPU := time.Now(), cpuTime()
	e, err := OpenEmbedded(dir)
	if err != nil {
		b.Fatal(err)
	}
	if err := e.EnsureSchema(ctx, dims); err != nil {
		b.Fatal(err)
	}
	tenant, doc := uuid.New(), uuid.New()
	var restart, restartCPU time.Duration
	if reuse {
		if err := e.WaitIndexed(ctx); err != nil {
			b.Fatal(err)
		}
		restart, restartCPU = time.Since(openStart), cpuTime()-openStartCPU
		if err := e.CheckpointError(); err != nil || len(e.tenants) != 1 {
			b.Fatalf("ANN_BENCH_DIR: the store's checkpoint was not used (%v) or it holds %d tenants", err, len(e.tenants))
		}
		for t := range e.tenants {
			tenant = t
		}
		fmt.Fprintf(os.Stderr, "annbench: opened the store in %s, indexed after %s (%.1f CPU-s); its points are generated again for the queries\n",
			dir, restart.Round(time.Millisecond), restartCPU.Seconds())
	}
	nq := 200 // ANN_BENCH_QUERIES overrides (the exact scans of 1M points take seconds a query)
	if v, err := strconv.Atoi(os.Getenv("ANN_BENCH_QUERIES")); err == nil && v > 0 {
		nq = v
	}
	out := createANNFile(b, os.Getenv("ANN_BENCH_OUT"), n, nq, dims)
	if os.Getenv("ANN_BENCH_DEFER_GRAPH") != "" {
		// Write the log without linking the graph as points arrive (the
		// partition counts as being built in the background, which is
		// over): the graph is built once, at the reopen that is timed.
		e.mu.Lock()
		part := newPartition()
		part.building = true
		e.tenants[tenant] = part
		e.mu.Unlock()
	}
	start, startCPU := time.Now(), cpuTime()
	batch := make([]Point, 0, 1000)
	// gonum's baseline needs the vectors again as one matrix: 6 GiB at
	// 1M × 1536, which ANN_BENCH_NO_BLAS=1 saves.
	withBLAS := os.Getenv("ANN_BENCH_NO_BLAS") == ""
	matrix := blas32.General{Rows: n, Cols: dims, Stride: dims}
	if withBLAS {
		matrix.Data = make([]float32, 0, n*dims)
	}
	for i := range n {
		if i > 0 && i%100_000 == 0 { // progress of long builds, on stderr
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			fmt.Fprintf(os.Stderr, "annbench: %d points upserted in %s (%.0f CPU-s), heap in use %.1f GiB\n",
				i, time.Since(start).Round(time.Second), (cpuTime() - startCPU).Seconds(), float64(ms.HeapInuse)/(1<<30))
		}
		c := r.IntN(len(gen.centroids))
		v := gen.around(c)
		out.vec(b, v)
		if withBLAS {
			matrix.Data = append(matrix.Data, v...)
		}
		text := clusterText(r, c, 30+r.IntN(60))
		if reuse {
			continue
		}
		batch = append(batch, Point{ID: uuid.New(), TenantID: tenant, DocumentID: doc, ContentVersion: 1, Index: i,
			Dense: v, Sparse: DocumentSparse(text), Text: "chunk"})
		if len(batch) == cap(batch) || i == n-1 {
			if err := e.Upsert(ctx, tenant, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	build, buildCPU := time.Since(start), cpuTime()-startCPU
	queries := make([]Query, nq)
	for i := range queries {
		c := r.IntN(len(gen.centroids))
		v := gen.around(c)
		out.vec(b, v)
		words := []string{topic(c), topic(c), common()}
		queries[i] = Query{Mode: ModeHybrid, Dense: v, Sparse: QuerySparse(strings.Join(words, " ")), TopK: 26}
	}
	out.close(b)
	if reuse {
		f := &annFixture{e: e, tenant: tenant, queries: queries, matrix: matrix, restart: restart, restartCPU: restartCPU}
		annFixtures[key] = f
		return f
	}
	if err := e.Close(); err != nil {
		b.Fatal(err)
	}
	e = nil
	runtime.GC()
	start, startCPU = time.Now(), cpuTime()
	if e, err = OpenEmbedded(dir); err != nil {
		b.Fatal(err)
	}
	reopen, reopenCPU := time.Since(start), cpuTime()-startCPU
	fmt.Fprintf(os.Stderr, "annbench: reopened (log replayed, serving) in %s\n", reopen.Round(time.Millisecond))
	if err := e.WaitIndexed(context.Background()); err != nil {
		b.Fatal(err)
	}
	indexed, indexedCPU := time.Since(start), cpuTime()-startCPU
	fmt.Fprintf(os.Stderr, "annbench: graph built %s after the open (%.0f CPU-s)\n", indexed.Round(time.Second), indexedCPU.Seconds())
	if err := e.Close(); err != nil {
		b.Fatal(err)
	}
	e = nil
	runtime.GC()
	start, startCPU = time.Now(), cpuTime()
	if e, err = OpenEmbedded(dir); err != nil {
		b.Fatal(err)
	}
	if err := e.WaitIndexed(context.Background()); err != nil {
		b.Fatal(err)
	}
	restart, restartCPU = time.Since(start), cpuTime()-startCPU
	if err := e.CheckpointError(); err != nil {
		b.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "annbench: restarted with the graph checkpoint, indexed after %s (%.1f CPU-s)\n", restart.Round(time.Millisecond), restartCPU.Seconds())
	var mapped int64
	if fi, err := os.Stat(filepath.Join(dir, checkpointName)); err == nil {
		mapped = fi.Size()
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	f := &annFixture{e: e, tenant: tenant, queries: queries, matrix: matrix, build: build, reopen: reopen, buildCPU: buildCPU, reopenCPU: reopenCPU,
		indexed: indexed, indexedCPU: indexedCPU, restart: restart, restartCPU: restartCPU,
		heapPP:   float64(after.HeapAlloc-before.HeapAlloc-uint64(4*len(matrix.Data))) / float64(n),
		mappedPP: float64(mapped) / float64(n)}
	annFixtures[key] = f
	return f
}

// Words: each cluster has its own topic words; all share a Zipf-like
// common vocabulary.
func topicWord(r *rand.Rand, c int) string { return fmt.Sprintf("topic%dw%d", c, r.IntN(40)) }
func commonWord(r *rand.Rand) string {
	return fmt.Sprintf("common%d", int(math.Pow(r.Float64(), 4)*3000))
}

// clusterText is a text of cluster c: a third topic words, the rest common.
func clusterText(r *rand.Rand, c, words int) string {
	var sb strings.Builder
	for range words {
		if r.IntN(3) == 0 {
			sb.WriteString(topicWord(r, c))
		} else {
			sb.WriteString(commonWord(r))
		}
		sb.WriteByte(' ')
	}
	return sb.String()
}

// around is a point of cluster c.
func (c *clustered) around(i int) []float32 {
	ctr := c.centroids[i]
	v := make([]float32, len(ctr))
	sd := c.spread / math.Sqrt(float64(len(ctr)))
	for j := range v {
		v[j] = ctr[j] + float32(c.r.NormFloat64()*sd)
	}
	normalize(v)
	return v
}

// BenchmarkEmbeddedIndex measures one tenant's clustered points (sizes:
// ANN_BENCH_SIZES) through the store: dense top 10 by the graph against
// the exact scans (this kernel on every core; the portable loop main used;
// gonum's blas32 Sgemv on one core), sparse by the posting lists against a
// scan, and hybrid (top 26, prefetch 104, as the endpoint's default top 8
// asks); recall@10 against the exact answer; build, reopen and heap.
func BenchmarkEmbeddedIndex(b *testing.B) {
	for _, size := range annSizes() {
		n, dims := size[0], size[1]
		b.Run(fmt.Sprintf("n=%d/dims=%d", n, dims), func(b *testing.B) {
			f := loadANNFixture(b, n, dims)
			part := f.e.tenants[f.tenant]
			ctx := context.Background()
			exactTop := func(q []float32, k int) []Hit {
				return exactDense(b, part, q, Filter{}, k)
			}
			run := func(b *testing.B, name string, query func(q Query) []Hit, want func(q Query) []Hit) {
				b.Run(name, func(b *testing.B) {
					// The exact answers first: an exact scan between two
					// timed queries would leave every cache cold.
					var wants [][]Hit
					if want != nil {
						for _, q := range f.queries {
							wants = append(wants, want(q))
						}
					}
					// With -benchtime Nx the last pass is reported; each
					// pass's p50 goes to stderr (the first after an open
					// touches pages no query has yet).
					var lat []time.Duration
					var rec float64
					pass := 0
					for b.Loop() {
						lat, rec = lat[:0], 0
						for i, q := range f.queries {
							start := time.Now()
							got := query(q)
							lat = append(lat, time.Since(start))
							if want != nil {
								rec += recall(got[:min(10, len(got))], wants[i])
							}
						}
						pass++
						sorted := slices.Sorted(slices.Values(lat))
						fmt.Fprintf(os.Stderr, "annbench: %s pass %d: p50 %s\n", name, pass, sorted[len(sorted)/2].Round(time.Microsecond))
					}
					slices.Sort(lat)
					ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
					b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
					b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
					if want != nil {
						b.ReportMetric(rec/float64(len(f.queries)), "recall@10")
					}
					b.ReportMetric(0, "ns/op")
				})
			}
			store := func(mode Mode, k int) func(Query) []Hit {
				return func(q Query) []Hit {
					q.Mode, q.TopK = mode, k
					hits, err := f.e.Query(ctx, f.tenant, q)
					if err != nil {
						b.Fatal(err)
					}
					return hits
				}
			}
			exactHybrid := func(q Query) []Hit {
				limit := PrefetchLimit(q.TopK)
				return Fuse(q.Fusing, 10, exactTop(q.Dense, limit), sparseScan(part, q.Sparse, Filter{}, limit))
			}
			run(b, "dense/graph", store(ModeDense, 10), func(q Query) []Hit { return exactTop(q.Dense, 10) })
			run(b, "dense/exact-avx2-all-cores", func(q Query) []Hit { return exactTop(q.Dense, 10) }, nil)
			run(b, "dense/exact-portable-all-cores", func(q Query) []Hit {
				useAVX2 = false // the benchmarks of one function run one at a time
				defer func() { useAVX2 = true }()
				return exactTop(q.Dense, 10)
			}, nil)
			y := make([]float32, n)
			if len(f.matrix.Data) > 0 {
				run(b, "dense/exact-gonum-sgemv-one-core", func(q Query) []Hit {
					qn := normalized(q.Dense)
					blas32.Gemv(blas.NoTrans, 1, f.matrix, blas32.Vector{N: dims, Inc: 1, Data: qn}, 0, blas32.Vector{N: n, Inc: 1, Data: y})
					top := &hitHeap{}
					for i, s := range y {
						top.offer(part.slots[i], s, 10)
					}
					return top.sorted()
				}, nil)
			}
			run(b, "sparse/postings", store(ModeSparse, 26), func(q Query) []Hit {
				want := sparseScan(part, q.Sparse, Filter{}, 26)
				return want[:min(10, len(want))]
			})
			run(b, "sparse/scan", func(q Query) []Hit { return sparseScan(part, q.Sparse, Filter{}, 26) }, nil)
			run(b, "hybrid/store", store(ModeHybrid, 26), exactHybrid)
			run(b, "hybrid/exact", exactHybrid, nil)
			b.Run("build", func(b *testing.B) {
				for b.Loop() {
				}
				b.ReportMetric(f.build.Seconds(), "upsert-s")
				b.ReportMetric(f.reopen.Seconds(), "reopen-s")
				b.ReportMetric(f.buildCPU.Seconds(), "upsert-cpu-s")
				b.ReportMetric(f.reopenCPU.Seconds(), "reopen-cpu-s")
				b.ReportMetric(f.indexed.Seconds(), "indexed-s")
				b.ReportMetric(f.indexedCPU.Seconds(), "indexed-cpu-s")
				b.ReportMetric(f.restart.Seconds(), "restart-s")
				b.ReportMetric(f.restartCPU.Seconds(), "restart-cpu-s")
				b.ReportMetric(f.heapPP/1024, "KiB/point")
				b.ReportMetric(f.mappedPP/1024, "mapped-KiB/point")
				b.ReportMetric(0, "ns/op")
			})
		})
	}
}

// cpuTime is the process's CPU time so far, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkGraphVsScan picks annMinPoints: for partitions of n clustered
// 1536-dimensional points, a top-10 query by the graph (re-scored as the
// store does) against the exact scan, p50 over 200 queries each.
func BenchmarkGraphVsScan(b *testing.B) {
	for _, n := range []int{1000, 2000, 5000, 10_000, 20_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			gen := newClustered(uint64(n), 1536, 300, 1.0)
			part := newPartition()
			for i := range n {
				part.put(&Point{ID: uuid.New(), Index: i, Dense: gen.next()})
			}
			part.graph = newHNSW()
			part.graph.build(part.vecs, 0, part.alive)
			part.indexed = n
			queries := make([][]float32, 200)
			for i := range queries {
				queries[i] = gen.next()
			}
			ctx := context.Background()
			p50 := func(f func(q []float32)) float64 {
				lat := make([]time.Duration, 0, len(queries))
				for _, q := range queries {
					start := time.Now()
					f(q)
					lat = append(lat, time.Since(start))
				}
				slices.Sort(lat)
				return float64(lat[len(lat)/2].Microseconds()) / 1000
			}
			var graph, scan float64
			for b.Loop() {
				graph = p50(func(q []float32) {
					if _, err := part.dense(ctx, q, Filter{}, 10); err != nil {
						b.Fatal(err)
					}
				})
				scan = p50(func(q []float32) {
					if _, err := part.exact(ctx, q, 10, func(int32, *Point) bool { return true }); err != nil {
						b.Fatal(err)
					}
				})
			}
			b.ReportMetric(graph, "graph-p50-ms")
			b.ReportMetric(scan, "scan-p50-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}
