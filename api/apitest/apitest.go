// Package apitest starts a complete ragd API in process for tests of its
// clients (ragctl): real Postgres (a database per test), River workers,
// the local embedder and the embedded vector store.
package apitest

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/api"
	"github.com/ragd/ragd/chunker"
	"github.com/ragd/ragd/embedder"
	"github.com/ragd/ragd/ingest"
	"github.com/ragd/ragd/jobs"
	"github.com/ragd/ragd/postgres/pgtest"
	"github.com/ragd/ragd/search"
	"github.com/ragd/ragd/secret"
)

// AdminToken is the test server's admin token.
const AdminToken = "apitest-admin-token-0123456789"

// Server is a running test API.
type Server struct {
	URL   string
	Pool  *pgxpool.Pool
	Store *agents.Store
}

// Start runs the API until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	pool := pgtest.NewPool(t)
	box, err := secret.NewBox(secret.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	store := agents.NewStore(pool, box)
	docs := ingest.NewStore(pool)
	tok, err := chunker.NewCL100K()
	if err != nil {
		t.Fatal(err)
	}
	emb, _ := embedder.NewLocal(64)
	vectors, err := search.OpenEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vectors.Close() })
	pipeline, err := ingest.NewPipeline(docs, tok, ingest.PipelineConfig{Embedder: emb, Vectors: vectors}, log)
	if err != nil {
		t.Fatal(err)
	}
	queue, err := jobs.New(pool, jobs.Config{Workers: 2, Logger: log, Pipeline: pipeline, Store: docs, Vectors: vectors, FetchPollInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := queue.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = queue.Stop(ctx)
	})
	srv := httptest.NewServer(api.NewHandler(api.Deps{
		Logger: log, Store: store, AdminToken: AdminToken, Documents: docs, Queue: queue,
		Searcher: search.NewSearcher(emb, vectors, docs, 0),
		Ready:    func(context.Context) map[string]error { return nil },
	}))
	t.Cleanup(srv.Close)
	return &Server{URL: srv.URL, Pool: pool, Store: store}
}

// TenantKey creates a tenant and a key with every scope.
func (s *Server) TenantKey(t testing.TB, name string) (string, string) {
	t.Helper()
	tn, err := s.Store.CreateTenant(context.Background(), agents.TenantPatch{Name: ragd.Some(name)})
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := s.Store.CreateKey(context.Background(), tn.ID, agents.KeyInput{Scopes: agents.AllScopes})
	if err != nil {
		t.Fatal(err)
	}
	return tn.ID.String(), key
}
