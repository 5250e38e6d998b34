package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/api"
	"github.com/ragd/ragd/chunker"
	"github.com/ragd/ragd/embedder"
	"github.com/ragd/ragd/ingest"
	"github.com/ragd/ragd/jobs"
	"github.com/ragd/ragd/metrics"
	"github.com/ragd/ragd/postgres"
	"github.com/ragd/ragd/search"
	"github.com/ragd/ragd/secret"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `usage: ragd <command> [flags]

commands:
  serve     serve the HTTP API (migrates first unless RAGD_AUTO_MIGRATE=false)
  migrate   apply ragd's and River's schema migrations (idempotent)
  worker    run background jobs only (document ingestion), no HTTP API
  seed      create demo tenants and agents, print a key per new tenant (idempotent)
  reindex   rebuild the vector store from Postgres (--tenant ID for one tenant)
  version   print the version

Run 'ragd <command> -h' for the flags of a command; every flag has an
environment variable, and the flag wins.`

// run is the whole program; main only adds the process around it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprintln(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[1], args[2:]
	switch cmd {
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "ragd", buildVersion())
		return nil
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	case "serve", "worker", "migrate", "seed", "reindex":
	default:
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}

	cfg, err := loadConfig(cmd, rest, getenv, stderr)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)

	pool, err := postgres.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()

	switch cmd {
	case "migrate":
		res, err := postgres.Migrate(ctx, pool, log)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "migrated: %d ragd migrations and %d River migrations applied\n", len(res.Applied), res.RiverApplied)
		return nil
	case "seed":
		store, _, err := openStore(cfg, pool, log)
		if err != nil {
			return err
		}
		if err := seed(ctx, store, stdout); err != nil {
			return err
		}
		if cfg.AdminTokenValue == "" && !cfg.Production {
			// A development convenience: the token came from the data
			// directory, so whoever reads this can read it there anyway.
			token, err := cfg.adminToken(log)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "admin token: %s (kept in %s)\n", token, filepath.Join(cfg.DataDir, "admin-token"))
		}
		return nil
	case "reindex":
		return reindex(ctx, cfg, pool, log, stdout)
	default:
		return serve(ctx, cmd, cfg, pool, log)
	}
}

// reindex rebuilds the vector store from the chunks in Postgres: after a
// move from the embedded store to Qdrant, a new embedding model, or a
// lost vector directory. Documents stay searchable meanwhile.
func reindex(ctx context.Context, cfg config, pool *pgxpool.Pool, log *slog.Logger, stdout io.Writer) error {
	var tenant *uuid.UUID
	if cfg.ReindexTenant != "" {
		id, err := uuid.Parse(cfg.ReindexTenant)
		if err != nil {
			return fmt.Errorf("--tenant: not a tenant id: %q", cfg.ReindexTenant)
		}
		tenant = &id
	}
	// Rebuilding embeds stored chunks and extracts nothing: no passwords.
	pipeline, _, vectors, err := newIndexingPipeline(cfg, pool, newDocStore(cfg, pool, nil), log, nil)
	if err != nil {
		return err
	}
	defer vectors.Close()
	defer pipeline.Close()
	start := time.Now()
	st, err := pipeline.Rebuild(ctx, tenant, func(done, total int, st ingest.RebuildStats) {
		fmt.Fprintf(stdout, "reindex: %d/%d documents, %d chunks, %d embedding requests, %d cached\n", done, total, st.Chunks, st.EmbeddingRequests, st.CacheHits)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "reindexed %d documents (%d chunks) in %s\n", st.Documents, st.Chunks, time.Since(start).Round(time.Millisecond))
	return nil
}

// newIndexingPipeline builds the ingest pipeline on docs with its
// tokenizer, embedder and vector store; the caller closes the store.
func newIndexingPipeline(cfg config, pool *pgxpool.Pool, docs *ingest.Store, log *slog.Logger, m *metrics.Metrics) (*ingest.Pipeline, embedder.Embedder, search.Store, error) {
	tok, err := chunker.NewCL100K()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("tokenizer: %w", err)
	}
	emb, err := newEmbedder(cfg, tok, pool, log)
	if err != nil {
		return nil, nil, nil, err
	}
	vectors, err := openVectors(cfg, log)
	if err != nil {
		return nil, nil, nil, err
	}
	p, err := ingest.NewPipeline(docs, tok, ingest.PipelineConfig{
		Limits: ingest.Limits{MaxPages: cfg.MaxPages, MaxTextBytes: int(cfg.MaxTextBytes), Timeout: cfg.ExtractTimeout,
			Memory: cfg.ExtractMemory, CPU: cfg.ExtractCPU, MaxTokens: cfg.MaxDocumentTokens},
		Chunking: chunker.Options{MaxTokens: cfg.ChunkMaxTokens, OverlapTokens: cfg.ChunkOverlap},
		Embedder: emb,
		Vectors:  vectors,
		Metrics:  m,
	}, log)
	if err != nil {
		vectors.Close()
		return nil, nil, nil, err
	}
	return p, emb, vectors, nil
}

