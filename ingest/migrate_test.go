package ingest_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/ragd/ragd/embedder"
	"github.com/ragd/ragd/extract"
	"github.com/ragd/ragd/ingest"
	"github.com/ragd/ragd/postgres/pgtest"
	"github.com/ragd/ragd/search"
	"github.com/ragd/ragd/spaces"
)

// crashAfter embeds with inner until it has answered n calls; the next
// call cancels the run's context, as a crash or a shutdown does.
type crashAfter struct {
	embedder.Embedder
	mu     sync.Mutex
	n      int
	cancel context.CancelFunc
	texts  map[string]int // how often each text was embedded
}

func (c *crashAfter) Embed(ctx context.Context, tenantID uuid.UUID, texts []string) (embedder.Result, error) {
	c.mu.Lock()
	if c.n == 0 && c.cancel != nil {
		c.cancel()
		c.mu.Unlock()
		return embedder.Result{}, context.Canceled
	}
	c.n--
	for _, t := range texts {
		c.texts[t]++
	}
	c.mu.Unlock()
	return c.Embedder.Embed(ctx, tenantID, texts)
}

// TestMigrationResumesAfterACrash stops the build job in the middle of a
// tenant's documents and runs it again: it goes on after the last document
// it recorded, embeds no text twice, and cuts over with every document.
func TestMigrationResumesAfterACrash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	tenant := newTenant(t, pool)
	def, _ := embedder.NewLocal(64)
	vectors, err := search.OpenEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer vectors.Close()
	local32, _ := embedder.NewLocal(32)
	target := &crashAfter{Embedder: local32, texts: map[string]int{}}
	to := search.Space{Model: embedder.LocalModel, Dimensions: 32}
	indexes := search.NewIndexes(search.Index{Embedder: def, Store: vectors}, func(ctx context.Context, sp search.Space) (search.Index, error) {
		if sp != to {
			return search.Index{}, search.ErrUnknownSpace
		}
		s, err := search.OpenEmbedded(t.TempDir())
		return search.Index{Embedder: target, Store: s}, err
	})
	st := newStack(t, pool, indexes)
	store, svc := st.docs, st.spaces
	p := st.pipeline(t, ingest.PipelineConfig{})
	const docs = 8
	for i := range docs {
		up := ingest.Upload{Filename: fmt.Sprintf("n%d.txt", i), Type: extract.TypeText,
			Content: ingest.BytesContent(fmt.Appendf(nil, "Note %d about the otter colony by the weir.", i))}
		if i == 0 { // sections, and code points that are not bytes
			up = ingest.Upload{Filename: "n0.md", Type: extract.TypeMarkdown, Content: ingest.BytesContent([]byte(
				"# Otters 🦦\n\n## Colony\n\nNote 0 about the otter colony by the weir.\n\n## Weir\n\nThe café's weir is old."))}
		}
		c, err := store.Create(ctx, tenant.ID, up, ingest.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Process(ctx, tenant.ID, c.Document.ID, 1); err != nil {
			t.Fatal(err)
		}
	}
	if d, c, _, err := store.EstimateEmbedding(ctx, tenant.ID); err != nil || d != docs || c != docs {
		t.Fatalf("estimate %d documents, %d chunks, %v", d, c, err)
	}
	m, err := svc.Create(ctx, tenant.ID, spaces.Request{Model: to.Model, Dimensions: to.Dimensions, RollbackWindowSeconds: new(int64), Admin: true, By: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Estimate.Documents != docs || m.Estimate.Chunks != docs {
		t.Fatalf("the migration's estimate: %+v", m.Estimate)
	}
	target.mu.Lock()
	delete(target.texts, spaces.ProbeText) // Create's probe of the model, not a document's
	target.mu.Unlock()

	run, crash := context.WithCancel(ctx)
	target.n, target.cancel = 3, crash
	if err := p.BuildIndex(run, tenant.ID, m.ID); err == nil {
		t.Fatal("the crashed run returned nil")
	}
	m, _ = svc.Get(ctx, tenant.ID, m.ID)
	if m.State != spaces.Building || m.DoneDocuments != 3 {
		t.Fatalf("after the crash: %s with %d documents done, want building with 3", m.State, m.DoneDocuments)
	}
	if sp, _ := svc.SearchSpace(ctx, tenant.ID); !sp.IsZero() {
		t.Fatalf("search moved to %s before the target was complete", sp)
	}

	target.mu.Lock()
	target.n, target.cancel = 1000, nil
	target.mu.Unlock()
	if err := p.BuildIndex(ctx, tenant.ID, m.ID); err != nil {
		t.Fatal(err)
	}
	m, _ = svc.Get(ctx, tenant.ID, m.ID)
	if m.State != spaces.Active || m.DoneDocuments != docs {
		t.Fatalf("after the resumed run: %s with %d documents done", m.State, m.DoneDocuments)
	}
	if len(target.texts) != docs {
		t.Fatalf("%d texts embedded, want %d", len(target.texts), docs)
	}
	for text, n := range target.texts {
		if n != 1 {
			t.Fatalf("%q was embedded %d times", text, n)
		}
	}
	if sp, _ := svc.SearchSpace(ctx, tenant.ID); sp != to {
		t.Fatalf("search uses %v after the cut-over", sp)
	}
	idx, _ := indexes.Get(ctx, to)
	if n, err := idx.Store.Count(ctx, tenant.ID, search.Filter{}); err != nil || n != docs {
		t.Fatalf("the target holds %d points, %v", n, err)
	}
	res, err := search.NewRoutedSearcher(indexes, svc, store, 0).Search(ctx, tenant.ID, search.Request{Query: "otter colony", Mode: search.ModeDense, TopK: 3})
	if err != nil || len(res.Hits) != 3 || res.Space != to {
		t.Fatalf("search after the cut-over: %d hits in %v, %v", len(res.Hits), res.Space, err)
	}

	// The stored chunks made the target's points: the same code point
	// offsets and sections as the points the pipeline wrote.
	all := search.Query{Mode: search.ModeSparse, Sparse: search.QuerySparse("otter colony weir note"), TopK: 50}
	before, err := vectors.Query(ctx, tenant.ID, all)
	if err != nil || len(before) != docs {
		t.Fatalf("the first index: %d points, %v", len(before), err)
	}
	after, err := idx.Store.Query(ctx, tenant.ID, all)
	if err != nil || len(after) != docs {
		t.Fatalf("the target: %d points, %v", len(after), err)
	}
	byID := map[uuid.UUID]search.Point{}
	for _, h := range before {
		byID[h.ID] = h.Point
	}
	sections := 0
	for _, h := range after {
		b := byID[h.ID]
		if h.CharEnd == 0 || h.CharStart != b.CharStart || h.CharEnd != b.CharEnd || !reflect.DeepEqual(h.Sections, b.Sections) || strings.Join(h.HeadingPath, ">") != strings.Join(b.HeadingPath, ">") {
			t.Fatalf("re-embedded point: chars [%d,%d) %v %v, the pipeline's [%d,%d) %v %v",
				h.CharStart, h.CharEnd, h.HeadingPath, h.Sections, b.CharStart, b.CharEnd, b.HeadingPath, b.Sections)
		}
		sections += len(h.Sections)
		if len(h.Sections) == 3 && !reflect.DeepEqual(h.HeadingPath, []string{"Otters 🦦"}) {
			t.Fatalf("the Markdown note's heading path %q, want its sections' common prefix", h.HeadingPath)
		}
	}
	if sections != 3 {
		t.Fatalf("%d sections in all, want the Markdown note's 3", sections)
	}
}
