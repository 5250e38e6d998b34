package ingest_test

import (
	"context"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ragd/ragd/chunker"
	"github.com/ragd/ragd/embedder"
	"github.com/ragd/ragd/extract/extracttest"
	"github.com/ragd/ragd/ingest"
	"github.com/ragd/ragd/postgres/pgtest"
	"github.com/ragd/ragd/search"
)

// gatedStore holds the first Upsert of points of one content version until
// released: a run that is slow at the worst moment.
type gatedStore struct {
	search.VectorStore
	version          int
	entered, release chan struct{}
	once             sync.Once
}

func (g *gatedStore) Upsert(ctx context.Context, tenant uuid.UUID, pts []search.Point) error {
	if len(pts) > 0 && pts[0].ContentVersion == g.version {
		g.once.Do(func() {
			close(g.entered)
			<-g.release
		})
	}
	return g.VectorStore.Upsert(ctx, tenant, pts)
}

type raceBundle struct {
	pipelineBundle
	pool    *pgxpool.Pool
	vectors *search.Embedded
	gate    *gatedStore
}

func setupRace(t *testing.T) *raceBundle {
	t.Helper()
	pool := pgtest.NewPool(t)
	tenant := newTenant(t, pool)
	emb, _ := embedder.NewLocal(32)
	vectors, err := search.OpenEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vectors.Close() })
	gate := &gatedStore{VectorStore: vectors, version: -1, entered: make(chan struct{}), release: make(chan struct{})}
	st := newStack(t, pool, search.SingleIndex(emb, gate))
	p := st.pipeline(t, ingest.PipelineConfig{Chunking: chunker.Options{MaxTokens: 32, OverlapTokens: 4}})
	return &raceBundle{pipelineBundle{store: st.docs, pipeline: p, queue: st.queue, tenant: tenant.ID}, pool, vectors, gate}
}

