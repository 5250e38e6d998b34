// Package server assembles ragd from its parts: the stores, the ingest
// pipeline (with its extraction sandbox), the job queue and its workers,
// the searcher, the job dashboard and the HTTP handler. `ragd serve`,
// `ragd worker` and the tests' in-process server (api/apitest) all build
// the service here, so there is one wiring to keep right; what differs
// between them (the embedder, the vector store, limits, ports) is Config.
package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/api"
	"github.com/ragd/ragd/chunker"
	"github.com/ragd/ragd/console"
	"github.com/ragd/ragd/embedder"
	"github.com/ragd/ragd/evals"
	"github.com/ragd/ragd/extract/sandbox"
	"github.com/ragd/ragd/ingest"
	"github.com/ragd/ragd/jobs"
	"github.com/ragd/ragd/metrics"
	"github.com/ragd/ragd/oidcauth"
	"github.com/ragd/ragd/search"
	"github.com/ragd/ragd/secret"
	"github.com/ragd/ragd/sources"
	"github.com/ragd/ragd/spaces"
	"github.com/ragd/ragd/webhooks"
)

// Config is what differs between one ragd and another. Pool, Tokenizer,
// Embedder and Vectors are required, and Box with the API.
type Config struct {
	Pool   *pgxpool.Pool
	Logger *slog.Logger // default: discard
	// Box seals agents' secrets (RAGD_ENCRYPTION_KEY).
	Box *secret.Box
	// AdminToken is the platform admin's bearer token; required for the API.
	AdminToken string
	// MetricsToken, when set, guards /metrics (RAGD_METRICS_TOKEN).
	MetricsToken string

	Tokenizer *chunker.BPE
	Embedder  embedder.Embedder
	Vectors   search.VectorStore
	// OpenSpace opens the index of an embedding space other than
	// Embedder's, for tenants that migrate (nil: Embedder's space alone;
	// SpaceOpener makes one). Server.Stop closes the stores it opened.
	OpenSpace search.OpenFunc
	// EmbeddingPrices are models' prices in USD per million tokens, for
	// migration estimates (nil: embedder.ListPrices).
	EmbeddingPrices map[string]float64
	// OfferedSpaces are the spaces tenants may migrate to themselves
	// (RAGD_EMBEDDING_MODELS); the admin may choose any.
	OfferedSpaces []search.Space
	// Limits, Chunking and Quotas of ingestion; zero fields take defaults.
	Limits ingest.Limits
	// OCRLanguages are the languages tesseract has installed, which an
	// upload's ocr_languages may name (nil: any; tesseract decides).
	OCRLanguages []string
	Chunking     chunker.Options
	Quotas       ingest.Quotas
	// Sandbox runs the extractors (default: one that starts this program
	// and runs ExtractConcurrency children at once, default GOMAXPROCS).
	Sandbox            *sandbox.Pool
	ExtractConcurrency int

	// Workers is how many jobs run at once in this process; 0: none.
	Workers int
	// FetchPollInterval and Supervisor override the queue's timings.
	FetchPollInterval time.Duration
	Supervisor        jobs.SupervisorTimings

	// API builds the HTTP handler; false for a worker-only process.
	API bool
	// Upload limits (RAGD_MAX_UPLOAD_BYTES, RAGD_MAX_INFLIGHT_UPLOAD_BYTES,
	// RAGD_UPLOAD_SPOOL_DIR); zero takes the API's defaults.
	MaxUploadBytes, MaxInflightUploadBytes int64
	UploadSpoolDir                         string
	// UploadMinRate and UploadGrace are the floor of the rate an upload's
	// body arrives at (RAGD_UPLOAD_MIN_RATE, RAGD_UPLOAD_GRACE); zero takes
	// the API's defaults, a negative rate none.
	UploadMinRate int64
	UploadGrace   time.Duration
	// OIDC verifies the identity provider's bearer tokens (and maps the
	// claims of the console's sign-ins); nil: API keys only.
	OIDC *oidcauth.Verifier
	// ConsoleOIDC offers browser sign-in to the console with the identity
	// provider (it needs OIDC, which maps its ID tokens' claims to a tenant
	// and scopes); nil: the console signs in with API keys only.
	ConsoleOIDC *console.OIDC
	// Webhooks is how webhooks are sent (RAGD_WEBHOOK_ALLOW_PRIVATE,
	// https only in production, the retry schedule).
	Webhooks webhooks.Config
	// Sources is how websites are fetched (RAGD_SOURCES_ALLOW_PRIVATE, the
	// user agent, the caps); MaxBytes is at most MaxUploadBytes.
	Sources sources.Config
}

