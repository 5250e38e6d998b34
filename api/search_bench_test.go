package api_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/api"
	"github.com/ragd/ragd/embedder"
	"github.com/ragd/ragd/extract"
	"github.com/ragd/ragd/ingest"
	"github.com/ragd/ragd/jobs"
	"github.com/ragd/ragd/postgres/pgtest"
	"github.com/ragd/ragd/search"
	"github.com/ragd/ragd/secret"
)

// BenchmarkSearchEndpoint measures POST /v1/search (hybrid, top 8) on
// loopback with the local embedder at 1536 dimensions over n chunks in one
// tenant (500 one-chunk tenants beside it): latency p50 and p99 over
// sequential requests, throughput with two clients, and, in the same run,
// the vector store's own hybrid query latency for the same queries, so the
// API's overhead (HTTP, auth, embedding, document lookup, JSON) shows.
func BenchmarkSearchEndpoint(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) { benchSearch(b, n) })
	}
}

func benchSearch(b *testing.B, n int) {
	ctx := context.Background()
	const dims = 1536
	pool := pgtest.NewPool(b)
	box, _ := secret.NewBox(secret.NewKey())
	queue, err := jobs.New(pool, jobs.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	store := agents.NewControlPlane(pool, box, queue)
	tenant, err := store.CreateTenant(ctx, agents.TenantPatch{Name: ragd.Some("Bench")})
	if err != nil {
		b.Fatal(err)
	}
	_, key, err := store.CreateKey(ctx, tenant.ID, agents.KeyInput{})
	if err != nil {
		b.Fatal(err)
	}
	emb, _ := embedder.NewLocal(dims)
	vectors, err := search.OpenEmbedded(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer vectors.Close()
	if err := vectors.EnsureSchema(ctx, dims); err != nil {
		b.Fatal(err)
	}
	docs := ingest.NewDocuments(pool, store, queue)

	// 100 documents, marked indexed, whose chunks are n generated points.
	var docIDs []uuid.UUID
	for i := range 100 {
		c, err := docs.Create(ctx, tenant.ID, ingest.Upload{Title: fmt.Sprintf("Doc %d", i), Content: ingest.BytesContent(fmt.Appendf(nil, "doc %d", i)), Type: extract.TypeText}, ingest.CreateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		docIDs = append(docIDs, c.Document.ID)
	}
	if _, err := pool.Exec(ctx, "UPDATE documents SET status = 'ready', indexed_version = 1"); err != nil {
		b.Fatal(err)
	}
	vocab := strings.Fields("tenant document search vector index chunk embedding retrieval answer question policy report quarter revenue support ticket customer contract clause invoice payment refund shipping warranty account password security incident onboarding vacation")
	r := rand.New(rand.NewPCG(3, uint64(n)))
	text := func(words int) string {
		var sb strings.Builder
		for range words {
			sb.WriteString(vocab[r.IntN(len(vocab))] + " ")
		}
		return sb.String()
	}
	batch := make([]search.Point, 0, 500)
	for i := range n {
		t := text(40)
		v, _ := emb.Embed(ctx, tenant.ID, []string{t})
		doc := docIDs[i%len(docIDs)]
		batch = append(batch, search.Point{ID: uuid.New(), TenantID: tenant.ID, DocumentID: doc, ContentVersion: 1, Index: i / len(docIDs),
			Dense: v.Vectors[0], Sparse: search.DocumentSparse(t), Text: t, Tags: []string{}, Metadata: map[string]any{}})
		if len(batch) == cap(batch) || i == n-1 {
			if err := vectors.Upsert(ctx, tenant.ID, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	for range 500 {
		other := uuid.New()
		v, _ := emb.Embed(ctx, other, []string{"small tenant"})
		if err := vectors.Upsert(ctx, other, []search.Point{{ID: uuid.New(), TenantID: other, DocumentID: uuid.New(), ContentVersion: 1, Dense: v.Vectors[0], Sparse: search.DocumentSparse("small tenant")}}); err != nil {
			b.Fatal(err)
		}
	}

	srv := httptest.NewServer(api.NewHandler(api.Deps{
		Logger: slog.New(slog.DiscardHandler), ControlPlane: store, AdminToken: adminToken, Documents: docs,
		Searcher: search.NewSearcher(emb, vectors, docs, 1), // a cache of 1: every query is embedded
		Ready:    func(context.Context) map[string]error { return nil },
	}))
	defer srv.Close()
	client := srv.Client()
	queries := make([]string, 64)
	for i := range queries {
		queries[i] = text(6)
	}
	post := func(q string) time.Duration {
		body := fmt.Sprintf(`{"query": %q, "top_k": 8}`, q)
		req, _ := http.NewRequest("POST", srv.URL+"/v1/search", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("search: %v %v", resp, err)
		}
		resp.Body.Close()
		return time.Since(start)
	}
	storeQuery := func(q string) time.Duration {
		start := time.Now()
		v, _ := emb.Embed(ctx, tenant.ID, []string{q})
		if _, err := vectors.Query(ctx, tenant.ID, search.Query{Mode: search.ModeHybrid, Dense: v.Vectors[0], Sparse: search.QuerySparse(q), TopK: 8}); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	rounds := 64
	if n > 10_000 {
		rounds = 24
	}
	var api, st []time.Duration
	var rps float64
	for b.Loop() {
		api, st = api[:0], st[:0]
		for i := range rounds {
			st = append(st, storeQuery(queries[i%len(queries)]))
			api = append(api, post(queries[i%len(queries)]))
		}
		// Throughput: two clients, as many cores as the machine has.
		var wg sync.WaitGroup
		start := time.Now()
		for c := range 2 {
			wg.Go(func() {
				for i := range rounds / 2 {
					post(queries[(c*rounds/2+i)%len(queries)])
				}
			})
		}
		wg.Wait()
		rps = float64(rounds) / time.Since(start).Seconds()
	}
	p := func(d []time.Duration, q float64) float64 {
		s := slices.Clone(d)
		slices.Sort(s)
		return float64(s[int(q*float64(len(s)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(p(api, 0.5), "api-p50-ms")
	b.ReportMetric(p(api, 0.99), "api-p99-ms")
	b.ReportMetric(p(st, 0.5), "store-p50-ms")
	b.ReportMetric(p(st, 0.99), "store-p99-ms")
	b.ReportMetric(rps, "req/s")
	b.ReportMetric(0, "ns/op")
}
