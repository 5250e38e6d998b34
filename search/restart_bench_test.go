package search

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
)

// BenchmarkEmbeddedRestart measures what a restart of the store costs:
// one tenant of n clustered points (ANN_BENCH_SIZES, default
// 100000x1536; the vectors and payloads of BenchmarkEmbeddedIndex) kept
// in ANN_RESTART_DIR/<n>x<dims> between runs, so that each phase can run
// in a process of its own (VmHWM, the peak resident size, is then the
// phase's):
//
//   - build: writes the points in batches of 1,000, the graph linked as
//     they arrive (efConstruction ANN_RESTART_EFC, default the store's),
//     and closes the store, which saves the checkpoint. Skipped when the
//     directory already holds the store.
//   - checkpoint: opens the store as a restart does and answers one dense
//     query through the graph: the time and CPU to that answer, the heap
//     per point and the process's resident memory.
//   - replay: the same with the checkpoint moved aside (and put back):
//     the whole log replayed, as every start did before checkpoints held
//     the points; dense queries are then exact scans while the graph is
//     rebuilt in the background.
//
// The files are read from the page cache when it holds them; with
// ANN_RESTART_COLD=1 (as root) the phases that open drop the page cache
// first, so that the open reads from the disk as after a reboot. The
// check of the checkpoint's vectors, which runs after the open
// (vectorCheck), is timed to its end as checked-s.
func BenchmarkEmbeddedRestart(b *testing.B) {
	root := os.Getenv("ANN_RESTART_DIR")
	if root == "" {
		b.Skip("ANN_RESTART_DIR names the directory the stores are kept in")
	}
	for _, size := range annSizes() {
		n, dims := size[0], size[1]
		name := fmt.Sprintf("%dx%d", n, dims)
		dir := filepath.Join(root, name)
		b.Run(name, func(b *testing.B) {
			b.Run("build", func(b *testing.B) {
				for range b.N {
					buildRestartStore(b, dir, n, dims)
				}
			})
			b.Run("checkpoint", func(b *testing.B) {
				for range b.N {
					measureRestart(b, dir, n, dims, true)
				}
			})
			b.Run("replay", func(b *testing.B) {
				for range b.N {
					ckpt := filepath.Join(dir, checkpointName)
					aside := ckpt + ".aside"
					if err := os.Rename(ckpt, aside); err != nil {
						b.Fatal(err)
					}
					func() {
						defer os.Rename(aside, ckpt)
						measureRestart(b, dir, n, dims, false)
					}()
				}
			})
		})
	}
}