// Server is an assembled ragd. Start begins working jobs; Stop ends them.
type Server struct {
	Handler   http.Handler // nil without Config.API
	Agents    *agents.ControlPlane
	Documents *ingest.Documents
	Evals     *evals.Evaluations
	Webhooks  *webhooks.Service
	Sources   *sources.Service
	Pipeline  *ingest.Pipeline
	// Indexes holds the index of each embedding space in use, and Spaces
	// says which a tenant's searches and documents use.
	Indexes  *search.Indexes
	Spaces   *spaces.Service
	Searcher *search.Searcher
	Queue    *jobs.Queue
	Metrics  *metrics.Metrics
	// Watcher announces document changes to the API's events streams.
	Watcher *ingest.Watcher

	log         *slog.Logger
	stopWatcher context.CancelFunc
	watcherDone chan struct{}
}

// New assembles a server; ctx bounds the job dashboard. It starts no
// worker: call Start.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Pool == nil || cfg.Tokenizer == nil || cfg.Embedder == nil || cfg.Vectors == nil {
		return nil, errors.New("server: Pool, Tokenizer, Embedder and Vectors are required")
	}
	if cfg.API && cfg.Box == nil {
		return nil, errors.New("server: the API needs Box, to seal agents' secrets")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// One River client: the stores enqueue through it from here on, and
	// its workers get the services at Start.
	q, err := jobs.New(cfg.Pool, jobs.Config{Workers: cfg.Workers, Logger: log,
		FetchPollInterval: cfg.FetchPollInterval, Supervisor: cfg.Supervisor})
	if err != nil {
		return nil, err
	}
	if cfg.Webhooks.Senders == 0 {
		cfg.Webhooks.Senders = jobs.WebhookWorkers(cfg.Workers)
	}
	hooks := webhooks.NewService(cfg.Pool, cfg.Box, q, cfg.Webhooks)
	cp := agents.NewControlPlane(cfg.Pool, cfg.Box, q)
	s := &Server{
		Agents: cp,
		Documents: ingest.NewDocuments(cfg.Pool, cp, q, ingest.WithDefaultQuotas(cfg.Quotas), ingest.WithPasswordBox(cfg.Box),
			ingest.WithEvents(hooks)),
		Webhooks: hooks,
		Queue:    q,
		Metrics:  metrics.New(cfg.Pool, log),
		log:      log,
	}
	s.Indexes = search.NewIndexes(search.Index{Embedder: cfg.Embedder, Store: cfg.Vectors}, cfg.OpenSpace)
	if s.Spaces, err = spaces.New(cfg.Pool, spaces.Config{Tenants: cp, Indexes: s.Indexes, Documents: s.Documents, Jobs: q,
		Prices: cfg.EmbeddingPrices, Offered: cfg.OfferedSpaces, Logger: log}); err != nil {
		return nil, err
	}
	s.Pipeline, err = ingest.NewPipeline(s.Documents, cfg.Tokenizer, ingest.PipelineConfig{
		Limits: cfg.Limits, Chunking: cfg.Chunking, Spaces: s.Spaces,
		Metrics: s.Metrics, Sandbox: cfg.Sandbox, ExtractConcurrency: cfg.ExtractConcurrency,
	}, log)
	if err != nil {
		return nil, err
	}
	// One Searcher for the search routes and the evaluate jobs, so that
	// an evaluation scores the search the tenant's chatbot gets.
	s.Searcher = search.NewRoutedSearcher(s.Indexes, s.Spaces, s.Documents, 0)
	s.Evals = evals.NewEvaluations(cfg.Pool, s.Documents, cp, s.Searcher, hooks, q)
	// A fetched page or file is at most what an upload may be.
	cfg.Sources.MaxBytes = cmp.Or(cfg.Sources.MaxBytes, 20<<20)
	if cfg.MaxUploadBytes > 0 {
		cfg.Sources.MaxBytes = min(cfg.Sources.MaxBytes, cfg.MaxUploadBytes)
	}
	s.Sources = sources.NewService(cfg.Pool, s.Documents, q, hooks, s.Metrics, cfg.Sources)
	if !cfg.API {
		return s, nil
	}
	if cfg.AdminToken == "" {
		s.Pipeline.Close()
		return nil, errors.New("server: the API needs an admin token")
	}
	dashboard, err := s.Queue.Dashboard(ctx, "/jobs", log)
	if err != nil {
		s.Pipeline.Close()
		return nil, err
	}
	if cfg.ConsoleOIDC != nil {
		if cfg.OIDC == nil {
			s.Pipeline.Close()
			return nil, errors.New("server: console sign-in with OIDC needs the OIDC verifier")
		}
		cfg.ConsoleOIDC.Identify = identify(cfg.OIDC, s.Agents)
	}
	pool, vectors := cfg.Pool, cfg.Vectors
	s.Watcher = ingest.NewWatcher(pool, log)
	s.Handler = api.NewHandler(api.Deps{
		JobsUI:                 dashboard,
		Metrics:                s.Metrics,
		Logger:                 log,
		ControlPlane:           s.Agents,
		AdminToken:             cfg.AdminToken,
		MetricsToken:           cfg.MetricsToken,
		Documents:              s.Documents,
		Watcher:                s.Watcher,
		Searcher:               s.Searcher,
		Evals:                  s.Evals,
		Webhooks:               s.Webhooks,
		Sources:                s.Sources,
		Spaces:                 s.Spaces,
		OCR:                    cfg.Limits.Tesseract != "",
		OCRLanguages:           cfg.OCRLanguages,
		MaxUploadBytes:         cfg.MaxUploadBytes,
		MaxInflightUploadBytes: cfg.MaxInflightUploadBytes,
		UploadSpoolDir:         cfg.UploadSpoolDir,
		UploadMinRate:          cfg.UploadMinRate,
		UploadGrace:            cfg.UploadGrace,
		Console:                &console.Config{Logger: log, ControlPlane: s.Agents, OIDC: cfg.ConsoleOIDC},
		OIDC:                   cfg.OIDC,
		Ready: func(ctx context.Context) map[string]error {
			_, err := vectors.Count(ctx, uuid.Nil, search.Filter{})
			return map[string]error{"postgres": pool.Ping(ctx), "vectors": err}
		},
	})
	return s, nil
}

