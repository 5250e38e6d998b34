// Package apitest starts a complete ragd API in process for tests of the
// API and of its clients (ragctl), wired by package server exactly as
// `ragd serve` is: real Postgres (a database per test), two River workers,
// the local embedder (or the OpenAI API double behind the Postgres
// embedding cache), the embedded vector store, metrics and the job
// dashboard.
package apitest

import (
	"cmp"
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/chunker/chunkertest"
	"github.com/ragd/ragd/console"
	"github.com/ragd/ragd/embedder"
	"github.com/ragd/ragd/embedder/openaitest"
	"github.com/ragd/ragd/extract/sandbox"
	"github.com/ragd/ragd/extract/sandbox/sandboxtest"
	"github.com/ragd/ragd/ingest"
	"github.com/ragd/ragd/oidcauth"
	"github.com/ragd/ragd/postgres/pgtest"
	"github.com/ragd/ragd/search"
	"github.com/ragd/ragd/secret"
	"github.com/ragd/ragd/server"
	"github.com/ragd/ragd/sources"
	"github.com/ragd/ragd/webhooks"
)

// AdminToken is the test server's admin token.
const AdminToken = "apitest-admin-token-0123456789"

// Options change the server; zero values take the defaults.
type Options struct {
	Logger *slog.Logger
	Limits ingest.Limits
	// OCRLanguages are the languages an upload's ocr_languages may name
	// (ragd serve asks tesseract; nil: any).
	OCRLanguages   []string
	MaxUploadBytes int64
	// OpenAI embeds with an OpenAI API double (Server.OpenAI) through the
	// Postgres embedding cache, as ragd serve does with a real provider,
	// instead of the local embedder: embedding tokens are then counted.
	OpenAI bool
	// Sandbox runs the extractors (default: the test binary's shared pool,
	// sandboxtest.Pool, whose children are this test binary).
	Sandbox *sandbox.Pool
	// MaxInflightUploadBytes is the upload budget; UploadSpoolDir is where
	// uploads are spooled (empty: os.TempDir()).
	MaxInflightUploadBytes int64
	UploadSpoolDir         string
	// UploadMinRate and UploadGrace are the floor of an upload body's
	// send rate (zero: the API's defaults; a negative rate: none).
	UploadMinRate int64
	UploadGrace   time.Duration
	// OIDC accepts the identity provider's bearer tokens; ConsoleOIDC signs
	// in to the console with it (both nil: API keys only).
	OIDC        *oidcauth.Verifier
	ConsoleOIDC *console.OIDC
	// Webhooks is how webhooks are sent; its zero value refuses loopback
	// receivers, so tests with an httptest receiver allow private
	// addresses explicitly.
	Webhooks webhooks.Config
	// Sources is how website sources are fetched; its zero value refuses
	// loopback sites, so tests with an httptest site allow private
	// addresses explicitly.
	Sources sources.Config
	// OfferedSpaces are the embedding spaces tenants may migrate to
	// themselves (RAGD_EMBEDDING_MODELS).
	OfferedSpaces []search.Space
	// ConfigurePool changes the server's pool before it opens (a test
	// that watches the server's queries gives it a tracer).
	ConfigurePool func(*pgxpool.Config)
	// MetricsToken guards /metrics (RAGD_METRICS_TOKEN; empty: open).
	MetricsToken string
}

// Server is a running test API.
type Server struct {
	URL           string
	Pool          *pgxpool.Pool
	ControlPlane  *agents.ControlPlane
	Vectors       *search.Embedded
	EncryptionKey []byte
	// OpenAI is the embeddings API double, with Options.OpenAI.
	OpenAI *openaitest.Server
	// Indexes holds the index of each embedding space: the default one
	// (Vectors) and those tenants migrate to, each opened on first use
	// with an embedder of the same provider (the API double's model, or
	// the local embedder at another size) and an embedded store of its own.
	Indexes *search.Indexes
	// Sources keeps and crawls website sources (tests start scheduled
	// runs with it, rather than wait for the periodic job).
	Sources *sources.Service
}

// Start runs the API until the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pool := pgtest.NewServerPool(t, o.ConfigurePool)
	key := secret.NewKey()
	box, err := secret.NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	tok := chunkertest.CL100K(t)
	var emb embedder.Embedder
	emb, _ = embedder.NewLocal(64)
	var fake *openaitest.Server
	if o.OpenAI {
		fake = openaitest.Start(t, 64)
		oa, err := embedder.NewOpenAI(embedder.OpenAIConfig{APIKey: openaitest.Key, BaseURL: fake.URL, Dimensions: 64, Counter: tok})
		if err != nil {
			t.Fatal(err)
		}
		emb = embedder.NewCached(oa, pool)
	}
	vectors, err := search.OpenEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vectors.Close() })
	var openai *embedder.OpenAIConfig
	if fake != nil {
		openai = &embedder.OpenAIConfig{APIKey: openaitest.Key, BaseURL: fake.URL, Counter: tok}
	}
	open := server.SpaceOpener(openai, pool, func(search.Space) (search.VectorStore, error) { return search.OpenEmbedded(t.TempDir()) })
	// ragd serve's own wiring, with the test's embedder, store and limits.
	s, err := server.New(t.Context(), server.Config{
		Pool: pool, Logger: log, Box: box, AdminToken: AdminToken, MetricsToken: o.MetricsToken,
		Tokenizer: tok, Embedder: emb, Vectors: vectors, OpenSpace: open, OfferedSpaces: o.OfferedSpaces,
		Limits: o.Limits, OCRLanguages: o.OCRLanguages, Sandbox: cmp.Or(o.Sandbox, sandboxtest.Pool()),
		Workers: 2, FetchPollInterval: 100 * time.Millisecond,
		API:            true,
		MaxUploadBytes: o.MaxUploadBytes, MaxInflightUploadBytes: o.MaxInflightUploadBytes, UploadSpoolDir: o.UploadSpoolDir,
		UploadMinRate: o.UploadMinRate, UploadGrace: o.UploadGrace,
		OIDC: o.OIDC, ConsoleOIDC: o.ConsoleOIDC, Webhooks: o.Webhooks, Sources: o.Sources,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	select { // events streams rely on it: start the tests with it listening
	case <-s.Watcher.Listening():
	case <-time.After(30 * time.Second):
		t.Fatal("the document watcher did not start listening")
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	srv := httptest.NewServer(s.Handler)
	t.Cleanup(srv.Close)
	store := s.Agents
	return &Server{URL: srv.URL, Pool: pool, ControlPlane: store, Vectors: vectors, EncryptionKey: key, OpenAI: fake, Indexes: s.Indexes, Sources: s.Sources}
}

// TenantKey creates a tenant and a key with every scope.
func (s *Server) TenantKey(t testing.TB, name string) (string, string) {
	t.Helper()
	tn, err := s.ControlPlane.CreateTenant(context.Background(), agents.TenantPatch{Name: ragd.Some(name)})
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := s.ControlPlane.CreateKey(context.Background(), tn.ID, agents.KeyInput{Scopes: agents.AllScopes})
	if err != nil {
		t.Fatal(err)
	}
	return tn.ID.String(), key
}
