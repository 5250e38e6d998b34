package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/console"
	"github.com/ragd/ragd/evals"
	"github.com/ragd/ragd/ingest"
	"github.com/ragd/ragd/metrics"
	"github.com/ragd/ragd/oidcauth"
	"github.com/ragd/ragd/search"
	"github.com/ragd/ragd/sources"
	"github.com/ragd/ragd/spaces"
	"github.com/ragd/ragd/webhooks"
)

// DefaultMaxUploadBytes is the upload limit when Deps leaves it zero.
const DefaultMaxUploadBytes = 50 << 20

// Deps is what the API needs from the rest of ragd.
type Deps struct {
	Logger       *slog.Logger
	ControlPlane *agents.ControlPlane
	AdminToken   string
	// Documents serves the document routes, and Watcher tells the events
	// streams when a document changed (it must be running).
	Documents *ingest.Documents
	Watcher   *ingest.Watcher
	// Metrics records requests and searches and is served at /metrics.
	Metrics *metrics.Metrics
	// MetricsToken, when set, is the bearer token /metrics asks for
	// (RAGD_METRICS_TOKEN); empty: /metrics is open, as Prometheus
	// scrapers expect by default.
	MetricsToken string
	// JobsUI is River's dashboard, mounted at /jobs/ for the admin.
	JobsUI http.Handler
	// Searcher answers the search routes.
	Searcher *search.Searcher
	// Evals keeps the tenants' evaluations (their jobs run them).
	Evals *evals.Evaluations
	// Webhooks keeps the tenants' webhook endpoints and deliveries.
	Webhooks *webhooks.Service
	// Sources keeps the tenants' website sources and crawls them.
	Sources *sources.Service
	// Spaces serves the embedding migrations (nil: none can be started).
	Spaces *spaces.Service
	// MaxUploadBytes bounds an uploaded file (RAGD_MAX_UPLOAD_BYTES).
	MaxUploadBytes int64
	// MaxInflightUploadBytes bounds the bytes of all uploads in flight at
	// once (RAGD_MAX_INFLIGHT_UPLOAD_BYTES; zero: 256 MiB). Each upload
	// counts its Content-Length, or MaxUploadBytes without one; an upload
	// that does not fit is answered 503 with Retry-After.
	MaxInflightUploadBytes int64
	// UploadMinRate is the slowest an upload's body may arrive, in bytes a
	// second on average, once UploadGrace has passed; a body slower than
	// that, or silent for longer than UploadGrace, is cut with 408
	// upload_too_slow (RAGD_UPLOAD_MIN_RATE, RAGD_UPLOAD_GRACE; zero:
	// DefaultUploadMinRate, DefaultUploadGrace; a negative rate: no floor).
	UploadMinRate int64
	UploadGrace   time.Duration
	// UploadSpoolDir holds uploaded files while they arrive and are stored
	// (RAGD_UPLOAD_SPOOL_DIR; empty: os.TempDir()).
	UploadSpoolDir string
	// OCR: images are documents (read by OCR); false refuses them with 415
	// (the server has no tesseract, or RAGD_OCR=off).
	OCR bool
	// OCRLanguages are the languages tesseract has installed, which an
	// upload's ocr_languages may name (nil: any).
	OCRLanguages []string
	// Ready reports whether each dependency answers, by name ("postgres").
	Ready func(ctx context.Context) map[string]error
	// Console, when set, serves the tenant console at /console/ (its API
	// field is filled in here: the console calls these routes in-process).
	Console *console.Config
	// OIDC, when set, lets callers authenticate with the identity
	// provider's bearer tokens besides API keys.
	OIDC *oidcauth.Verifier

	console http.Handler
}

// NewHandler returns the whole HTTP API.
func NewHandler(d Deps) http.Handler {
	if d.MaxUploadBytes <= 0 {
		d.MaxUploadBytes = DefaultMaxUploadBytes
	}
	mux := http.NewServeMux()
	inner := problemMux(d.Logger, mux)
	if d.Console != nil {
		cfg := *d.Console
		cfg.API = inner
		d.console = console.New(cfg)
	}
	for _, rt := range routes(d, newAuthenticator(d.AdminToken, d.ControlPlane, d.OIDC)) {
		mux.Handle(rt.pattern, validText(d.Logger, rt.handler))
	}
	return observe(d.Logger, d.Metrics, inner)
}
