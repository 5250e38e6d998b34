package api_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/extract"
	"github.com/ragd/ragd/ingest"
	"github.com/ragd/ragd/jobs"
)

// TestFairIngestion: while one tenant has a thousand documents queued,
// another tenant's single small document becomes ready before that
// backlog is worked through, on the default two workers: at least 500 of
// the flood's documents are still waiting when it is ready. The time it
// took is logged (RELIABILITY.md quotes the figure with -v); it is not a
// pass mark, which a loaded machine under -race would move.
func TestFairIngestion(t *testing.T) {
	t.Parallel()
	b := setup(t)
	flood, _ := b.TenantWithKey("flood")
	_, small := b.TenantWithKey("small")
	floodID := uuid.MustParse(flood)

	// Start the extraction children first: a cold one takes seconds under
	// -race on a busy machine (5.9 s for the flood's first job once, while
	// the small document then took 91 ms), which is not what this test
	// measures. Two documents at once, for the two workers' children.
	_, warm := b.TenantWithKey("warm")
	w1 := b.Upload(warm, "", "w1.txt", []byte("Warming up the first extraction child.")).JSON(t)["id"].(string)
	w2 := b.Upload(warm, "", "w2.txt", []byte("Warming up the second extraction child.")).JSON(t)["id"].(string)
	b.WaitDocument(warm, w1)
	b.WaitDocument(warm, w2)

	// The flood goes in through the store (a thousand HTTP uploads would
	// only make the test slower), into the same queue. Its jobs are held
	// back until every document is in, then enqueued in one transaction:
	// inserting a thousand documents takes long enough on a loaded machine
	// for the workers to drain most of them first (554 of 1,000 once, and
	// 965 of 1,000 with two test runs at once), and the test would then
	// measure no flood at all.
	q, err := jobs.New(b.pool, jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	held := &heldJobs{Jobs: q}
	docs := ingest.NewDocuments(b.pool, agents.NewControlPlane(b.pool, nil, q), held)
	for i := range 1000 {
		_, err := docs.Create(context.Background(), floodID, ingest.Upload{
			Filename: fmt.Sprintf("flood-%d.txt", i), Type: extract.TypeText,
			Content: ingest.BytesContent(fmt.Appendf(nil, "Flood document %d: a small text, one of a thousand.", i)),
		}, ingest.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	err = pgx.BeginFunc(t.Context(), b.pool, func(tx pgx.Tx) error {
		for _, d := range held.docs {
			if err := q.EnqueueIngest(t.Context(), tx, d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	q.Enqueued(t.Context())
	var queued int
	if err := b.pool.QueryRow(t.Context(), "SELECT count(*) FROM documents WHERE tenant_id = $1 AND status IN ('queued', 'processing')", floodID).Scan(&queued); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := b.Upload(small, "", "one.txt", []byte("The small tenant's only document."))
	if r.Status != 202 {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	d := b.WaitDocument(small, r.JSON(t)["id"].(string))
	took := time.Since(start)
	var left int
	if err := b.pool.QueryRow(t.Context(), "SELECT count(*) FROM documents WHERE tenant_id = $1 AND status IN ('queued', 'processing')", floodID).Scan(&left); err != nil {
		t.Fatal(err)
	}
	t.Logf("the small tenant's document was %s in %s, behind %d of the flood's documents (%d still waiting then)", d["status"], took.Round(10*time.Millisecond), queued, left)
	if d["status"] != "ready" {
		t.Fatalf("the small tenant's document: %v after %s behind a flood of %d", d["status"], took, queued)
	}
	// A large backlog was ahead, and stayed: first come, first served
	// would have worked through it first.
	if queued < 500 || left < 500 {
		t.Fatalf("%d of the flood's documents waiting at the upload, %d after: the test did not measure a flood", queued, left)
	}
}

// heldJobs keeps the ingest jobs of the documents created with it, for the
// test to enqueue later, all at once.
type heldJobs struct {
	ingest.Jobs
	docs []ingest.Document
}

func (h *heldJobs) EnqueueIngest(_ context.Context, _ pgx.Tx, d ingest.Document) error {
	h.docs = append(h.docs, d)
	return nil
}

func (h *heldJobs) Enqueued(context.Context) {}