// identify maps a console sign-in's verified ID token claims to a session
// exactly as the API maps a bearer token: the organisation's tenant, the
// role's scopes.
func identify(v *oidcauth.Verifier, store *agents.ControlPlane) func(ctx context.Context, claims map[string]any) (agents.Session, error) {
	return func(ctx context.Context, claims map[string]any) (agents.Session, error) {
		id, err := v.Identify(claims)
		switch {
		case errors.Is(err, oidcauth.ErrNoOrganization):
			return agents.Session{}, fmt.Errorf("%w: %w", console.ErrNoTenant, err)
		case errors.Is(err, oidcauth.ErrNoScopes):
			return agents.Session{}, fmt.Errorf("%w: %w", console.ErrNoAccess, err)
		case err != nil:
			return agents.Session{}, err
		}
		t, err := store.GetTenantByClerkOrg(ctx, id.OrgID)
		if errors.Is(err, ragd.ErrNotFound) {
			return agents.Session{}, fmt.Errorf("%w: organisation %s", console.ErrNoTenant, id.OrgID)
		}
		if err != nil {
			return agents.Session{}, err
		}
		who := id.Subject
		if email, _ := claims["email"].(string); email != "" {
			who = email
		}
		org := id.OrgID
		return agents.Session{TenantID: t.ID, OrgID: &org, Subject: who + " (" + id.Role + ")", Scopes: id.Scopes}, nil
	}
}

// Start begins working jobs (nothing without workers) and, with the API,
// listening for document changes. Cancelling ctx does not stop them: Stop
// does, softly.
func (s *Server) Start(ctx context.Context) error {
	// Not ctx itself: cancelling Start's context hard-stops River.
	if err := s.Queue.Start(context.WithoutCancel(ctx), jobs.Services{Pipeline: s.Pipeline, Documents: s.Documents,
		Spaces: s.Spaces, Evals: s.Evals, Webhooks: s.Webhooks, Sources: s.Sources, Logger: s.log}); err != nil {
		return fmt.Errorf("start workers: %w", err)
	}
	if s.Watcher != nil {
		wctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		s.stopWatcher, s.watcherDone = stop, make(chan struct{})
		go func() {
			defer close(s.watcherDone)
			s.Watcher.Run(wctx)
		}()
	}
	return nil
}

// Stop stops fetching jobs and lets running ones finish until ctx is done
// (then they are cancelled and River hands them to another worker), then
// ends the extraction children. The vector store is the caller's to close.
func (s *Server) Stop(ctx context.Context) error {
	err := s.Queue.Stop(ctx)
	s.Pipeline.Close()
	if s.stopWatcher != nil {
		s.stopWatcher()
		<-s.watcherDone
	}
	return errors.Join(err, s.Indexes.Close())
}
