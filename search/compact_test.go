package search

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/uuid"
)

// TestEmbeddedCompaction rewrites a log full of overwritten points and
// checks the smaller log replays to the same state.
func TestEmbeddedCompaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	e, err := OpenEmbedded(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.EnsureSchema(ctx, 4); err != nil {
		t.Fatal(err)
	}
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
	e.mu.Lock()
	err = e.compact()
	e.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	after := fileSize(t, filepath.Join(dir, "points.log"))
	if after*5 > before {
		t.Fatalf("log %d bytes before compaction, %d after", before, after)
	}
	// Writes after compaction are kept too.
	if err := e.DeleteDocument(ctx, tenant, uuid.New(), AllVersions); err != nil {
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
	e, err := OpenEmbedded(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.EnsureSchema(ctx, 4); err != nil {
		t.Fatal(err)
	}
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
