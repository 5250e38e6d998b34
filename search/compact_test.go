package search

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestEmbeddedCompaction rewrites a log full of overwritten points and
// checks the smaller log replays to the same state.
func TestEmbeddedCompaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	e := openFourDims(t, dir)
	var err error
	tenant, doc := uuid.New(), uuid.New()
	pts := make([]Point, 20)
	for i := range pts {
		pts[i] = Point{ID: uuid.New(), TenantID: tenant, DocumentID: doc, ContentVersion: 1, Index: i,
			Dense: []float32{1, float32(i), 0, 0}, Sparse: DocumentSparse("word"), Text: "word"}
	}
	for range 10 { // the same points ten times over
		if err := e.Upsert(ctx, tenant, pts); err != nil {
			t.Fatal(err)
		}
	}
	before := fileSize(t, filepath.Join(dir, "points.log"))
	e.wmu.Lock()
	e.mu.Lock()
	err = e.compact()
	e.mu.Unlock()
	e.wmu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	after := fileSize(t, filepath.Join(dir, "points.log"))
	if after*5 > before {
		t.Fatalf("log %d bytes before compaction, %d after", before, after)
	}
	// Writes after compaction are kept too.
	other := uuid.New()
	if err := e.Upsert(ctx, tenant, []Point{{ID: uuid.New(), TenantID: tenant, DocumentID: other, ContentVersion: 1,
		Dense: []float32{0, 0, 1, 0}, Sparse: DocumentSparse("other"), Text: "other"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.DeleteDocument(ctx, tenant, other, AllVersions); err != nil {
		t.Fatal(err)
	}
	e.Close()
	e, err = OpenEmbedded(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if n, _ := e.Count(ctx, tenant, Filter{}); n != 20 {
		t.Fatalf("after compaction and reopening: %d points, want 20", n)
	}
	hits, err := e.Query(ctx, tenant, Query{Mode: ModeSparse, Sparse: QuerySparse("word"), TopK: 50})
	if err != nil || len(hits) != 20 {
		t.Fatalf("sparse query after compaction: %d hits, %v", len(hits), err)
	}
}

// TestEmbeddedGroupCommit: writers that queue while another holds the
// log are committed together, with one fsync, and each sees its own
// write applied when it returns; deletes that match nothing write nothing.
func TestEmbeddedGroupCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	e := openFourDims(t, dir)
	var err error
	tenant := uuid.New()
	const writers = 16
	docs := make([]uuid.UUID, writers)
	for i := range docs {
		docs[i] = uuid.New()
	}
	syncs0 := e.syncs.Load()
	e.wmu.Lock() // a commit in progress: the writers queue behind it
	errs := make(chan error, writers)
	for i, doc := range docs {
		go func() {
			err := e.Upsert(ctx, tenant, []Point{{ID: uuid.New(), TenantID: tenant, DocumentID: doc, ContentVersion: 1,
				Dense: []float32{1, float32(i), 0, 0}, Sparse: DocumentSparse("word"), Text: "word"}})
			if err == nil {
				if n, _ := e.Count(ctx, tenant, Filter{DocumentIDs: []uuid.UUID{doc}}); n != 1 {
					err = fmt.Errorf("writer %d: its point is not visible when Upsert returns (%d)", i, n)
				}
			}
			errs <- err
		}()
	}
	for queued := 0; queued < writers; {
		time.Sleep(time.Millisecond)
		e.qmu.Lock()
		queued = len(e.queue)
		e.qmu.Unlock()
	}
	e.wmu.Unlock()
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := e.syncs.Load() - syncs0; got != 1 {
		t.Fatalf("%d writers queued behind one commit took %d fsyncs, want 1", writers, got)
	}
	size := fileSize(t, filepath.Join(dir, "points.log"))
	if err := e.DeleteDocument(ctx, tenant, docs[0], Versions{Below: 1}); err != nil {
		t.Fatal(err)
	}
	if grew := fileSize(t, filepath.Join(dir, "points.log")) - size; grew != 0 || e.syncs.Load()-syncs0 != 1 {
		t.Fatalf("a delete that matches nothing wrote %d bytes", grew)
	}
	e.Close()
	if e, err = OpenEmbedded(dir); err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if n, _ := e.Count(ctx, tenant, Filter{}); n != writers {
		t.Fatalf("after reopening: %d points, want %d", n, writers)
	}
}

// openFourDims opens an embedded store in dir for 4-dimensional vectors.
func openFourDims(t *testing.T, dir string) *Embedded {
	t.Helper()
	e, err := OpenEmbedded(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.EnsureSchema(context.Background(), 4); err != nil {
		t.Fatal(err)
	}
	return e
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// TestEmbeddedReplaysKeepDeletes: logs written before Versions hold
// deletes that keep one version ("every version but Keep"); they still
// replay as they meant.
func TestEmbeddedReplaysKeepDeletes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	e := openFourDims(t, dir)
	var err error
	tenant, doc := uuid.New(), uuid.New()
	for v := 1; v <= 3; v++ {
		p := Point{ID: uuid.New(), TenantID: tenant, DocumentID: doc, ContentVersion: v, Dense: []float32{1, 0, 0, 0}, Text: "x"}
		if err := e.Upsert(ctx, tenant, []Point{p}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.delete(recDeleteDoc, deleteRecord{Tenant: tenant, Document: doc, Keep: 2}); err != nil {
		t.Fatal(err)
	}
	e.Close()
	if e, err = OpenEmbedded(dir); err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	hits, err := e.Query(ctx, tenant, Query{Mode: ModeDense, Dense: []float32{1, 0, 0, 0}, TopK: 10})
	if err != nil || len(hits) != 1 || hits[0].ContentVersion != 2 {
		t.Fatalf("after replay: %d hits, %v; want version 2 alone", len(hits), err)
	}
}