func buildRestartStore(b *testing.B, dir string, n, dims int) {
	if _, err := os.Stat(filepath.Join(dir, checkpointName)); err == nil {
		b.Skip("the store is built")
	}
	if err := os.RemoveAll(dir); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	gen := newClustered(uint64(n), dims, 300, 1.0)
	r := rand.New(rand.NewPCG(3, 4))
	e := openTest(b, dir, dims)
	tenant, doc := uuid.New(), uuid.New()
	// The graph from the first point, with the efConstruction asked for.
	part := newPartition()
	part.graph = newHNSW()
	if v, err := strconv.Atoi(os.Getenv("ANN_RESTART_EFC")); err == nil && v > 0 {
		part.graph.efConstruction = v
	}
	e.mu.Lock()
	e.tenants[tenant] = part
	e.mu.Unlock()
	start, startCPU := time.Now(), cpuTime()
	batch := make([]Point, 0, 1000)
	for i := range n {
		if i > 0 && i%100_000 == 0 {
			fmt.Fprintf(os.Stderr, "restart: %d points written and linked in %s (%.0f CPU-s)\n",
				i, time.Since(start).Round(time.Second), (cpuTime() - startCPU).Seconds())
		}
		c := r.IntN(len(gen.centroids))
		batch = append(batch, Point{ID: uuid.New(), TenantID: tenant, DocumentID: doc, ContentVersion: 1, Index: i,
			Dense: gen.around(c), Sparse: DocumentSparse(clusterText(r, c, 30+r.IntN(60))), Text: "chunk", Title: "title",
			Tags: []string{"t"}, HeadingPath: []string{"H"}})
		if len(batch) == cap(batch) || i == n-1 {
			if err := e.Upsert(ctx, tenant, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	linked, linkedCPU := time.Since(start), cpuTime()-startCPU
	if err := e.Close(); err != nil {
		b.Fatal(err)
	}
	total, totalCPU := time.Since(start), cpuTime()-startCPU
	fi, err := os.Stat(filepath.Join(dir, checkpointName))
	if err != nil {
		b.Fatal(err)
	}
	lf, err := os.Stat(filepath.Join(dir, "points.log"))
	if err != nil {
		b.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "restart: built %s: written and linked in %s (%.0f CPU-s), checkpoint saved by %s (%.0f CPU-s)\n",
		dir, linked.Round(time.Second), linkedCPU.Seconds(), total.Round(time.Second), totalCPU.Seconds())
	b.ReportMetric(linked.Seconds(), "build-s")
	b.ReportMetric(linkedCPU.Seconds(), "build-cpu-s")
	b.ReportMetric((total - linked).Seconds(), "save-s")
	b.ReportMetric((totalCPU - linkedCPU).Seconds(), "save-cpu-s")
	b.ReportMetric(float64(fi.Size())/float64(n)/1024, "ckpt-KiB/point")
	b.ReportMetric(float64(lf.Size())/float64(n)/1024, "log-KiB/point")
	b.ReportMetric(0, "ns/op")
}

// measureRestart opens the store in dir (built by buildRestartStore) and
// times the open and one dense query.
func measureRestart(b *testing.B, dir string, n, dims int, withCheckpoint bool) {
	if _, err := os.Stat(filepath.Join(dir, "points.log")); err != nil {
		b.Skip("no store: run the build first")
	}
	gen := newClustered(uint64(n)+1, dims, 300, 1.0)
	q := gen.around(0)
	runtime.GC()
	debug.FreeOSMemory()
	if os.Getenv("ANN_RESTART_COLD") != "" {
		syscall.Sync()
		if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0); err != nil {
			b.Fatalf("ANN_RESTART_COLD: dropping the page cache: %v", err)
		}
	}
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	start, startCPU := time.Now(), cpuTime()
	e, err := OpenEmbedded(dir)
	if err != nil {
		b.Fatal(err)
	}
	opened, openedCPU := time.Since(start), cpuTime()-startCPU
	var tenant uuid.UUID
	var part *partition
	e.mu.RLock()
	for t, p := range e.tenants {
		if part == nil || len(p.points) > len(part.points) {
			tenant, part = t, p
		}
	}
	indexed := part.graph != nil && part.indexed == len(part.slots)
	e.mu.RUnlock()
	if withCheckpoint && (e.CheckpointError() != nil || !indexed) {
		b.Fatalf("the checkpoint was not used (%v) or the graph is not whole (indexed %v)", e.CheckpointError(), indexed)
	}
	qs := time.Now()
	hits, err := e.Query(context.Background(), tenant, Query{Mode: ModeDense, Dense: q, TopK: 10})
	if err != nil || len(hits) != 10 {
		b.Fatalf("first query: %d hits, %v", len(hits), err)
	}
	first, firstCPU := time.Since(start), cpuTime()-startCPU
	query := time.Since(qs)
	if err := e.WaitChecked(context.Background()); err != nil {
		b.Fatalf("the check of the vectors: %v", err)
	}
	checked := time.Since(start)
	// Stop the background build (replay) before measuring the heap.
	if withCheckpoint {
		defer e.Close()
	} else {
		defer crash(e) // no checkpoint from this open: the one set aside goes back
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	st := procStatus()
	fmt.Fprintf(os.Stderr, "restart: checkpoint %v: open %s (%.1f CPU-s), first dense answer at %s (query %s), vectors checked at %s, heap %.2f KiB/point, VmHWM %.2f GiB, RssAnon %.2f GiB, RssFile %.2f GiB, replayed %d records\n",
		withCheckpoint, opened.Round(time.Millisecond), openedCPU.Seconds(), first.Round(time.Millisecond), query.Round(time.Microsecond), checked.Round(time.Millisecond),
		float64(after.HeapAlloc-before.HeapAlloc)/float64(n)/1024, st["VmHWM"], st["RssAnon"], st["RssFile"], e.replayed)
	b.ReportMetric(first.Seconds(), "restart-s")
	b.ReportMetric(firstCPU.Seconds(), "restart-cpu-s")
	b.ReportMetric(opened.Seconds(), "open-s")
	b.ReportMetric(float64(query.Microseconds())/1000, "query-ms")
	b.ReportMetric(checked.Seconds(), "checked-s")
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n)/1024, "heap-KiB/point")
	b.ReportMetric(st["VmHWM"], "peak-rss-GiB")
	b.ReportMetric(st["RssAnon"], "rss-anon-GiB")
	b.ReportMetric(0, "ns/op")
}

// procStatus reads the memory lines of /proc/self/status, in GiB.
func procStatus() map[string]float64 {
	out := map[string]float64{}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 2 && fields[1] == "kB" {
			if kb, err := strconv.ParseFloat(fields[0], 64); err == nil {
				out[k] = kb / (1 << 20)
			}
		}
	}
	return out
}
