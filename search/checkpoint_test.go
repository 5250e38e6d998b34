package search

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/google/uuid"
)

// checkpointBundle is a store in a directory of its own, closed (so its
// checkpoint is saved), holding one tenant's graph-indexed partition
// (with tombstones: a document was deleted) and a small tenant's, with
// the queries' answers as the store gave them before it closed.
type checkpointBundle struct {
	dir     string
	tenant  uuid.UUID
	small   uuid.UUID
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
	copyFiles(t, ckptFixture.dir, bb.dir, "points.log", checkpointName)
	return &bb
}

func copyFiles(t *testing.T, from, to string, names ...string) {
	t.Helper()
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(from, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// payloadEdit gives a point a payload of every kind the codec keeps.
func payloadEdit(i int, p *Point) {
	p.Title = fmt.Sprintf("title %d", i)
	p.Text = fmt.Sprintf("text %d", i)
	p.PageStart, p.PageEnd, p.CharStart, p.CharEnd = i%7, i%7+1, i, i+10
	p.Sparse = SparseVector{Indices: []uint32{uint32(i % 50), 1000 + uint32(i%3)}, Values: []float32{0.5, float32(i%9) / 4}}
	switch i % 4 {
	case 0:
		p.Tags, p.Metadata = []string{"a", fmt.Sprint("t", i%5)}, map[string]any{"n": i, "s": "x", "nested": map[string]any{"ok": true}}
		p.HeadingPath = []string{"H", "h2"}
		p.Sections = []Section{{HeadingPath: []string{"H"}, CharStart: i, CharEnd: i + 4, PageStart: 1, PageEnd: 2}, {HeadingPath: nil, CharStart: i + 4, CharEnd: i + 10}}
	case 1:
		p.Tags, p.Metadata, p.HeadingPath = []string{}, map[string]any{}, []string{}
	case 2:
		p.Text = "bad utf-8: \xff\xfe and a \xe2\x82 cut rune"
	}
}

func makeCheckpointFixture() (*checkpointBundle, error) {
	dir, err := os.MkdirTemp("", "ragd-checkpoint-")
	if err != nil {
		return nil, err
	}
	bb := &checkpointBundle{dir: dir, tenant: uuid.New(), small: uuid.New(), doc: uuid.New(), gen: newClustered(5, ckptDims, 40, 1.0)}
	e, err := OpenEmbedded(dir)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	if err := e.EnsureSchema(ctx, ckptDims); err != nil {
		return nil, err
	}
	gone := uuid.New()
	for i := range ckptPoints + 200 {
		p := Point{ID: uuid.New(), TenantID: bb.tenant, DocumentID: bb.doc, ContentVersion: 1, Index: i, Dense: bb.gen.next()}
		if i >= ckptPoints {
			p.DocumentID = gone
		}
		payloadEdit(i, &p)
		bb.points = append(bb.points, p)
	}
	small := make([]Point, 40)
	for i := range small {
		small[i] = Point{ID: uuid.New(), TenantID: bb.small, DocumentID: uuid.New(), ContentVersion: 1, Index: i, Dense: bb.gen.next()}
		payloadEdit(i, &small[i])
	}
	if err := e.Upsert(ctx, bb.tenant, bb.points); err != nil {
		return nil, err
	}
	if err := e.Upsert(ctx, bb.small, small); err != nil {
		return nil, err
	}
	if err := e.DeleteDocument(ctx, bb.tenant, gone, AllVersions); err != nil {
		return nil, err
	}
	bb.points = bb.points[:ckptPoints]
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

// replayOnly opens a copy of dir's log alone: the state a replay of the
// whole log gives, which a checkpoint must give too.
func replayOnly(t *testing.T, dir string) *Embedded {
	t.Helper()
	ref := t.TempDir()
	copyFiles(t, dir, ref, "points.log")
	e, err := OpenEmbedded(ref)
	if err != nil {
		t.Fatal(err)
	}
	crash(e) // its maps are all sameState reads: no graph to build, nothing to save
	if e.replayed == 0 {
		t.Fatal("the reference store replayed nothing")
	}
	return e
}

// sameState fails unless got holds the points want holds, field for
// field (vectors, payloads, tenants), with the same term statistics and
// tombstone counts where the slots are the same.
func sameState(t *testing.T, got, want *Embedded) {
	t.Helper()
	got.mu.RLock()
	defer got.mu.RUnlock()
	want.mu.RLock()
	defer want.mu.RUnlock()
	if got.dims != want.dims {
		t.Fatalf("%d dimensions, want %d", got.dims, want.dims)
	}
	if len(got.tenants) != len(want.tenants) {
		t.Fatalf("%d tenants, want %d", len(got.tenants), len(want.tenants))
	}
	for tenant, wp := range want.tenants {
		gp := got.tenants[tenant]
		if gp == nil {
			t.Fatalf("tenant %s is missing", tenant)
		}
		if len(gp.points) != len(wp.points) {
			t.Fatalf("tenant %s: %d points, want %d", tenant, len(gp.points), len(wp.points))
		}
		for id, w := range wp.points {
			g := gp.points[id]
			if g == nil {
				t.Fatalf("tenant %s: point %s is missing", tenant, id)
			}
			if !reflect.DeepEqual(*g, *w) {
				t.Fatalf("tenant %s: point %s is\n%+v\nwant\n%+v", tenant, id, *g, *w)
			}
		}
		if !reflect.DeepEqual(gp.df, wp.df) {
			t.Fatalf("tenant %s: document frequencies differ", tenant)
		}
		for id := range wp.docs {
			if len(gp.docs[id]) != len(wp.docs[id]) {
				t.Fatalf("tenant %s: document %s has %d points, want %d", tenant, id, len(gp.docs[id]), len(wp.docs[id]))
			}
		}
		// The posting lists rank alike (payloadEdit's terms).
		for i := range uint32(12) {
			q := SparseVector{Indices: []uint32{i, 1000 + i%3}, Values: []float32{1, 1}}
			g, err := gp.sparse(context.Background(), q, Filter{}, 10)
			must(t, err)
			w, err := wp.sparse(context.Background(), q, Filter{}, 10)
			must(t, err)
			if ids(g) != ids(w) || !slices.EqualFunc(g, w, func(a, b Hit) bool { return a.Score == b.Score }) {
				t.Fatalf("tenant %s: sparse query %d: %s, want %s", tenant, i, ids(g), ids(w))
			}
		}
	}
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

// crash stops e as kill -9 would, as far as the files go: no checkpoint
// at Close, nothing more written. e must not be closed after it.
func crash(e *Embedded) {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	if e.check != nil {
		e.check.stopOnce.Do(func() { close(e.check.stop) })
	}
	e.bg.Wait()
	e.log.Close()
	e.lock.Close() // releases the flock
}

func TestCheckpoint(t *testing.T) {
	t.Parallel()

	t.Run("ReopenReplaysNothing", func(t *testing.T) {
		t.Parallel()
		bb := setupCheckpoint(t)
		e := openWithCheckpoint(t, bb.dir)
		// Indexed as soon as it opens: nothing is left to replay or build.
		e.mu.RLock()
		part := e.tenants[bb.tenant]
		graph, indexed, slots, building, dead := part.graph != nil, part.indexed, len(part.slots), part.building, part.dead
		heap := -1
		for s, v := range part.vecs {
			if !mapped(e, v) || (part.slots[s] != nil && !mapped(e, part.slots[s].Dense)) {
				heap = s
				break
			}
		}
		e.mu.RUnlock()
		// The codes move from the mapping to the heap after the open.
		for moved := false; !moved; {
			e.mu.RLock()
			moved = part.graph.mappedCodes == 0
			if moved {
				for s := range part.indexed {
					if mapped(e, part.graph.codes[s]) {
						t.Errorf("slot %d's code is still in the mapping", s)
						break
					}
				}
			}
			e.mu.RUnlock()
			time.Sleep(time.Millisecond)
		}
		if e.replayed != 0 {
			t.Fatalf("%d records replayed after the checkpoint, want none", e.replayed)
		}
		if !graph || indexed != ckptPoints+200 || indexed != slots || building || dead != 200 {
			t.Fatalf("after the open: graph %v, %d of %d slots indexed, building %v, %d tombstones", graph, indexed, slots, building, dead)
		}
		if heap >= 0 {
			t.Fatalf("slot %d's vector or point's vector is on the heap, not in the checkpoint's mapping", heap)
		}
		// The same graph: the same answers, hit for hit.
		for i, q := range bb.queries {
			if got := query(t, e, bb.tenant, q); ids(got) != ids(bb.answers[i]) || !slices.EqualFunc(got, bb.answers[i], func(a, b Hit) bool { return a.Score == b.Score }) {
				t.Fatalf("query %d: %s after the reopen, %s before", i, ids(got), ids(bb.answers[i]))
			}
		}
		checkAnswers(t, e, bb)
		sameState(t, e, replayOnly(t, bb.dir))
	})

	t.Run("TailAfterTheCheckpointIsReplayed", func(t *testing.T) {
		t.Parallel()
		bb := setupCheckpoint(t)
		ctx := context.Background()
		e, err := OpenEmbedded(bb.dir)
		must(t, err)
		must(t, e.CheckpointError())
		// After the checkpoint: 500 points get new vectors, 500 new ones
		// arrive, a document's worth goes, the small tenant goes, a new
		// one comes; then the process dies before any checkpoint.
		moved := slices.Clone(bb.points[:500])
		for i := range moved {
			moved[i].Dense = bb.gen.next()
		}
		must(t, e.Upsert(ctx, bb.tenant, moved))
		gone := uuid.New()
		fill(t, e, bb.tenant, []uuid.UUID{gone}, bb.gen, 300, payloadEdit)
		fill(t, e, bb.tenant, []uuid.UUID{uuid.New()}, bb.gen, 500, payloadEdit)
		must(t, e.DeleteDocument(ctx, bb.tenant, gone, AllVersions))
		must(t, e.DeleteTenant(ctx, bb.small))
		fill(t, e, uuid.New(), []uuid.UUID{uuid.New()}, bb.gen, 30, payloadEdit)
		crash(e)

		e = openWithCheckpoint(t, bb.dir)
		if want := 500 + 300 + 500 + 1 + 1 + 30; e.replayed != want {
			t.Fatalf("%d records replayed, want the %d written after the checkpoint", e.replayed, want)
		}
		e.mu.RLock()
		part := e.tenants[bb.tenant]
		graph, indexed, points := part.graph != nil, part.indexed, len(part.points)
		e.mu.RUnlock()
		if !graph || indexed < ckptPoints || points != ckptPoints+500 {
			t.Fatalf("graph %v, %d slots indexed, %d points", graph, indexed, points)
		}
		sameState(t, e, replayOnly(t, bb.dir))
		for i := range moved { // a moved point is scored by its new vector
			hits := query(t, e, bb.tenant, moved[i].Dense)
			if i%50 == 0 && (len(hits) == 0 || hits[0].ID != moved[i].ID) {
				t.Fatalf("moved point %d is not its new vector's nearest: %s", i, ids(hits))
			}
		}
		checkAnswers(t, e, bb) // before the tail is linked
		must(t, e.WaitIndexed(ctx))
		e.mu.RLock()
		indexed, slots := part.indexed, len(part.slots)
		e.mu.RUnlock()
		if indexed != slots {
			t.Fatalf("%d of %d slots linked after WaitIndexed", indexed, slots)
		}
		checkAnswers(t, e, bb)
	})

	t.Run("ALogShorterThanTheCheckpointIsReplayed", func(t *testing.T) {
		t.Parallel()
		bb := setupCheckpoint(t)
		// A log restored from before the checkpoint was taken.
		path := filepath.Join(bb.dir, "points.log")
		fi, err := os.Stat(path)
		must(t, err)
		must(t, os.Truncate(path, fi.Size()-100))
		e, err := OpenEmbedded(bb.dir)
		must(t, err)
		defer e.Close()
		if !errors.Is(e.loadErr, errCheckpoint) {
			t.Fatalf("the open says %v, want it to say the checkpoint was not used", e.loadErr)
		}
		sameState(t, e, replayOnly(t, bb.dir))
	})

	t.Run("ACheckpointOfAnotherLogIsNotUsed", func(t *testing.T) {
		t.Parallel()
		bb := setupCheckpoint(t)
		old, err := os.ReadFile(filepath.Join(bb.dir, checkpointName))
		must(t, err)
		e := openWithCheckpoint(t, bb.dir)
		must(t, e.DeleteDocument(context.Background(), bb.tenant, bb.doc, Versions{Only: 1}))
		fill(t, e, bb.tenant, []uuid.UUID{uuid.New()}, bb.gen, 100, payloadEdit)
		e.wmu.Lock()
		e.mu.Lock()
		err = e.compact() // the log as compaction rewrites it, with a new id
		e.mu.Unlock()
		e.wmu.Unlock()
		must(t, err)
		must(t, e.Close())
		// As if the process had died before the checkpoint at Close.
		must(t, os.WriteFile(filepath.Join(bb.dir, checkpointName), old, 0o600))
		e, err = OpenEmbedded(bb.dir)
		must(t, err)
		defer e.Close()
		if !errors.Is(e.loadErr, errCheckpoint) {
			t.Fatalf("the open says %v, want it to say the checkpoint was not used", e.loadErr)
		}
		sameState(t, e, replayOnly(t, bb.dir))
		if n, _ := e.Count(context.Background(), bb.tenant, Filter{}); n != 100 {
			t.Fatalf("%d points, want the 100 written after the delete", n)
		}
	})

	t.Run("ALogWithoutAnIDGetsOne", func(t *testing.T) {
		t.Parallel()
		bb := setupCheckpoint(t)
		// A log as ragd wrote it before logs had ids: the same records
		// without the marker; beside it a version 1 checkpoint.
		path := filepath.Join(bb.dir, "points.log")
		b, err := os.ReadFile(path)
		must(t, err)
		_, _, n, err := readRecord(bufio.NewReader(bytes.NewReader(b)))
		must(t, err)
		must(t, os.WriteFile(path, b[n:], 0o600))
		must(t, os.WriteFile(filepath.Join(bb.dir, legacyCheckpointName), []byte("version 1"), 0o600))
		// The reference is this log's replay: the rewrite at the open
		// stores the normalised vectors, which a replay would normalise
		// again (a last-bit difference, as after any compaction).
		ref := replayOnly(t, bb.dir)
		e, err := OpenEmbedded(bb.dir)
		must(t, err)
		if e.logID == uuid.Nil || readLogID(e.log, 4096) != e.logID {
			t.Fatal("the log has no id after the open")
		}
		sameState(t, e, ref)
		must(t, e.Close()) // saves a checkpoint, the graph as far as it was built

		if _, err := os.Stat(filepath.Join(bb.dir, legacyCheckpointName)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the version 1 checkpoint is still there: %v", err)
		}
		e = openWithCheckpoint(t, bb.dir)
		if e.replayed != 0 {
			t.Fatalf("%d records replayed", e.replayed)
		}
		sameState(t, e, ref)
	})

	t.Run("ATemporaryFileLeftByACrashIsIgnored", func(t *testing.T) {
		t.Parallel()
		bb := setupCheckpoint(t)
		tmp := filepath.Join(bb.dir, checkpointName+".tmp")
		must(t, os.WriteFile(tmp, []byte("half a checkpoint"), 0o600))
		e := openWithCheckpoint(t, bb.dir)
		fill(t, e, bb.tenant, []uuid.UUID{uuid.New()}, bb.gen, 10, nil)
		must(t, e.Close())
		if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the temporary file is still there: %v", err)
		}
		e = openWithCheckpoint(t, bb.dir)
		sameState(t, e, replayOnly(t, bb.dir))
	})

	corruptions := map[string]func(b []byte, tenant uuid.UUID) []byte{
		"Truncated":   func(b []byte, _ uuid.UUID) []byte { return b[:len(b)/2] },
		"LastByteCut": func(b []byte, _ uuid.UUID) []byte { return b[:len(b)-1] },
		"Empty":       func(b []byte, _ uuid.UUID) []byte { return nil },
		"Garbage": func(b []byte, _ uuid.UUID) []byte {
			return []byte("not a checkpoint at all, but long enough to have a header and a trailer")
		},
		"Dimensions": func(b []byte, _ uuid.UUID) []byte { b[12]++; return b },
		"LogID":      func(b []byte, _ uuid.UUID) []byte { b[20]++; return b },
		"LogOffset":  func(b []byte, _ uuid.UUID) []byte { b[32]++; return b },
		"MetaByte":   func(b []byte, tn uuid.UUID) []byte { b[ckptRegion(b, tn, 32)+100]++; return b },
		"LinkByte": func(b []byte, tn uuid.UUID) []byte {
			b[ckptRegion(b, tn, 32)+16*(ckptPoints+200)+4*(ckptPoints+200)+3]++
			return b
		},
		"CodeByte":    func(b []byte, tn uuid.UUID) []byte { b[ckptRegion(b, tn, 48)+10]++; return b },
		"VectorBit":   func(b []byte, tn uuid.UUID) []byte { b[ckptRegion(b, tn, 56)+997*4*ckptDims+2] ^= 0x40; return b },
		"PayloadByte": func(b []byte, tn uuid.UUID) []byte { b[ckptRegion(b, tn, 64)+4+20]++; return b },
		"PayloadLen":  func(b []byte, tn uuid.UUID) []byte { b[ckptRegion(b, tn, 64)]++; return b },
		"TermByte":    func(b []byte, tn uuid.UUID) []byte { b[ckptRegion(b, tn, 80)+5]++; return b },
		"PostingByte": func(b []byte, tn uuid.UUID) []byte { b[ckptRegion(b, tn, 96)+8]++; return b },
		"TableByte":   func(b []byte, tn uuid.UUID) []byte { b[ckptEntryAt(b, tn)+20]++; return b },
		"SumsByte": func(b []byte, _ uuid.UUID) []byte {
			b[binary.LittleEndian.Uint64(b[len(b)-ckptTrailerSize:])]++
			return b
		},
		"BlockSize":    func(b []byte, _ uuid.UUID) []byte { b[41]++; return b },
		"TrailerByte":  func(b []byte, _ uuid.UUID) []byte { b[len(b)-12]++; return b },
		"TrailerMagic": func(b []byte, _ uuid.UUID) []byte { b[len(b)-1]++; return b },
	}
	// One case after another: each rebuilds the graph in the background
	// while it runs, and a score of rebuilds at once would crowd the cores.
	t.Run("CorruptIsNotUsed", func(t *testing.T) {
		t.Parallel()
		for name, corrupt := range corruptions {
			t.Run(name, func(t *testing.T) {
				bb := setupCheckpoint(t)
				rewriteCheckpoint(t, bb.dir, func(b []byte) []byte { return corrupt(b, bb.tenant) })
				e, err := OpenEmbedded(bb.dir)
				if err != nil {
					t.Fatal(err)
				}
				defer e.Close()
				if !errors.Is(e.loadErr, errCheckpoint) {
					t.Fatalf("the open says %v, want it to say the checkpoint was not used", e.loadErr)
				}
				e.mu.RLock()
				n := len(e.mappings)
				e.mu.RUnlock()
				if n != 0 {
					t.Fatal("the checkpoint is mapped")
				}
				sameState(t, e, replayOnly(t, bb.dir))
				if name == "VectorBit" {
					checkAnswers(t, e, bb) // exact scores while the graph is rebuilt
				}
			})
		}
	})

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
		// The build saved the new checkpoint as it finished: no Close
		// here, as if the process died.
		if err := e.CheckpointError(); err != nil {
			t.Fatalf("after the rebuild: %v", err)
		}
		checkAnswers(t, e, bb)
		crash(e)
		e = openWithCheckpoint(t, bb.dir)
		if part := e.tenants[bb.tenant]; part.building || part.indexed != len(part.slots) || e.replayed != 0 {
			t.Fatalf("%d of %d slots indexed, building %v, %d records replayed", part.indexed, len(part.slots), part.building, e.replayed)
		}
		checkAnswers(t, e, bb)
		sameState(t, e, replayOnly(t, bb.dir))
	})
}

// ckptEntryAt is the offset of tenant's entry in the checkpoint's table.
func ckptEntryAt(b []byte, tenant uuid.UUID) uint64 {
	le := binary.LittleEndian
	tr := b[len(b)-ckptTrailerSize:]
	table, count := le.Uint64(tr[8:]), uint64(le.Uint32(tr[16:]))
	for i := range count {
		if off := table + i*ckptEntrySize; uuid.UUID(b[off:off+16]) == tenant {
			return off
		}
	}
	panic("no such tenant in the checkpoint")
}

// ckptRegion is the offset tenant's table entry holds at field (32: meta,
// 48: codes, 56: vectors, 64: payloads, 80: terms, 96: postings).
func ckptRegion(b []byte, tenant uuid.UUID, field int) uint64 {
	return binary.LittleEndian.Uint64(b[ckptEntryAt(b, tenant)+uint64(field):])
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
	if len(e.mappings) == 0 {
		t.Fatal("no checkpoint mapped")
	}
	return e
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestCheckpointVectorsCheckedAfterOpen: the blocks of a checkpoint that
// hold nothing but vectors are checked after the open, and until they
// pass nothing is written from them; damage found then removes the
// checkpoint, and the next open replays the log. Not parallel: it holds
// the checks with checkGate.
func TestCheckpointVectorsCheckedAfterOpen(t *testing.T) {
	ctx := context.Background()
	// setup is the fixture's store saved with 4 KiB sums (so that blocks
	// of vectors alone exist at this size), and the checkpoint's bytes;
	// damage, if set, flips a bit in the middle of the tenant's vectors.
	setup := func(t *testing.T, damage bool) (*checkpointBundle, []byte) {
		bb := setupCheckpoint(t)
		e, err := OpenEmbedded(bb.dir)
		must(t, err)
		e.ckptBlock = ckptMinBlock
		e.mu.RLock()
		err = e.saveCheckpoint()
		e.mu.RUnlock()
		must(t, err)
		crash(e)
		if damage {
			rewriteCheckpoint(t, bb.dir, func(b []byte) []byte {
				lo, hi := ckptRegion(b, bb.tenant, 56), ckptRegion(b, bb.tenant, 64)
				b[(lo+hi)/2] ^= 0x40
				return b
			})
		}
		b, err := os.ReadFile(filepath.Join(bb.dir, checkpointName))
		must(t, err)
		return bb, b
	}
	hold := func(t *testing.T) (release func()) {
		gate := make(chan struct{})
		checkGate = gate
		var once sync.Once
		release = func() { once.Do(func() { close(gate) }) }
		t.Cleanup(func() { release(); checkGate = nil })
		return release
	}
	// open opens dir, which must use its checkpoint and leave blocks to
	// the check after it.
	open := func(t *testing.T, dir string) *Embedded {
		e, err := OpenEmbedded(dir)
		must(t, err)
		if err := e.CheckpointError(); err != nil || len(e.mappings) == 0 {
			t.Fatalf("the checkpoint was not used: %v", err)
		}
		if e.check == nil || len(e.check.blocks) == 0 {
			t.Fatal("no block was left to the check after the open")
		}
		return e
	}
	extra := func(bb *checkpointBundle) []Point {
		return []Point{{ID: uuid.New(), TenantID: bb.tenant, DocumentID: bb.doc, ContentVersion: 1, Index: 99999, Dense: bb.gen.next(), Text: "written after the open"}}
	}
	refusesSave := func(t *testing.T, e *Embedded) {
		t.Helper()
		e.mu.RLock()
		err := e.saveCheckpoint()
		e.mu.RUnlock()
		if !errors.Is(err, errVectorsUnchecked) {
			t.Fatalf("a save before the check passed: %v, want %v", err, errVectorsUnchecked)
		}
	}
	// compacts forces a compaction (as if the log were large) and says
	// whether it happened.
	compacts := func(t *testing.T, e *Embedded) bool {
		t.Helper()
		e.wmu.Lock()
		defer e.wmu.Unlock()
		e.mu.Lock()
		defer e.mu.Unlock()
		id := e.logID
		e.logBytes = 1 << 40
		must(t, e.maybeCompact())
		return e.logID != id
	}

	t.Run("WholeVectorsAreTrustedOnceChecked", func(t *testing.T) {
		bb, before := setup(t, false)
		release := hold(t)
		e := open(t, bb.dir)
		// Serving and indexed before the check.
		if err := e.WaitIndexed(ctx); err != nil {
			t.Fatal(err)
		}
		checkAnswers(t, e, bb)
		must(t, e.Upsert(ctx, bb.tenant, extra(bb)))
		refusesSave(t, e)
		if compacts(t, e) {
			t.Fatal("the log was compacted from vectors not checked yet")
		}
		if after, _ := os.ReadFile(filepath.Join(bb.dir, checkpointName)); !bytes.Equal(after, before) {
			t.Fatal("the checkpoint changed before the check passed")
		}
		release()
		must(t, e.WaitChecked(ctx))
		must(t, e.CheckpointError())
		e.mu.RLock()
		trusted := e.vectorsTrusted()
		e.mu.RUnlock()
		if !trusted {
			t.Fatal("the vectors are not trusted after the check passed")
		}
		must(t, e.Close())
		e = openWithCheckpoint(t, bb.dir)
		if e.replayed != 0 {
			t.Fatalf("%d records replayed: Close did not save the checkpoint after the check passed", e.replayed)
		}
		sameState(t, e, replayOnly(t, bb.dir))
	})

	t.Run("DamageFoundAfterTheOpenRemovesTheCheckpoint", func(t *testing.T) {
		bb, _ := setup(t, true)
		release := hold(t)
		e := open(t, bb.dir)
		pts := extra(bb)
		must(t, e.Upsert(ctx, bb.tenant, pts))
		refusesSave(t, e)
		release()
		if err := e.WaitChecked(ctx); err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
			t.Fatalf("the check says %v, want a checksum mismatch", err)
		}
		if err := e.CheckpointError(); !errors.Is(err, errCheckpoint) || !strings.Contains(err.Error(), "damaged") {
			t.Fatalf("CheckpointError says %v, want the damage", err)
		}
		if _, err := os.Stat(filepath.Join(bb.dir, checkpointName)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the damaged checkpoint is still there (%v)", err)
		}
		if compacts(t, e) {
			t.Fatal("the log was compacted from damaged vectors")
		}
		refusesSave(t, e)
		must(t, e.Close())
		if _, err := os.Stat(filepath.Join(bb.dir, checkpointName)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("Close saved a checkpoint from damaged vectors (%v)", err)
		}
		// The next open replays the whole log: the true vectors, the
		// point written after the open, the same answers.
		e, err := OpenEmbedded(bb.dir)
		must(t, err)
		defer e.Close()
		if e.check != nil || e.replayed < ckptPoints {
			t.Fatalf("the reopen replayed %d records (check %v), want the whole log", e.replayed, e.check != nil)
		}
		if hits, err := e.Query(ctx, bb.tenant, Query{Mode: ModeDense, Dense: pts[0].Dense, TopK: 1}); err != nil || len(hits) != 1 || hits[0].ID != pts[0].ID {
			t.Fatalf("the point written after the open: %v, %v", hits, err)
		}
		checkAnswers(t, e, bb)
	})

	t.Run("CloseBeforeTheCheckKeepsTheCheckpoint", func(t *testing.T) {
		bb, before := setup(t, false)
		hold(t) // never released: Close stops the check
		e := open(t, bb.dir)
		must(t, e.Upsert(ctx, bb.tenant, extra(bb)))
		must(t, e.Close())
		if err := e.WaitChecked(ctx); !errors.Is(err, errCheckStopped) {
			t.Fatalf("the check after Close: %v, want it stopped", err)
		}
		if after, _ := os.ReadFile(filepath.Join(bb.dir, checkpointName)); !bytes.Equal(after, before) {
			t.Fatal("Close replaced the checkpoint before its vectors were checked")
		}
		// The reopen uses it and replays the write after it.
		checkGate = nil
		e = openWithCheckpoint(t, bb.dir)
		if e.replayed != 1 {
			t.Fatalf("%d records replayed after the checkpoint, want the one upsert", e.replayed)
		}
		sameState(t, e, replayOnly(t, bb.dir))
	})
}
