package search

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// BenchmarkGraphRecall measures the graph alone (no log, no sparse side)
// on the clustered vectors of BenchmarkEmbeddedIndex (sizes:
// ANN_BENCH_SIZES, default 100000x1536): build time, then for 200 queries
// recall@10 against the exact scan and p50 at several ef, and what bounds
// it: the recall of a brute-force search by the int8 distances re-scored
// the same way (the quantisation's ceiling), the level histogram and the
// share of layer 0 reachable from the entry point. ANN_RECALL_EFC and
// ANN_RECALL_M override efConstruction and m; ANN_RECALL_EFS lists the
// ef values (default 64,128,256,512 and the store's efSearch at this
// size). ANN_BENCH_OUT names a file to write the points and queries to,
// before the build, for scripts/annbench.py (hnswlib on the same vectors).
func BenchmarkGraphRecall(b *testing.B) {
	for _, size := range annSizes() {
		n, dims := size[0], size[1]
		b.Run(fmt.Sprintf("n=%d/dims=%d", n, dims), func(b *testing.B) {
			gen := newClustered(uint64(n), dims, 300, 1.0)
			r := rand.New(rand.NewPCG(3, 4))
			part := newPartition()
			for i := range n {
				part.put(&Point{ID: uuid.New(), Index: i, Dense: gen.around(r.IntN(len(gen.centroids)))})
			}
			queries := make([][]float32, 200)
			for i := range queries {
				queries[i] = gen.around(r.IntN(len(gen.centroids)))
			}
			if out := createANNFile(b, os.Getenv("ANN_BENCH_OUT"), n, len(queries), dims); out != nil {
				for _, v := range slices.Concat(part.vecs, queries) {
					out.vec(b, v)
				}
				out.close(b)
			}
			g := newHNSW()
			if v, err := strconv.Atoi(os.Getenv("ANN_RECALL_EFC")); err == nil {
				g.efConstruction = v
			}
			if v, err := strconv.Atoi(os.Getenv("ANN_RECALL_M")); err == nil {
				g.m = v
			}
			start, startCPU := time.Now(), cpuTime()
			g.build(part.vecs, 0, part.alive)
			fmt.Fprintf(os.Stderr, "graph: n=%d m=%d efC=%d built in %s (%.0f CPU-s)\n",
				n, g.m, g.efConstruction, time.Since(start).Round(time.Second), (cpuTime() - startCPU).Seconds())
			part.graph, part.indexed = g, n
			ctx := context.Background()
			want := make([][]Hit, len(queries))
			for i, q := range queries {
				want[i] = exactDense(b, part, q, Filter{}, 10)
			}
			rescore := func(q []float32, found []candidate) []Hit {
				top := &hitHeap{}
				for _, c := range found {
					top.offer(part.slots[c.id], dot(q, part.vecs[c.id]), 10)
				}
				return top.sorted()
			}
			// Levels and reachability.
			levels := map[int]int{}
			for i := range g.nodes {
				levels[len(g.nodes[i].links)-1]++
			}
			seen := make([]bool, n)
			stack := []int32{g.entry}
			seen[g.entry] = true
			reached := 1
			for len(stack) > 0 {
				c := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				for _, l := range g.nodes[c].links[0] {
					if !seen[l] {
						seen[l] = true
						reached++
						stack = append(stack, l)
					}
				}
			}
			fmt.Fprintf(os.Stderr, "graph: levels %v, top %d, layer 0 reachable from the entry %d of %d\n", levels, g.maxLevel, reached, n)
			// The int8 codes' ceiling: the best ef by code distance, re-scored.
			for _, ef := range []int{10, 32, 128} {
				var rec float64
				for i, q := range queries[:50] {
					hq := newHQ(q)
					var found maxHeap
					for s := range int32(n) {
						d := 1 - float32(dotInt8(hq.codes, g.codes[s]))*hq.scale*g.scales[s]
						if len(found) < ef || d < found[0].dist {
							found.push(candidate{s, d})
							if len(found) > ef {
								found.pop()
							}
						}
					}
					rec += recall(rescore(q, found), want[i])
				}
				fmt.Fprintf(os.Stderr, "graph: brute force on int8 codes, best %d re-scored: recall@10 %.3f\n", ef, rec/50)
			}
			efs := []int{64, 128, 256, 512, efSearch(n, 10)}
			if v := os.Getenv("ANN_RECALL_EFS"); v != "" {
				efs = efs[:0]
				for _, f := range strings.Split(v, ",") {
					if ef, err := strconv.Atoi(f); err == nil {
						efs = append(efs, ef)
					}
				}
			}
			slices.Sort(efs)
			for _, ef := range slices.Compact(efs) {
				b.Run(fmt.Sprintf("ef=%d", ef), func(b *testing.B) {
					var lat []time.Duration
					var rec float64
					for b.Loop() {
						lat, rec = lat[:0], 0
						for i, q := range queries {
							t := time.Now()
							got := rescore(q, g.search(q, ef, part.alive))
							lat = append(lat, time.Since(t))
							rec += recall(got, want[i])
						}
					}
					_ = ctx
					slices.Sort(lat)
					b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
					b.ReportMetric(rec/float64(len(queries)), "recall@10")
					b.ReportMetric(0, "ns/op")
				})
			}
		})
	}
}

// TestEfSearch pins the beam's growth with the partition: the figures
// BenchmarkGraphRecall measured recall at.
func TestEfSearch(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ n, k, want int }{
		{5_000, 10, 128}, {100_000, 10, 128}, {100_000, 200, 200},
		{300_000, 10, 224}, {1_000_000, 10, 408}, {1_000_000, 500, 500},
	} {
		if got := efSearch(c.n, c.k); got != c.want {
			t.Errorf("efSearch(%d, %d) = %d, want %d", c.n, c.k, got, c.want)
		}
	}
}

// annFile writes vectors for scripts/annbench.py: int32 n, queries, dims,
// then the points' then the queries' float32s, little-endian. A nil
// *annFile (no ANN_BENCH_OUT) writes nothing.
type annFile struct {
	f *os.File
	w *bufio.Writer
}

// createANNFile starts the file at path; "" gives nil.
func createANNFile(b *testing.B, path string, n, queries, dims int) *annFile {
	b.Helper()
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	a := &annFile{f: f, w: bufio.NewWriterSize(f, 1<<20)}
	if err := binary.Write(a.w, binary.LittleEndian, [3]int32{int32(n), int32(queries), int32(dims)}); err != nil {
		b.Fatal(err)
	}
	return a
}

func (a *annFile) vec(b *testing.B, v []float32) {
	if a == nil {
		return
	}
	if err := binary.Write(a.w, binary.LittleEndian, v); err != nil {
		b.Fatal(err)
	}
}

func (a *annFile) close(b *testing.B) {
	if a == nil {
		return
	}
	if err := errors.Join(a.w.Flush(), a.f.Close()); err != nil {
		b.Fatal(err)
	}
}
