package ingest_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ragd/ragd/chunker/chunkertest"
	"github.com/ragd/ragd/embedder"
	"github.com/ragd/ragd/embedder/openaitest"
	"github.com/ragd/ragd/extract"
	"github.com/ragd/ragd/ingest"
	"github.com/ragd/ragd/postgres/pgtest"
	"github.com/ragd/ragd/search"
	"github.com/ragd/ragd/usage"
)

// TestTokenQuotaHoldsWithConcurrentRuns: twenty documents of about 700
// tokens each, against a monthly quota of 3,000, worked by four workers at
// once. Each run reserves what its chunks will cost before it calls the
// provider, so the month's tokens end within the quota (they ended at
// 5,536 when each run only checked that some were left), the documents
// that did not fit fail quota_exceeded saying how many tokens they needed
// and how many were left, and no reservation is left behind.
func TestTokenQuotaHoldsWithConcurrentRuns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	tenant := newTenant(t, pool)
	st, p := billedStack(t, pool)
	const quota = 3000
	if _, err := pool.Exec(ctx, "UPDATE tenants SET quota_embedding_tokens = $2 WHERE id = $1", tenant.ID, quota); err != nil {
		t.Fatal(err)
	}
	var ids []uuid.UUID
	for i := range 20 {
		var b strings.Builder
		for j := range 120 {
			fmt.Fprintf(&b, "Document %d, sentence %d, says otters %d. ", i, j, i*1000+j)
		}
		c, err := st.docs.Create(ctx, tenant.ID, ingest.Upload{Filename: fmt.Sprintf("d%d.txt", i), Type: extract.TypeText,
			Content: ingest.BytesContent([]byte(b.String()))}, ingest.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.Document.ID)
	}
	work := make(chan uuid.UUID, len(ids))
	for _, id := range ids {
		work <- id
	}
	close(work)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for id := range work {
				if err := p.Process(ctx, tenant.ID, id, 1); err != nil {
					if _, ok := ingest.AsError(err); !ok {
						t.Errorf("document %s: %v", id, err)
					}
				}
			}
		})
	}
	wg.Wait()

	used, err := usage.MonthTokens(ctx, pool, tenant.ID, usage.MonthStart(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	ready, failed := 0, 0
	for _, id := range ids {
		d, err := st.docs.Get(ctx, tenant.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		switch d.Status {
		case ingest.StatusReady:
			ready++
		case ingest.StatusFailed:
			failed++
			if d.Error == nil || d.Error.Code != ingest.CodeQuotaExceeded || !strings.Contains(d.Error.Message, "needs about") {
				t.Errorf("document %s failed with %+v; want quota_exceeded saying what it needs", id, d.Error)
			}
		default:
			t.Errorf("document %s is %s", id, d.Status)
		}
	}
	var left int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM token_reservations WHERE tenant_id = $1", tenant.ID).Scan(&left); err != nil {
		t.Fatal(err)
	}
	t.Logf("quota %d: %d documents ready, %d failed quota_exceeded, %d tokens used", quota, ready, failed, used)
	if used > quota || ready == 0 || failed == 0 || left != 0 {
		t.Fatalf("quota %d: %d tokens used by %d ready documents (%d failed), %d reservations left", quota, used, ready, failed, left)
	}
}

// TestTokenReservationsOfCrashedRunsExpire: a reservation counts against
// the quota until it expires, so that a run that died after reserving
// does not hold the tenant's tokens for the rest of the month.
func TestTokenReservationsOfCrashedRunsExpire(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	tenant := newTenant(t, pool)
	st, p := billedStack(t, pool)
	if _, err := pool.Exec(ctx, "UPDATE tenants SET quota_embedding_tokens = 1000 WHERE id = $1", tenant.ID); err != nil {
		t.Fatal(err)
	}
	process := func(name string) ingest.Document {
		c, err := st.docs.Create(ctx, tenant.ID, ingest.Upload{Filename: name, Type: extract.TypeText,
			Content: ingest.BytesContent([]byte("A short note about " + name + " and the otters by the weir."))}, ingest.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Process(ctx, tenant.ID, c.Document.ID, 1); err != nil {
			if _, ok := ingest.AsError(err); !ok {
				t.Fatal(err)
			}
		}
		d, err := st.docs.Get(ctx, tenant.ID, c.Document.ID)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	// A crashed run's live reservation holds the quota...
	if _, err := pool.Exec(ctx, "INSERT INTO token_reservations (id, tenant_id, tokens, expires_at) VALUES ($1, $2, 995, now() + interval '10 minutes')",
		uuid.New(), tenant.ID); err != nil {
		t.Fatal(err)
	}
	if d := process("held.txt"); d.Status != ingest.StatusFailed || d.Error.Code != ingest.CodeQuotaExceeded || !strings.Contains(d.Error.Message, "995 promised") {
		t.Fatalf("with 995 of 1,000 tokens reserved: %s %+v", d.Status, d.Error)
	}
	// ... until it expires.
	if _, err := pool.Exec(ctx, "UPDATE token_reservations SET expires_at = now() - interval '1 second' WHERE tenant_id = $1", tenant.ID); err != nil {
		t.Fatal(err)
	}
	if d := process("freed.txt"); d.Status != ingest.StatusReady {
		t.Fatalf("after the reservation expired: %s %+v", d.Status, d.Error)
	}
}

// TestLocalEmbedderReservesNothing: the local embedder bills no tokens,
// so a tenant with a small token quota still indexes a long document
// with it.
func TestLocalEmbedderReservesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	tenant := newTenant(t, pool)
	local, _ := embedder.NewLocal(64)
	vectors, err := search.OpenEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st := newStack(t, pool, search.SingleIndex(local, vectors))
	p := st.pipeline(t, ingest.PipelineConfig{})
	if _, err := pool.Exec(ctx, "UPDATE tenants SET quota_embedding_tokens = 5 WHERE id = $1", tenant.ID); err != nil {
		t.Fatal(err)
	}
	c, err := st.docs.Create(ctx, tenant.ID, ingest.Upload{Filename: "long.txt", Type: extract.TypeText,
		Content: ingest.BytesContent([]byte(strings.Repeat("Otters live by the weir and eat fish. ", 50)))}, ingest.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Process(ctx, tenant.ID, c.Document.ID, 1); err != nil {
		t.Fatal(err)
	}
	if d, _ := st.docs.Get(ctx, tenant.ID, c.Document.ID); d.Status != ingest.StatusReady {
		t.Fatalf("a long document with the local embedder and a quota of 5 tokens: %s %+v", d.Status, d.Error)
	}
}

// billedStack is a pipeline that embeds through the OpenAI API double and
// the embedding cache, so that its documents bill tokens (one a word).
func billedStack(t *testing.T, pool *pgxpool.Pool) (*stack, *ingest.Pipeline) {
	t.Helper()
	fake := openaitest.Start(t, 64)
	oa, err := embedder.NewOpenAI(embedder.OpenAIConfig{APIKey: openaitest.Key, BaseURL: fake.URL, Dimensions: 64, Counter: chunkertest.CL100K(t)})
	if err != nil {
		t.Fatal(err)
	}
	vectors, err := search.OpenEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st := newStack(t, pool, search.SingleIndex(embedder.NewCached(oa, pool), vectors))
	return st, st.pipeline(t, ingest.PipelineConfig{})
}
