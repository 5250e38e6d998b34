package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/chunker"
	"github.com/ragd/ragd/console"
	"github.com/ragd/ragd/embedder"
	"github.com/ragd/ragd/extract"
	"github.com/ragd/ragd/ingest"
	"github.com/ragd/ragd/oidcauth"
	"github.com/ragd/ragd/postgres"
	"github.com/ragd/ragd/search"
	"github.com/ragd/ragd/secret"
	"github.com/ragd/ragd/server"
	"github.com/ragd/ragd/webhooks"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `usage: ragd <command> [flags]

commands:
  serve     serve the HTTP API (migrates first unless RAGD_AUTO_MIGRATE=false)
  migrate   apply ragd's and River's schema migrations (idempotent)
  worker    run background jobs only (document ingestion), no HTTP API; needs QDRANT_URL
  seed      create demo tenants and agents, print a key per new tenant (idempotent)
  reindex   rebuild the vector store from Postgres (--tenant ID for one tenant)
  reseal    seal again with RAGD_ENCRYPTION_KEY what RAGD_ENCRYPTION_KEY_PREVIOUS sealed (--dry-run)
  dev-idp   serve an identity provider for trying sign-in locally (never in production)
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
	case "dev-idp":
		return devIdP(ctx, rest, getenv, stdout, stderr)
	case "serve", "worker", "migrate", "seed", "reindex", "reseal":
	default:
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}

	cfg, err := loadConfig(cmd, rest, getenv, stderr)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)

	pool, err := postgres.OpenSized(ctx, cfg.DatabaseURL, poolSize(cfg.Workers))
	if err != nil {
		return err
	}
	defer pool.Close()

	switch {
	case cmd == "migrate":
		res, err := postgres.MigrateSchema(ctx, pool, log)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "migrated: %d ragd migrations and %d River migrations applied\n", len(res.Applied), res.RiverApplied)
		return nil
	case cmd == "serve" && cfg.AutoMigrate:
		if _, err := postgres.MigrateSchema(ctx, pool, log); err != nil {
			return err
		}
	default:
		// A command that does not migrate runs only on the schema it was
		// built for: on an older one its queries would fail in the middle
		// of work, on a newer one they could miss what a newer ragd writes.
		if err := postgres.CheckSchema(ctx, pool, log); err != nil {
			return err
		}
	}

	switch cmd {
	case "seed":
		store, err := openStore(cfg, pool, log)
		if err != nil {
			return err
		}
		var keys demoKeys
		if !cfg.Production {
			// As the admin token: local state, for a second make run.
			keys = keyFile(filepath.Join(cfg.DataDir, "demo-keys"))
		}
		if err := seed(ctx, store, stdout, keys); err != nil {
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
	case "reseal":
		return reseal(ctx, cfg, pool, log, stdout)
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
	srv, vectors, err := newServer(ctx, cfg, pool, log, false, 0)
	if errors.Is(err, search.ErrInUse) {
		return fmt.Errorf("RAGD_DATA_DIR: the embedded vector store in %s is open in a running ragd; stop it and reindex again, or let it rebuild a tenant with POST /v1/tenants/{id}/reindex (with Qdrant, reindex runs beside serve)",
			filepath.Join(cfg.DataDir, "vectors"))
	}
	if err != nil {
		return err
	}
	defer vectors.Close()
	defer srv.Pipeline.Close()
	start := time.Now()
	st, err := srv.Pipeline.Rebuild(ctx, tenant, func(done, total int, st ingest.RebuildStats) {
		fmt.Fprintf(stdout, "reindex: %d/%d documents, %d chunks, %d embedding requests, %d cached\n", done, total, st.Chunks, st.EmbeddingRequests, st.CacheHits)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "reindexed %d documents (%d chunks) in %s\n", st.Documents, st.Chunks, time.Since(start).Round(time.Millisecond))
	return nil
}

// newServer assembles ragd (package server) from the configuration, with
// the HTTP API when withAPI and workers jobs at once; the caller closes
// the vector store after stopping the server.
func newServer(ctx context.Context, cfg config, pool *pgxpool.Pool, log *slog.Logger, withAPI bool, workers int) (*server.Server, search.VectorStore, error) {
	// The API seals agents' secrets and upload passwords, and the workers
	// open the passwords of protected PDFs: both need the encryption key.
	// Only the API checks the admin token. serve takes both before it
	// starts a job; reindex extracts nothing and needs neither.
	var box *secret.Box
	var adminToken string
	var err error
	if withAPI || workers > 0 {
		if box, err = openBox(cfg, log); err != nil {
			return nil, nil, err
		}
	}
	if withAPI {
		warnSealed(ctx, pool, box, log)
	}
	if withAPI {
		if adminToken, err = cfg.adminToken(log); err != nil {
			return nil, nil, err
		}
	}
	tok, err := chunker.NewCL100K()
	if err != nil {
		return nil, nil, fmt.Errorf("tokenizer: %w", err)
	}
	emb, err := newEmbedder(cfg, tok, pool, log)
	if err != nil {
		return nil, nil, err
	}
	vectors, err := openVectors(cfg, log)
	if err != nil {
		return nil, nil, err
	}
	var verifier *oidcauth.Verifier
	var consoleOIDC *console.OIDC
	if withAPI && cfg.OIDCEnabled {
		// New does not fail when the issuer is down: discovery is retried.
		if verifier, err = oidcauth.New(ctx, cfg.OIDC); err != nil {
			vectors.Close()
			return nil, nil, fmt.Errorf("oidc: %w", err)
		}
		log.Info("bearer tokens of the identity provider accepted", "issuer", cfg.OIDC.Issuer, "audience", cfg.OIDC.Audience,
			"authorized_parties", cfg.OIDC.AuthorizedParties)
		if cfg.OIDC.Audience == "" && len(cfg.OIDC.AuthorizedParties) == 0 {
			log.Warn("RAGD_OIDC_AUDIENCE and RAGD_OIDC_AUTHORIZED_PARTIES are both unset: a token the issuer gave any of its clients is accepted; set one unless the issuer serves ragd alone")
		}
		if cfg.ConsoleClientID != "" {
			consoleOIDC = &console.OIDC{Name: cfg.ConsoleProviderName, Issuer: cfg.OIDC.Issuer, ClientID: cfg.ConsoleClientID,
				ClientSecret: cfg.ConsoleClientSecret, RedirectURL: cfg.ConsoleRedirectURL}
		}
	}
	srv, err := server.New(ctx, server.Config{
		OIDC: verifier, ConsoleOIDC: consoleOIDC,
		Pool: pool, Logger: log, Box: box, AdminToken: adminToken, MetricsToken: cfg.MetricsToken,
		Tokenizer: tok, Embedder: emb, Vectors: vectors,
		OpenSpace: spaceOpener(cfg, tok, pool, log), EmbeddingPrices: cfg.EmbeddingPrices, OfferedSpaces: cfg.EmbeddingModels,
		Limits: ingest.Limits{Limits: extract.Limits{MaxPages: cfg.MaxPages, MaxTextBytes: int(cfg.MaxTextBytes), Timeout: cfg.ExtractTimeout,
			Memory: cfg.ExtractMemory, CPU: cfg.ExtractCPU, CPUBase: cfg.ExtractCPUBase, CPUPerMiB: cfg.ExtractCPUPerMiB,
			Tesseract: cfg.OCR.Tesseract, Pdftoppm: cfg.OCR.Pdftoppm, OCRLanguages: cfg.OCRLanguages, OCRTimeout: cfg.ExtractOCRTimeout},
			MaxTokens: cfg.MaxDocumentTokens},
		OCRLanguages:       cfg.OCRInstalled,
		Chunking:           chunker.Options{MaxTokens: cfg.ChunkMaxTokens, OverlapTokens: cfg.ChunkOverlap},
		Quotas:             cfg.Quotas,
		Workers:            workers,
		ExtractConcurrency: cfg.ExtractConcurrency,
		API:                withAPI,
		MaxUploadBytes:     cfg.MaxUploadBytes, MaxInflightUploadBytes: cfg.MaxInflightUploadBytes, UploadSpoolDir: cfg.UploadSpoolDir,
		UploadMinRate: cfg.UploadMinRate, UploadGrace: cfg.UploadGrace,
		Webhooks: webhooks.Config{AllowPrivate: cfg.WebhookAllowPrivate, RequireHTTPS: cfg.Production},
		Sources:  cfg.Sources,
	})
	if err != nil {
		vectors.Close()
		return nil, nil, err
	}
	return srv, vectors, nil
}

// openStore opens the control plane with the configured encryption key,
// for seed, which deletes no tenant (and so queues no job).
func openStore(cfg config, pool *pgxpool.Pool, log *slog.Logger) (*agents.ControlPlane, error) {
	box, err := openBox(cfg, log)
	if err != nil {
		return nil, err
	}
	return agents.NewControlPlane(pool, box, nil), nil
}

// openBox seals agents' secrets, upload passwords and webhook signing
// secrets with the configured key, and opens them with it or a previous
// one. It logs the keys' ids, so that an operator can tell which key a
// process has without seeing it.
func openBox(cfg config, log *slog.Logger) (*secret.Box, error) {
	key, err := cfg.encryptionKey(log)
	if err != nil {
		return nil, err
	}
	box, err := secret.NewBox(key, cfg.PreviousEncryptionKeys...)
	if err != nil {
		return nil, fmt.Errorf("RAGD_ENCRYPTION_KEY_PREVIOUS: %w", err)
	}
	prev := make([]string, len(cfg.PreviousEncryptionKeys))
	for i, k := range cfg.PreviousEncryptionKeys {
		prev[i] = secret.KeyID(k)
	}
	log.Info("encryption key", "id", secret.KeyID(key), "previous", prev)
	return box, nil
}

// sealedColumns are every column of values sealed with the encryption key.
var sealedColumns = []postgres.SealedColumn{agents.SealedSecrets, webhooks.SealedSecrets, ingest.SealedPasswords}

// warnSealed logs what a start should know of the sealed values: those no
// configured key opens (their agents read with secrets_unreadable, their
// webhooks fail to sign, their PDFs fail) and those still sealed with a
// previous key or in the format before key ids (ragd reseal).
func warnSealed(ctx context.Context, pool *pgxpool.Pool, box *secret.Box, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := postgres.Reseal(ctx, pool, box, true, sealedColumns...)
	if err != nil {
		log.Warn("could not check the sealed values against the encryption keys", "err", err)
		return
	}
	for _, r := range res {
		if r.Unreadable > 0 {
			log.Warn("sealed values that no configured key opens: was RAGD_ENCRYPTION_KEY changed? Give the old key in RAGD_ENCRYPTION_KEY_PREVIOUS, then run `ragd reseal`",
				"what", r.What, "count", r.Unreadable, "first", r.Rows)
		}
		if r.Resealed > 0 {
			log.Info("sealed values not yet under the current encryption key: `ragd reseal` seals them with it", "what", r.What, "count", r.Resealed)
		}
	}
}

// reseal seals again with the current key every value another key sealed
// (after a rotation: RAGD_ENCRYPTION_KEY the new key,
// RAGD_ENCRYPTION_KEY_PREVIOUS the old one), and fails, naming them, when
// some are sealed with a key it was not given.
func reseal(ctx context.Context, cfg config, pool *pgxpool.Pool, log *slog.Logger, stdout io.Writer) error {
	box, err := openBox(cfg, log)
	if err != nil {
		return err
	}
	res, err := postgres.Reseal(ctx, pool, box, cfg.ResealDryRun, sealedColumns...)
	if err != nil {
		return err
	}
	unreadable, changed := 0, 0
	for _, r := range res {
		fmt.Fprintln(stdout, "reseal:", r)
		unreadable += r.Unreadable
		changed += r.Changed
	}
	if cfg.ResealDryRun {
		fmt.Fprintln(stdout, "reseal: a dry run: nothing was written")
	}
	if changed > 0 {
		return fmt.Errorf("%d values changed each time they were about to be sealed again: run ragd reseal again; keep RAGD_ENCRYPTION_KEY_PREVIOUS until it ends without an error", changed)
	}
	if unreadable > 0 {
		return fmt.Errorf("%d sealed values open with neither RAGD_ENCRYPTION_KEY nor RAGD_ENCRYPTION_KEY_PREVIOUS: add the key that sealed them to RAGD_ENCRYPTION_KEY_PREVIOUS, or have their owners enter them again (an agent's secrets on PATCH, a webhook endpoint by a new endpoint in its place, a PDF by reindexing it with its password)", unreadable)
	}
	return nil
}

// serve runs the HTTP API and the workers (serve), or the workers alone
// (worker), until ctx is cancelled; then it stops accepting requests,
// lets in-flight requests and running jobs finish within the grace period,
// and returns.
func serve(ctx context.Context, cmd string, cfg config, pool *pgxpool.Pool, log *slog.Logger) error {
	// The API searches and the workers index: both need the embedder and
	// the vector store (the embedded one serves one process).
	srv, vectors, err := newServer(ctx, cfg, pool, log, cmd == "serve", cfg.Workers)
	if err != nil {
		return err
	}
	defer vectors.Close()
	if cfg.DebugAddr != "" {
		stop, err := serveDebug(cfg.DebugAddr, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	if err := srv.Start(ctx); err != nil {
		srv.Pipeline.Close()
		return err
	}
	stopQueue := func() error {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
		defer cancel()
		log.Info("stopping workers: letting running jobs finish", "grace", cfg.ShutdownTimeout.String())
		return srv.Stop(stopCtx)
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

	httpSrv := &http.Server{
		Addr:              cfg.Addr,
		Handler:           srv.Handler,
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
	go func() { errc <- httpSrv.Serve(ln) }()
	select {
	case err := <-errc:
		_ = stopQueue()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests", "grace", cfg.ShutdownTimeout.String())
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	httpErr := httpSrv.Shutdown(shutCtx)
	if httpErr != nil {
		_ = httpSrv.Close()
	}
	queueErr := stopQueue()
	if err := errors.Join(httpErr, queueErr); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// serveDebug answers Go's profiling endpoints on addr until stop is called.
func serveDebug(addr string, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("RAGD_DEBUG_ADDR: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info("profiling endpoints", "addr", ln.Addr().String())
	return func() { _ = srv.Close() }, nil
}

// openVectors opens Qdrant when QDRANT_URL is set, else the embedded store
// (an error wrapping search.ErrInUse when another process has it open).
func openVectors(cfg config, log *slog.Logger) (search.VectorStore, error) {
	if cfg.QdrantURL != "" {
		log.Info("vector store: Qdrant", "url", cfg.QdrantURL, "collection", cfg.QdrantCollection)
		return search.OpenQdrant(search.QdrantConfig{URL: cfg.QdrantURL, APIKey: cfg.QdrantAPIKey, Collection: cfg.QdrantCollection})
	}
	dir := filepath.Join(cfg.DataDir, "vectors")
	log.Info("vector store: embedded (set QDRANT_URL to use Qdrant)", "dir", dir)
	s, err := search.OpenEmbedded(dir)
	if errors.Is(err, search.ErrInUse) {
		return nil, fmt.Errorf("RAGD_DATA_DIR: the embedded vector store in %s is %w, and it serves one: stop that ragd, or set QDRANT_URL so that several processes share Qdrant", dir, search.ErrInUse)
	}
	if err == nil {
		watchEmbedded(s, dir, log)
	}
	return s, err
}

// watchEmbedded logs why an embedded store did not use its checkpoint,
// and, when the check of the checkpoint's vectors that runs after the
// open finds damage, that too.
func watchEmbedded(s *search.Embedded, dir string, log *slog.Logger) {
	if cerr := s.CheckpointError(); cerr != nil {
		log.Warn("vector store: the checkpoint was not used; the whole log was replayed, the graphs are rebuilt in the background and dense queries scan until then", "dir", dir, "err", cerr)
		return
	}
	go func() {
		if s.WaitChecked(context.Background()) == nil {
			return
		}
		if cerr := s.CheckpointError(); cerr != nil { // not set when Close stopped the check
			log.Error("vector store: the checkpoint's vectors are damaged; it was removed, and the next start replays the log (restart soon: until then no checkpoint is saved)", "dir", dir, "err", cerr)
		}
	}()
}

// spaceOpener opens the index of an embedding space a tenant migrates to:
// an embedder of the same provider for that model and size, and a store of
// its own (a Qdrant collection named for the space beside the default one,
// or a directory beside DataDir/vectors).
func spaceOpener(cfg config, tok *chunker.BPE, pool *pgxpool.Pool, log *slog.Logger) search.OpenFunc {
	var openai *embedder.OpenAIConfig
	if cfg.OpenAIKey != "" || cfg.OpenAIBaseURL != "" {
		openai = &embedder.OpenAIConfig{APIKey: cfg.OpenAIKey, BaseURL: cfg.OpenAIBaseURL,
			MaxBatchTokens: cfg.EmbeddingBatchTokens, Concurrency: cfg.EmbeddingConcurrency, Timeout: cfg.EmbeddingTimeout, Counter: tok}
	}
	return server.SpaceOpener(openai, pool, func(sp search.Space) (search.VectorStore, error) {
		if cfg.QdrantURL != "" {
			collection := cfg.QdrantCollection + "__" + sp.Slug()
			log.Info("embedding space opened: Qdrant", "space", sp.String(), "collection", collection)
			return search.OpenQdrant(search.QdrantConfig{URL: cfg.QdrantURL, APIKey: cfg.QdrantAPIKey, Collection: collection})
		}
		dir := filepath.Join(cfg.DataDir, "vectors-"+sp.Slug())
		log.Info("embedding space opened: embedded store", "space", sp.String(), "dir", dir)
		s, err := search.OpenEmbedded(dir)
		if err != nil {
			return nil, err
		}
		watchEmbedded(s, dir, log)
		return s, nil
	})
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

// poolSize is the most connections ragd's pool holds with workers job
// workers: each worker holds one for a moment at a time, and the API's
// requests and River's maintenance share the twelve more. (The
// connections that listen, River's notifier, the job supervisor's and the
// document watcher's, leave the pool when they start.)
func poolSize(workers int) int32 { return int32(workers + 12) }
