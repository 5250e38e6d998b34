package search

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"unsafe"

	"github.com/google/uuid"
)

// checkpointBundle is a store in a directory of its own holding one
// tenant's graph-indexed partition, closed (so its checkpoint is saved),
// with the queries' answers as the store gave them before it closed.
type checkpointBundle struct {
	dir     string
	tenant  uuid.UUID
	doc     uuid.UUID
	gen     *clustered
	points  []Point
	queries [][]float32
	answers [][]Hit
}

const ckptDims, ckptPoints = 24, annMinPoints + 1000

var (
	ckptOnce    sync.Once
	ckptFixture *checkpointBundle
	ckptErr     error
)

// setupCheckpoint copies a store made once per test binary (its log and
// checkpoint) to a directory of the test's own.
func setupCheckpoint(t *testing.T) *checkpointBundle {
	t.Helper()
	ckptOnce.Do(func() { ckptFixture, ckptErr = makeCheckpointFixture() })
	if ckptErr != nil {
		t.Fatal(ckptErr)
	}
	bb := *ckptFixture
	bb.dir = t.TempDir()
	for _, name := range []string{"points.log", checkpointName} {
		b, err := os.ReadFile(filepath.Join(ckptFixture.dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bb.dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return &bb
}

func makeCheckpointFixture() (*checkpointBundle, error) {
	dir, err := os.MkdirTemp("", "ragd-checkpoint-")
	if err != nil {
		return nil, err
	}
	bb := &checkpointBundle{dir: dir, tenant: uuid.New(), doc: uuid.New(), gen: newClustered(5, ckptDims, 40, 1.0)}
	e, err := OpenEmbedded(dir)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	if err := e.EnsureSchema(ctx, ckptDims); err != nil {
		return nil, err
	}
	for i := range ckptPoints {
		bb.points = append(bb.points, Point{ID: uuid.New(), TenantID: bb.tenant, DocumentID: bb.doc, ContentVersion: 1, Index: i, Dense: bb.gen.next()})
	}
	if err := e.Upsert(ctx, bb.tenant, bb.points); err != nil {
		return nil, err
	}
	for range 20 {
		q := bb.gen.next()
		hits, err := e.Query(ctx, bb.tenant, Query{Mode: ModeDense, Dense: q, TopK: 10})
		if err != nil {
			return nil, err
		}
		bb.queries, bb.answers = append(bb.queries, q), append(bb.answers, hits)
	}
	if err := e.Close(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, checkpointName)); err != nil {
		return nil, fmt.Errorf("no checkpoint after Close: %w", err)
	}
	return bb, nil
}

func query(t *testing.T, e *Embedded, tenant uuid.UUID, q []float32) []Hit {
	t.Helper()
	hits, err := e.Query(context.Background(), tenant, Query{Mode: ModeDense, Dense: q, TopK: 10})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

// checkAnswers holds every query to the exact answer's recall and to
// exact scores, and returns the mean recall@10.
func checkAnswers(t *testing.T, e *Embedded, bb *checkpointBundle) float64 {
	t.Helper()
	part := e.tenants[bb.tenant]
	var sum float64
	for _, q := range bb.queries {
		got := query(t, e, bb.tenant, q)
		want := exactDense(t, part, q, Filter{}, 10)
		if len(got) != len(want) {
			t.Fatalf("%d hits, want %d", len(got), len(want))
		}
		for _, h := range got {
			s, ok := part.slot[h.ID]
			if !ok {
				t.Fatalf("hit %s is not a live point", h.ID)
			}
			if h.Score != dot(normalized(q), part.vecs[s]) {
				t.Fatalf("hit %s scored %v, its vector says %v", h.ID, h.Score, dot(normalized(q), part.vecs[s]))
			}
		}
		sum += recall(got, want)
	}
	r := sum / float64(len(bb.queries))
	if r < 0.95 {
		t.Fatalf("recall@10 %.3f", r)
	}
	return r
}

// mapped reports whether v lies in one of e's checkpoint mappings.
func mapped[T any](e *Embedded, v []T) bool {
	p := uintptr(unsafe.Pointer(unsafe.SliceData(v)))
	for _, m := range e.mappings {
		lo := uintptr(unsafe.Pointer(unsafe.SliceData(m)))
		if p >= lo && p < lo+uintptr(len(m)) {
			return true
		}
	}
	return false
}

func TestCheckpoint(t *testing.T) {
	t.Parallel()

	t.Run("ReopenServesTheSavedGraph", func(t *testing.T) {
		t.Parallel()
		bb := setupCheckpoint(t)
		e := openWithCheckpoint(t, bb.dir)
		// Indexed as soon as it opens: nothing is left to build.
		e.mu.RLock()
		part := e.tenants[bb.tenant]
		graph, indexed, slots, building := part.graph != nil, part.indexed, len(part.slots), part.building
		heap := -1
		for s, v := range part.vecs {
			if !mapped(e, v) || !mapped(e, part.graph.codes[s]) || !mapped(e, part.slots[s].Dense) {
				heap = s
				break
			}
		}
		e.mu.RUnlock()
		if !graph || indexed != ckptPoints || building {
			t.Fatalf("after the open: graph %v, %d of %d slots indexed, building %v", graph, indexed, slots, building)
		}
		if heap >= 0 {
			t.Fatalf("slot %d's vector, code or point's vector is on the heap, not in the checkpoint's mapping", heap)
		}
		// The same graph: the same answers, hit for hit.
		for i, q := range bb.queries {
			if got := query(t, e, bb.tenant, q); ids(got) != ids(bb.answers[i]) || !slices.EqualFunc(got, bb.answers[i], func(a, b Hit) bool { return a.Score == b.Score }) {
				t.Fatalf("query %d: %s after the reopen, %s before", i, ids(got), ids(bb.answers[i]))
			}
		}
		checkAnswers(t, e, bb)
	})

	t.Run("StaleCheckpointIsUsedForWhatStillHolds", func(t *testing.T) {
		t.Parallel()
		bb := setupCheckpoint(t)
		old, err := os.ReadFile(filepath.Join(bb.dir, checkpointName))
		if err != nil {
			t.Fatal(err)
		}
		// After the checkpoint: 500 points get new vectors, 500 new ones
		// arrive, one document's worth goes.
		e := openTest(t, bb.dir, ckptDims)
		moved := slices.Clone(bb.points[:500])
		for i := range moved {
			moved[i].Dense = bb.gen.next()
		}
		if err := e.Upsert(context.Background(), bb.tenant, moved); err != nil {
			t.Fatal(err)
		}
		gone := uuid.New()
		fill(t, e, bb.tenant, []uuid.UUID{gone}, bb.gen, 300, nil)
		fill(t, e, bb.tenant, []uuid.UUID{uuid.New()}, bb.gen, 500, nil)
		if err := e.DeleteDocument(context.Background(), bb.tenant, gone, AllVersions); err != nil {
			t.Fatal(err)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		// As if the process had died before the checkpoint at Close.
		if err := os.WriteFile(filepath.Join(bb.dir, checkpointName), old, 0o600); err != nil {
			t.Fatal(err)
		}
		e = openWithCheckpoint(t, bb.dir)
		e.mu.RLock()
		part := e.tenants[bb.tenant]
		graph, indexed, points := part.graph != nil, part.indexed, len(part.points)
		e.mu.RUnlock()
		if !graph || indexed < ckptPoints || points != ckptPoints+500 {
			t.Fatalf("graph %v, %d slots indexed, %d points", graph, indexed, points)
		}
		for i := range moved { // a moved point is scored by its new vector
			hits := query(t, e, bb.tenant, moved[i].Dense)
			if i%50 == 0 && (len(hits) == 0 || hits[0].ID != moved[i].ID) {
				t.Fatalf("moved point %d is not its new vector's nearest: %s", i, ids(hits))
			}
		}
		checkAnswers(t, e, bb) // before the tail is linked
		if err := e.WaitIndexed(context.Background()); err != nil {
			t.Fatal(err)
		}
		e.mu.RLock()
		indexed, slots := part.indexed, len(part.slots)
		e.mu.RUnlock()
		if indexed != slots {
			t.Fatalf("%d of %d slots linked after WaitIndexed", indexed, slots)
		}
		checkAnswers(t, e, bb)
	})

	corruptions := map[string]func(b []byte) []byte{
		"Truncated":   func(b []byte) []byte { return b[:len(b)/2] },
		"Empty":       func(b []byte) []byte { return nil },
		"Garbage":     func(b []byte) []byte { return []byte("not a checkpoint at all, but long enough to have a header") },
		"HeaderByte":  func(b []byte) []byte { b[12]++; return b },
		"MetaByte":    func(b []byte) []byte { b[64+100]++; return b },
		"CodeByte":    func(b []byte) []byte { b[ckptRegion(b, 48)+10]++; return b },
		"TrailerByte": func(b []byte) []byte { b[len(b)-12]++; return b },
	}
	for name, corrupt := range corruptions {
		t.Run("Corrupt"+name+"IsNotUsed", func(t *testing.T) {
			t.Parallel()
			bb := setupCheckpoint(t)
			rewriteCheckpoint(t, bb.dir, corrupt)
			e, err := OpenEmbedded(bb.dir)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			if err := e.CheckpointError(); !errors.Is(err, errCheckpoint) {
				t.Fatalf("CheckpointError() = %v, want it to say the checkpoint was not used", err)
			}
			e.mu.RLock()
			n := len(e.mappings)
			e.mu.RUnlock()
			if n != 0 {
				t.Fatal("the checkpoint is mapped")
			}
			checkAnswers(t, e, bb) // exact while the graph is rebuilt
		})
	}

	t.Run("CorruptIsRebuiltAndSaved", func(t *testing.T) {
		t.Parallel()
		bb := setupCheckpoint(t)
		rewriteCheckpoint(t, bb.dir, func(b []byte) []byte { b[len(b)/5]++; return b })
		e, err := OpenEmbedded(bb.dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.WaitIndexed(context.Background()); err != nil {
			t.Fatal(err)
		}
		// The build saved the new graph as it finished: no Close here, as
		// if the process died.
		if err := e.CheckpointError(); err != nil {
			t.Fatalf("after the rebuild: %v", err)
		}
		checkAnswers(t, e, bb)
		e.mu.Lock()
		e.closed = true // stop without Close's checkpoint, keep the lock file's flock until the test ends
		e.mu.Unlock()
		e.lock.Close()
		e = openWithCheckpoint(t, bb.dir)
		if part := e.tenants[bb.tenant]; part.building || part.indexed != ckptPoints {
			t.Fatalf("%d slots indexed, building %v", part.indexed, part.building)
		}
		checkAnswers(t, e, bb)
	})

	t.Run("CorruptVectorIsNotTrusted", func(t *testing.T) {
		t.Parallel()
		bb := setupCheckpoint(t)
		// Flip a bit in the vectors of five slots.
		rewriteCheckpoint(t, bb.dir, func(b []byte) []byte {
			for i := 1; i <= 5; i++ {
				b[ckptRegion(b, 56)+uint64(i*997*4*ckptDims+2)] ^= 0x40
			}
			return b
		})
		e := openWithCheckpoint(t, bb.dir)
		e.mu.RLock()
		part := e.tenants[bb.tenant]
		dead, points := part.dead, len(part.points)
		e.mu.RUnlock()
		if dead != 5 || points != ckptPoints {
			t.Fatalf("%d tombstones, %d points; want the 5 slots whose vectors differ from the log's retired", dead, points)
		}
		checkAnswers(t, e, bb)
	})
}

// ckptRegion is the offset the first partition's table entry holds at
// field (48: codes, 56: vectors).
func ckptRegion(b []byte, field int) uint64 {
	table := binary.LittleEndian.Uint64(b[len(b)-ckptTrailerSize:])
	return binary.LittleEndian.Uint64(b[table+uint64(field):])
}

// rewriteCheckpoint replaces dir's checkpoint with what change makes of it.
func rewriteCheckpoint(t *testing.T, dir string, change func([]byte) []byte) {
	t.Helper()
	path := filepath.Join(dir, checkpointName)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, change(b), 0o600); err != nil {
		t.Fatal(err)
	}
}

// openWithCheckpoint opens the store in dir, which must have used its
// checkpoint, and closes it when the test ends.
func openWithCheckpoint(t *testing.T, dir string) *Embedded {
	t.Helper()
	e, err := OpenEmbedded(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	if err := e.CheckpointError(); err != nil {
		t.Fatal(err)
	}
	return e
}