// newDocStore is the document store with the configured default quotas,
// sealing upload passwords with box (nil: uploads with one are refused).
func newDocStore(cfg config, pool *pgxpool.Pool, box *secret.Box) *ingest.Store {
	return ingest.NewStore(pool, ingest.WithDefaultQuotas(cfg.Quotas), ingest.WithPasswordBox(box))
}

// secretBox seals secrets at rest with RAGD_ENCRYPTION_KEY.
func secretBox(cfg config, log *slog.Logger) (*secret.Box, error) {
	key, err := cfg.encryptionKey(log)
	if err != nil {
		return nil, err
	}
	return secret.NewBox(key)
}

func openStore(cfg config, pool *pgxpool.Pool, log *slog.Logger) (*agents.Store, *secret.Box, error) {
	box, err := secretBox(cfg, log)
	if err != nil {
		return nil, nil, err
	}
	return agents.NewStore(pool, box), box, nil
}

// serve runs the HTTP API and the workers (serve), or the workers alone
// (worker), until ctx is cancelled; then it stops accepting requests,
// lets in-flight requests and running jobs finish within the grace period,
// and returns.
func serve(ctx context.Context, cmd string, cfg config, pool *pgxpool.Pool, log *slog.Logger) error {
	if cfg.AutoMigrate && cmd == "serve" {
		if _, err := postgres.Migrate(ctx, pool, log); err != nil {
			return err
		}
	}
	store, box, err := openStore(cfg, pool, log)
	if err != nil {
		return err
	}
	// One document store for the API and the workers: uploads seal
	// passwords with the key the ingest jobs open them with.
	docs := newDocStore(cfg, pool, box)
	qcfg := jobs.Config{Workers: cfg.Workers, Logger: log, Store: docs}
	// The API searches and the workers index: both need the embedder and
	// the vector store (the embedded one serves one process).
	m := metrics.New(pool, log)
	pipeline, emb, vectors, err := newIndexingPipeline(cfg, pool, docs, log, m)
	if err != nil {
		return err
	}
	defer vectors.Close()
	defer pipeline.Close()
	if cfg.Workers > 0 {
		qcfg.Pipeline, qcfg.Vectors = pipeline, vectors
	}
	queue, err := jobs.New(pool, qcfg)
	if err != nil {
		return err
	}
	// Not ctx: cancelling Start's context hard-stops River; stopQueue stops it softly.
	if err := queue.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start workers: %w", err)
	}
	stopQueue := func() error {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
		defer cancel()
		log.Info("stopping workers: letting running jobs finish", "grace", cfg.ShutdownTimeout.String())
		return queue.Stop(stopCtx)
	}
	if cmd == "worker" {
		log.Info("ragd worker running", "workers", cfg.Workers, "version", buildVersion())
		<-ctx.Done()
		if err := stopQueue(); err != nil {
			return fmt.Errorf("stop workers: %w", err)
		}
		log.Info("stopped")
		return nil
	}

	adminToken, err := cfg.adminToken(log)
	if err != nil {
		return err
	}
	dashboard, err := queue.Dashboard(ctx, "/jobs", log)
	if err != nil {
		_ = stopQueue()
		return err
	}
	handler := api.NewHandler(api.Deps{
		JobsUI:                 dashboard,
		Metrics:                m,
		Logger:                 log,
		Store:                  store,
		AdminToken:             adminToken,
		Documents:              docs,
		Queue:                  queue,
		Searcher:               search.NewSearcher(emb, vectors, docs, 0),
		MaxUploadBytes:         cfg.MaxUploadBytes,
		MaxInflightUploadBytes: cfg.MaxInflightUploadBytes,
		UploadSpoolDir:         cfg.UploadSpoolDir,
		Ready: func(ctx context.Context) map[string]error {
			_, err := vectors.Count(ctx, uuid.Nil, search.Filter{})
			return map[string]error{"postgres": pool.Ping(ctx), "vectors": err}
		},
	})
	srv := &http.Server{
		Addr:              cfg.Addr,
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		_ = stopQueue()
		return fmt.Errorf("RAGD_ADDR: %w", err)
	}
	log.Info("ragd serving", "addr", ln.Addr().String(), "workers", cfg.Workers, "version", buildVersion())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		_ = stopQueue()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests", "grace", cfg.ShutdownTimeout.String())
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	httpErr := srv.Shutdown(shutCtx)
	if httpErr != nil {
		_ = srv.Close()
	}
	queueErr := stopQueue()
	if err := errors.Join(httpErr, queueErr); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// openVectors opens Qdrant when QDRANT_URL is set, else the embedded store.