// points counts a document's points by content version.
func (b *raceBundle) points(t *testing.T, doc uuid.UUID) map[int]int {
	t.Helper()
	q := make([]float32, 32)
	for i := range q {
		q[i] = 1
	}
	// A dense query of an exact store returns every point it filters to.
	hits, err := b.vectors.Query(context.Background(), b.tenant, search.Query{Mode: search.ModeDense, Dense: q, TopK: search.MaxTopK,
		Filter: search.Filter{DocumentIDs: []uuid.UUID{doc}}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]int{}
	for _, h := range hits {
		out[h.ContentVersion]++
	}
	return out
}

func (b *raceBundle) process(t *testing.T, d ingest.Document, version int) {
	t.Helper()
	if err := b.pipeline.Process(t.Context(), b.tenant, d.ID, version); err != nil {
		t.Fatal(err)
	}
}

func TestPipelineRaces(t *testing.T) {
	t.Parallel()

	t.Run("TenantRebuildKeepsANewVersion", func(t *testing.T) {
		t.Parallel()
		b := setupRace(t)
		first := b.create(t, "first.pdf", extracttest.ReportPDF())
		second := b.create(t, "second.md", []byte("# Introduction\n\nRetrieval documents for a tenant.\n\n# Methods\n\nData chunk by chunk."))
		b.process(t, first, 1)
		b.process(t, second, 1)
		// The rebuild lists both ready documents; after the first, the
		// second is reindexed and its new version indexed.
		_, err := b.pipeline.Rebuild(t.Context(), &b.tenant, func(done, _ int, _ ingest.RebuildStats) {
			if done != 1 {
				return
			}
			if _, err := b.store.Reindex(t.Context(), b.tenant, second.ID, ingest.ReindexOptions{}); err != nil {
				t.Error(err)
			}
			b.process(t, second, 2)
		})
		if err != nil {
			t.Fatal(err)
		}
		d, _ := b.store.Get(t.Context(), b.tenant, second.ID)
		got := b.points(t, second.ID)
		if d.Status != ingest.StatusReady || d.ChunkCount == nil || got[2] != *d.ChunkCount || len(got) != 1 {
			t.Fatalf("after the rebuild: %s with %v chunks, points by version %v; want all of version 2", d.Status, d.ChunkCount, got)
		}
	})

	t.Run("LateRunOfAnOldVersionKeepsTheNewOne", func(t *testing.T) {
		t.Parallel()
		b := setupRace(t)
		b.gate.version = 1
		d := b.create(t, "report.pdf", extracttest.ReportPDF())
		old := make(chan error, 1)
		go func() { old <- b.pipeline.Process(context.Background(), b.tenant, d.ID, 1) }()
		<-b.gate.entered // version 1 is about to write its points
		if _, err := b.store.Reindex(t.Context(), b.tenant, d.ID, ingest.ReindexOptions{}); err != nil {
			t.Fatal(err)
		}
		b.process(t, d, 2)
		close(b.gate.release)
		if err := <-old; err != nil {
			t.Fatal(err)
		}
		doc, _ := b.store.Get(t.Context(), b.tenant, d.ID)
		got := b.points(t, d.ID)
		if doc.Status != ingest.StatusReady || doc.ContentVersion != 2 || got[2] != *doc.ChunkCount || len(got) != 1 {
			t.Fatalf("%s at version %d with %v chunks; points by version %v; want exactly version 2's", doc.Status, doc.ContentVersion, doc.ChunkCount, got)
		}
	})

	t.Run("RunFinishingAfterADeleteLeavesNoPoints", func(t *testing.T) {
		t.Parallel()
		b := setupRace(t)
		b.gate.version = 1
		d := b.create(t, "report.pdf", extracttest.ReportPDF())
		run := make(chan error, 1)
		go func() { run <- b.pipeline.Process(context.Background(), b.tenant, d.ID, 1) }()
		<-b.gate.entered
		// The delete job's work: points, then rows.
		if _, err := b.store.Delete(t.Context(), b.tenant, d.ID); err != nil {
			t.Fatal(err)
		}
		if err := b.vectors.DeleteDocument(t.Context(), b.tenant, d.ID, search.AllVersions); err != nil {
			t.Fatal(err)
		}
		if err := b.store.Purge(t.Context(), b.tenant, d.ID); err != nil {
			t.Fatal(err)
		}
		close(b.gate.release)
		if err := <-run; err != nil {
			t.Fatal(err)
		}
		if n, _ := b.vectors.Count(t.Context(), b.tenant, search.Filter{DocumentIDs: []uuid.UUID{d.ID}}); n != 0 {
			t.Fatalf("%d points of a deleted document", n)
		}
	})

	t.Run("RedeliveredJobOfAReadyDocumentIsANoOp", func(t *testing.T) {
		t.Parallel()
		b := setupRace(t)
		d := b.create(t, "report.pdf", extracttest.ReportPDF())
		b.process(t, d, 1)
		before, _ := b.store.Get(t.Context(), b.tenant, d.ID)
		b.process(t, d, 1)
		after, _ := b.store.Get(t.Context(), b.tenant, d.ID)
		if !after.UpdatedAt.Equal(before.UpdatedAt) || *after.Timings.FinishedAt != *before.Timings.FinishedAt {
			t.Fatalf("the second delivery processed the document again: updated %s -> %s", before.UpdatedAt, after.UpdatedAt)
		}
	})
}

// TestPipelineStopsAtTheMonthlyTokenQuota: a document accepted while the
// tenant had tokens left is not embedded once they are used up; it fails
// with quota_exceeded and a date to reindex after.
func TestPipelineStopsAtTheMonthlyTokenQuota(t *testing.T) {
	t.Parallel()
	b := setupRace(t)
	d := b.create(t, "report.pdf", extracttest.ReportPDF())
	if err := b.store.AddUsage(t.Context(), b.tenant, 10, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := b.pool.Exec(t.Context(), "UPDATE tenants SET quota_embedding_tokens = 10 WHERE id = $1", b.tenant); err != nil {
		t.Fatal(err)
	}
	if err := b.pipeline.Process(t.Context(), b.tenant, d.ID, 1); err == nil {
		t.Fatal("a document over the quota was processed")
	}
	doc, _ := b.store.Get(t.Context(), b.tenant, d.ID)
	if doc.Status != ingest.StatusFailed || doc.Error == nil || doc.Error.Code != ingest.CodeQuotaExceeded {
		t.Fatalf("%s %+v, want failed with quota_exceeded", doc.Status, doc.Error)
	}
	if n, _ := b.vectors.Count(t.Context(), b.tenant, search.Filter{}); n != 0 {
		t.Fatalf("%d points written over the quota", n)
	}
}
