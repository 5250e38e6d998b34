package api_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ragd/ragd/api/apitest"
	"github.com/ragd/ragd/extract"
	"github.com/ragd/ragd/extract/extracttest"
	"github.com/ragd/ragd/extract/sandbox"
	"github.com/ragd/ragd/ingest"
)

// TestFairExtraction: while tenant H's ten PDFs are being extracted,
// tenant B's one-line text is ready within 5 s of its upload, on the
// default two workers and two extraction slots: H holds at most its share
// of the slots (one) while B waits. Two runs: ten honest PDFs that are
// slow to read (dense drawings, each needing most of its processor-time
// budget: without the share, B waits until one of them ends), and ten
// tiny looping PDFs (found at once). The time B's document took is logged
// (RELIABILITY.md quotes it with -v).
//
// The pool keeps a third child warm: the share kills H's newest child to
// free its slot, and starting a child for B costs seconds under the race
// detector on a busy machine, which is not what this test measures
// (TestFairIngestion warms its children for the same reason).
func TestFairExtraction(t *testing.T) {
	t.Parallel()
	lim := ingest.Limits{Limits: extract.Limits{MaxTextBytes: 4 << 20, MaxUnzippedBytes: 8 << 20, Timeout: 5 * time.Minute}}
	pool := &sandbox.Pool{MaxChildren: 3, MaxIdle: 3}
	t.Cleanup(pool.Close)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			_, err := pool.Extract(t.Context(), extract.TypeText, sandbox.BytesOpener(fmt.Appendf(nil, "warm %d", i)), lim.WithDefaults().Limits)
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	pool.MaxChildren = 2 // the default on two cores; set before the server uses the pool
	b := setupWith(t, apitest.Options{Limits: lim, Sandbox: pool})

	run := func(t *testing.T, name string, files func(i int) []byte, holdsBoth bool) {
		h, hKey := b.TenantWithKey(name + "-h")
		_, bKey := b.TenantWithKey(name + "-b")
		for i := range 10 {
			if r := b.Upload(hKey, "", fmt.Sprintf("%s-%d.pdf", name, i), files(i)); r.Status != 202 {
				t.Fatalf("H's upload %d: %d %s", i, r.Status, r.Body)
			}
		}
		if holdsBoth {
			// B uploads once H's documents are in both slots.
			apitest.Eventually(t, "H's documents hold both extraction slots", func() bool { return pool.Slots().Held[h] == 2 })
		}
		start := time.Now()
		r := b.Upload(bKey, "", "one.txt", []byte("Tenant B's one-line document."))
		if r.Status != 202 {
			t.Fatalf("B's upload: %d %s", r.Status, r.Body)
		}
		d := b.WaitDocument(bKey, r.JSON(t)["id"].(string))
		took := time.Since(start)
		var hQueued, hProcessing, hDone int
		if err := b.pool.QueryRow(t.Context(), `SELECT count(*) FILTER (WHERE status = 'queued'), count(*) FILTER (WHERE status = 'processing'),
			count(*) FILTER (WHERE status IN ('ready', 'failed')) FROM documents WHERE tenant_id = $1`, h).Scan(&hQueued, &hProcessing, &hDone); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: B's document was %s %s after its upload; H's ten then: %d queued, %d processing, %d done; slots held %v",
			name, d["status"], took.Round(10*time.Millisecond), hQueued, hProcessing, hDone, pool.Slots().Held)
		if d["status"] != "ready" {
			t.Fatalf("B's document: %v %v", d["status"], d["error"])
		}
		if took > 5*time.Second {
			t.Errorf("B's document took %s behind H's ten, more than 5 s", took.Round(10*time.Millisecond))
		}
	}

	t.Run("LoopingPDFs", func(t *testing.T) {
		loops := []func() []byte{extracttest.PrevLoopPDF, extracttest.PrevMutualLoopPDF, extracttest.XRefStmLoopPDF,
			extracttest.KidsLoopPDF, extracttest.MutualKidsPDF, extracttest.SelfPagesPDF}
		run(t, "loops", func(i int) []byte {
			// Each a different file (the same bytes twice would be one document).
			return fmt.Appendf(loops[i%len(loops)](), "%% copy %d\n", i)
		}, false)
	})
	t.Run("SlowPDFs", func(t *testing.T) {
		run(t, "slow", func(i int) []byte { return extracttest.DrawingPDF(20_000_000 + i) }, true)
		// The job that gave way is snoozed (River records it after the
		// job returns, in a batch) without spending an attempt, and its
		// document is queued again; none failed for it.
		var snoozed, spent, notQueued, failedOther int
		apitest.Eventually(t, "a job of H's snoozed", func() bool {
			if err := b.pool.QueryRow(t.Context(), `SELECT count(*) FILTER (WHERE j.state IN ('scheduled', 'available') AND (j.metadata->>'snoozes')::int > 0),
				count(*) FILTER (WHERE j.state IN ('scheduled', 'available') AND (j.metadata->>'snoozes')::int > 0 AND j.attempt > 0),
				count(*) FILTER (WHERE j.state IN ('scheduled', 'available') AND (j.metadata->>'snoozes')::int > 0 AND d.status <> 'queued'),
				count(*) FILTER (WHERE d.status = 'failed' AND d.error_code <> 'too_complex')
				FROM river_job j JOIN documents d ON d.id = (j.args->>'document_id')::uuid
				WHERE j.kind = 'ingest_document' AND d.filename LIKE 'slow-%'`).Scan(&snoozed, &spent, &notQueued, &failedOther); err != nil {
				t.Fatal(err)
			}
			return snoozed > 0
		})
		if spent > 0 || notQueued > 0 || failedOther > 0 {
			t.Errorf("jobs that gave way: %d spent an attempt, %d documents not shown queued; %d documents failed other than too_complex", spent, notQueued, failedOther)
		}
	})
}