func openVectors(cfg config, log *slog.Logger) (search.Store, error) {
	if cfg.QdrantURL != "" {
		log.Info("vector store: Qdrant", "url", cfg.QdrantURL, "collection", cfg.QdrantCollection)
		return search.OpenQdrant(search.QdrantConfig{URL: cfg.QdrantURL, APIKey: cfg.QdrantAPIKey, Collection: cfg.QdrantCollection})
	}
	dir := filepath.Join(cfg.DataDir, "vectors")
	log.Info("vector store: embedded (set QDRANT_URL to use Qdrant)", "dir", dir)
	return search.OpenEmbedded(dir)
}

// newEmbedder returns the OpenAI-compatible embedder (with the Postgres
// cache) when an API key or base URL is configured, else the local one.
func newEmbedder(cfg config, tok *chunker.BPE, pool *pgxpool.Pool, log *slog.Logger) (embedder.Embedder, error) {
	if cfg.OpenAIKey == "" && cfg.OpenAIBaseURL == "" {
		log.Warn("no embedding model configured: using the local hashing embedder, so retrieval is lexical until OPENAI_API_KEY or OPENAI_BASE_URL is set",
			"dimensions", cfg.EmbeddingDimensions)
		return embedder.NewLocal(cfg.EmbeddingDimensions)
	}
	e, err := embedder.NewOpenAI(embedder.OpenAIConfig{
		APIKey: cfg.OpenAIKey, BaseURL: cfg.OpenAIBaseURL, Model: cfg.EmbeddingModel, Dimensions: cfg.EmbeddingDimensions,
		MaxBatchTokens: cfg.EmbeddingBatchTokens, Concurrency: cfg.EmbeddingConcurrency, Timeout: cfg.EmbeddingTimeout,
		Counter: tok,
	})
	if err != nil {
		return nil, err
	}
	log.Info("embedding with an OpenAI-compatible API", "model", cfg.EmbeddingModel, "dimensions", cfg.EmbeddingDimensions, "base_url", cmpOr(cfg.OpenAIBaseURL, "https://api.openai.com/v1"))
	return embedder.NewCached(e, pool), nil
}

func buildVersion() string {
	if version != "dev" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
	}
	return version
}

func newLogger(cfg config, stderr io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	format := cfg.LogFormat
	if format == "" {
		format = "json"
		if f, ok := stderr.(*os.File); ok && !cfg.Production {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				format = "text"
			}
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(stderr, opts))
}
