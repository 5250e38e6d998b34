package main

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/ragd/ragd/api"
	"github.com/ragd/ragd/chunker"
	"github.com/ragd/ragd/embedder"
	"github.com/ragd/ragd/extract"
	"github.com/ragd/ragd/ingest"
	"github.com/ragd/ragd/oidcauth"
	"github.com/ragd/ragd/search"
	"github.com/ragd/ragd/secret"
	"github.com/ragd/ragd/sources"
)

// config is ragd's whole configuration, parsed once in run and passed down.
// Each field names its variable; flags of the same meaning override them.
type config struct {
	// DatabaseURL (DATABASE_URL, --database-url): the Postgres server. Required.
	DatabaseURL string
	// Addr (RAGD_ADDR, --addr): where serve listens. Default ":8080".
	Addr string
	// DebugAddr (RAGD_DEBUG_ADDR, e.g. 127.0.0.1:6060): where serve and
	// worker answer Go's profiling endpoints (/debug/pprof/). Unset: none.
	// It has no authentication: keep it on a loopback address.
	DebugAddr string
	// AdminTokenValue (RAGD_ADMIN_TOKEN): the platform admin's bearer token,
	// at least 16 characters. Outside production a missing one is generated
	// once into DataDir/admin-token.
	AdminTokenValue string
	// MetricsToken (RAGD_METRICS_TOKEN): when set, /metrics asks for it as
	// a bearer token; empty, /metrics is open.
	MetricsToken string
	// EncryptionKeyValue (RAGD_ENCRYPTION_KEY): base64 of 32 bytes, the
	// AES-256-GCM key for agent secrets. Outside production a missing one is
	// generated once into DataDir/encryption-key.
	EncryptionKeyValue []byte
	// PreviousEncryptionKeys (RAGD_ENCRYPTION_KEY_PREVIOUS): keys that
	// sealed values before the current one (comma-separated, same form);
	// they open what they sealed, and `ragd reseal` seals it again with
	// the current key so that they can be dropped.
	PreviousEncryptionKeys [][]byte
	// ResealDryRun (ragd reseal --dry-run): count, write nothing.
	ResealDryRun bool
	// DataDir (RAGD_DATA_DIR, --data-dir): local state. Default "./.ragd".
	DataDir string
	// Production (RAGD_ENV=production): secrets must be given, never generated.
	Production bool
	// AutoMigrate (RAGD_AUTO_MIGRATE, default true): serve migrates first.
	AutoMigrate bool
	// WebhookAllowPrivate (RAGD_WEBHOOK_ALLOW_PRIVATE, default false): let
	// webhook endpoints be loopback, private or link-local addresses (local
	// development). In production webhooks are https only.
	WebhookAllowPrivate bool
	// Sources: how website sources are fetched (RAGD_SOURCES_ALLOW_PRIVATE,
	// default false; RAGD_SOURCES_USER_AGENT, default "ragd";
	// RAGD_SOURCES_CONTACT_URL; RAGD_SOURCES_DELAY, default 250ms between
	// requests to a host; RAGD_SOURCES_TIMEOUT, default 30s a request;
	// RAGD_SOURCES_MAX_BYTES, default 20MiB, at most RAGD_MAX_UPLOAD_BYTES).
	Sources sources.Config
	// LogFormat (RAGD_LOG_FORMAT: "json" or "text"): default text on a
	// terminal outside production, else json.
	LogFormat string
	// LogLevel (RAGD_LOG_LEVEL: debug, info, warn, error). Default info.
	LogLevel slog.Level
	// ReadTimeout, WriteTimeout (RAGD_HTTP_READ_TIMEOUT, RAGD_HTTP_WRITE_TIMEOUT):
	// per request, Go durations. Default 5m each: a 50 MiB upload on a slow
	// link takes minutes. Headers must arrive within 10s whatever these say.
	ReadTimeout, WriteTimeout time.Duration
	// ShutdownTimeout (RAGD_SHUTDOWN_TIMEOUT): how long in-flight requests,
	// then running jobs, may take to finish after SIGTERM. Default 30s.
	ShutdownTimeout time.Duration
	// MaxUploadBytes (RAGD_MAX_UPLOAD_BYTES): the largest file accepted,
	// in bytes or with a KiB/MiB/GiB suffix. Default 50MiB.
	MaxUploadBytes int64
	// MaxInflightUploadBytes (RAGD_MAX_INFLIGHT_UPLOAD_BYTES): the bytes of
	// all uploads in flight at once, same units. Each upload counts its
	// Content-Length (at most MaxUploadBytes; MaxUploadBytes without one);
	// one that does not fit is answered 503 with Retry-After. At least
	// MaxUploadBytes. Default 256MiB.
	MaxInflightUploadBytes int64
	// UploadMinRate (RAGD_UPLOAD_MIN_RATE, bytes a second, same units, an
	// optional "/s"; "0" turns it off) and UploadGrace (RAGD_UPLOAD_GRACE):
	// an upload's body must arrive at UploadMinRate on average once
	// UploadGrace has passed, and never pause longer than UploadGrace, or
	// it is cut with 408 upload_too_slow and its part of the budget freed.
	// Defaults 4KiB and 20s (api.DefaultUploadMinRate, DefaultUploadGrace).
	UploadMinRate int64
	UploadGrace   time.Duration
	// UploadSpoolDir (RAGD_UPLOAD_SPOOL_DIR): where uploaded files wait on
	// disk while they arrive and are stored. Default os.TempDir() ($TMPDIR
	// or /tmp); put it on a disk, not a tmpfs, which would hold them in RAM.
	UploadSpoolDir string
	// Workers (RAGD_WORKERS, --workers): jobs run at once by serve or
	// worker; serve --workers=0 serves the API only. Default 8: most of a
	// short document's time is round trips, which overlap.
	Workers int
	// ExtractConcurrency (RAGD_EXTRACT_CONCURRENCY): documents extracted
	// at once (each in a child of up to RAGD_EXTRACT_MEMORY); the other
	// workers wait for one. Default GOMAXPROCS, the cores.
	ExtractConcurrency int
	// MaxPages (RAGD_MAX_PAGES, default extract.DefaultMaxPages), MaxTextBytes
	// (RAGD_MAX_TEXT_BYTES, default 20MiB) and ExtractTimeout
	// (RAGD_EXTRACT_TIMEOUT, default 2m) bound one document's extraction.
	MaxPages       int
	MaxTextBytes   int64
	ExtractTimeout time.Duration
	// ExtractOCRTimeout (RAGD_EXTRACT_OCR_TIMEOUT, default
	// extract.DefaultOCRTimeout) replaces ExtractTimeout as the ceiling
	// of a document OCR may read (a PDF or an image, OCR on).
	ExtractOCRTimeout time.Duration
	// ExtractMemory (RAGD_EXTRACT_MEMORY, default 1GiB) bounds the data
	// segment of each extraction child; ExtractCPU (RAGD_EXTRACT_CPU,
	// default RAGD_EXTRACT_TIMEOUT times the threads that read a PDF's
	// pages, GOMAXPROCS) its processor time per document, all threads
	// counted.
	ExtractMemory int64
	ExtractCPU    time.Duration
	// ExtractCPUBase (RAGD_EXTRACT_CPU_BASE, default 5s) and
	// ExtractCPUPerMiB (RAGD_EXTRACT_CPU_PER_MIB, default 10s; "off":
	// every document gets the whole RAGD_EXTRACT_CPU and
	// RAGD_EXTRACT_TIMEOUT) scale a document's budget to its size.
	ExtractCPUBase, ExtractCPUPerMiB time.Duration
	// OCR (RAGD_OCR: unset or "on", "off") are the programs that read
	// images and PDF pages without a text layer: tesseract and poppler's
	// pdftoppm, found on PATH. Unset: on when tesseract is found; "on":
	// an error when it is not; "off": images are refused (415) and such
	// pages stay empty. OCRLanguages (RAGD_OCR_LANGUAGES, default "eng")
	// are tesseract's languages, '+'-joined ("eng+deu"), each of which
	// needs its language pack (Debian's tesseract-ocr-<lang>).
	OCR          extract.OCRTools
	OCRLanguages string
	// OCRInstalled are the languages tesseract has data for.
	OCRInstalled []string
	// MaxDocumentTokens (RAGD_MAX_DOCUMENT_TOKENS, default 3000000): a
	// document with more tokens fails with too_large.
	MaxDocumentTokens int
	// Quotas (RAGD_QUOTA_DOCUMENTS, RAGD_QUOTA_STORED_BYTES,
	// RAGD_QUOTA_EMBEDDING_TOKENS a month) for tenants without their own;
	// unset is unlimited.
	Quotas ingest.Quotas
	// ChunkMaxTokens (RAGD_CHUNK_MAX_TOKENS, default 512) and ChunkOverlap
	// (RAGD_CHUNK_OVERLAP_TOKENS, default 64) are the chunking defaults;
	// tenant settings and uploads may set their own.
	ChunkMaxTokens, ChunkOverlap int

	// OpenAIKey (OPENAI_API_KEY) and OpenAIBaseURL (OPENAI_BASE_URL): an
	// OpenAI or OpenAI-compatible embeddings API. With neither, the local
	// hashing embedder is used (lexical retrieval, said in the logs).
	OpenAIKey, OpenAIBaseURL string
	// EmbeddingModel (RAGD_EMBEDDING_MODEL, default text-embedding-3-small)
	// and EmbeddingDimensions (RAGD_EMBEDDING_DIMENSIONS, default 1536).
	EmbeddingModel      string
	EmbeddingDimensions int
	// EmbeddingConcurrency (RAGD_EMBEDDING_CONCURRENCY, default 4),
	// EmbeddingBatchTokens (RAGD_EMBEDDING_BATCH_TOKENS, default 300000) and
	// EmbeddingTimeout (RAGD_EMBEDDING_TIMEOUT, default 60s, per request).
	EmbeddingConcurrency, EmbeddingBatchTokens int
	EmbeddingTimeout                           time.Duration
	// EmbeddingModels (RAGD_EMBEDDING_MODELS, "model@dimensions,...") are
	// the spaces tenants may migrate to themselves (the admin may choose
	// any); EmbeddingPrices (RAGD_EMBEDDING_PRICES, "model=usd,...", USD
	// per million tokens) price migration estimates over the list prices.
	EmbeddingModels []search.Space
	EmbeddingPrices map[string]float64

	// QdrantURL (QDRANT_URL, e.g. http://localhost:6334: gRPC), QdrantAPIKey
	// (QDRANT_API_KEY) and QdrantCollection (RAGD_QDRANT_COLLECTION, default
	// ragd_chunks). Without a URL the embedded store in DataDir/vectors is
	// used, which one process at a time can open: worker requires a URL.
	QdrantURL, QdrantAPIKey, QdrantCollection string

	// ReindexTenant (reindex --tenant): one tenant's id, or all when empty.
	ReindexTenant string

	// OIDC (RAGD_OIDC_ISSUER and the other RAGD_OIDC_* variables of
	// oidcauth.Config): the identity provider whose bearer tokens the API
	// accepts besides API keys; OIDCEnabled is false without an issuer.
	OIDC        oidcauth.Config
	OIDCEnabled bool
	// ConsoleClientID (RAGD_OIDC_CLIENT_ID), ConsoleClientSecret
	// (RAGD_OIDC_CLIENT_SECRET, empty for a public client), ConsoleRedirectURL
	// (RAGD_OIDC_REDIRECT_URL, default: the request's host + /console/callback)
	// and ConsoleProviderName (RAGD_OIDC_PROVIDER_NAME, default the issuer's
	// host): the console's browser sign-in with that provider. Without a
	// client id the console signs in with API keys only.
	ConsoleClientID, ConsoleClientSecret, ConsoleRedirectURL, ConsoleProviderName string
}

// String prints the configuration with its secrets redacted; the
// encryption keys by their ids (the last bytes of a key are key material).
func (c config) String() string {
	key := "unset"
	if c.EncryptionKeyValue != nil {
		key = "id:" + secret.KeyID(c.EncryptionKeyValue)
	}
	prev := make([]string, len(c.PreviousEncryptionKeys))
	for i, k := range c.PreviousEncryptionKeys {
		prev[i] = "id:" + secret.KeyID(k)
	}
	return fmt.Sprintf("addr=%s data_dir=%s production=%t auto_migrate=%t admin_token=%s encryption_key=%s previous_encryption_keys=[%s] openai_api_key=%s",
		c.Addr, c.DataDir, c.Production, c.AutoMigrate, secret.Redact(c.AdminTokenValue), key, strings.Join(prev, " "), secret.Redact(c.OpenAIKey))
}

// loadConfig reads the environment, then the command's flags. Every error
// is one line that names the variable.
func loadConfig(cmd string, args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	c := config{
		DatabaseURL:     getenv("DATABASE_URL"),
		Addr:            cmpOr(getenv("RAGD_ADDR"), ":8080"),
		DebugAddr:       getenv("RAGD_DEBUG_ADDR"),
		AdminTokenValue: getenv("RAGD_ADMIN_TOKEN"),
		MetricsToken:    getenv("RAGD_METRICS_TOKEN"),
		DataDir:         cmpOr(getenv("RAGD_DATA_DIR"), "./.ragd"),
		LogFormat:       getenv("RAGD_LOG_FORMAT"),
		UploadSpoolDir:  getenv("RAGD_UPLOAD_SPOOL_DIR"),
	}
	var err error
	switch env := getenv("RAGD_ENV"); env {
	case "", "development", "dev":
	case "production", "prod":
		c.Production = true
	default:
		return c, fmt.Errorf("RAGD_ENV: must be development or production, not %q", env)
	}
	if c.AutoMigrate, err = parseBool(getenv("RAGD_AUTO_MIGRATE"), true); err != nil {
		return c, fmt.Errorf("RAGD_AUTO_MIGRATE: %w", err)
	}
	if c.WebhookAllowPrivate, err = parseBool(getenv("RAGD_WEBHOOK_ALLOW_PRIVATE"), false); err != nil {
		return c, fmt.Errorf("RAGD_WEBHOOK_ALLOW_PRIVATE: %w", err)
	}
	if c.Sources.AllowPrivate, err = parseBool(getenv("RAGD_SOURCES_ALLOW_PRIVATE"), false); err != nil {
		return c, fmt.Errorf("RAGD_SOURCES_ALLOW_PRIVATE: %w", err)
	}
	c.Sources.UserAgent = getenv("RAGD_SOURCES_USER_AGENT")
	if ua := c.Sources.UserAgent; ua != "" && !validProductToken(ua) {
		return c, fmt.Errorf("RAGD_SOURCES_USER_AGENT: must be a product token (letters, digits, '-', '_', '.'; robots.txt groups are matched against it), not %q", ua)
	}
	if c.Sources.ContactURL = getenv("RAGD_SOURCES_CONTACT_URL"); c.Sources.ContactURL != "" {
		if u, err := url.Parse(c.Sources.ContactURL); err != nil || u.Scheme == "" || strings.ContainsAny(c.Sources.ContactURL, " ()\r\n") {
			return c, fmt.Errorf("RAGD_SOURCES_CONTACT_URL: must be an absolute URL (https://example.com/bot or mailto:ops@example.com)")
		}
	}
	if c.Sources.Delay, err = parseDuration(getenv("RAGD_SOURCES_DELAY"), 250*time.Millisecond); err != nil {
		return c, fmt.Errorf("RAGD_SOURCES_DELAY: %w", err)
	}
	if c.Sources.Timeout, err = parseDuration(getenv("RAGD_SOURCES_TIMEOUT"), 30*time.Second); err != nil {
		return c, fmt.Errorf("RAGD_SOURCES_TIMEOUT: %w", err)
	}
	if c.Sources.MaxBytes, err = parseBytes(getenv("RAGD_SOURCES_MAX_BYTES"), 20<<20); err != nil {
		return c, fmt.Errorf("RAGD_SOURCES_MAX_BYTES: %w", err)
	}
	if c.ReadTimeout, err = parseDuration(getenv("RAGD_HTTP_READ_TIMEOUT"), 5*time.Minute); err != nil {
		return c, fmt.Errorf("RAGD_HTTP_READ_TIMEOUT: %w", err)
	}
	if c.WriteTimeout, err = parseDuration(getenv("RAGD_HTTP_WRITE_TIMEOUT"), 5*time.Minute); err != nil {
		return c, fmt.Errorf("RAGD_HTTP_WRITE_TIMEOUT: %w", err)
	}
	if c.ShutdownTimeout, err = parseDuration(getenv("RAGD_SHUTDOWN_TIMEOUT"), 30*time.Second); err != nil {
		return c, fmt.Errorf("RAGD_SHUTDOWN_TIMEOUT: %w", err)
	}
	if c.MaxUploadBytes, err = parseBytes(getenv("RAGD_MAX_UPLOAD_BYTES"), 50<<20); err != nil {
		return c, fmt.Errorf("RAGD_MAX_UPLOAD_BYTES: %w", err)
	}
	if c.MaxInflightUploadBytes, err = parseBytes(getenv("RAGD_MAX_INFLIGHT_UPLOAD_BYTES"), 256<<20); err != nil {
		return c, fmt.Errorf("RAGD_MAX_INFLIGHT_UPLOAD_BYTES: %w", err)
	}
	if c.MaxInflightUploadBytes < c.MaxUploadBytes {
		return c, errors.New("RAGD_MAX_INFLIGHT_UPLOAD_BYTES: must be at least RAGD_MAX_UPLOAD_BYTES, or no upload of the largest size could ever be received")
	}
	switch v := strings.TrimSuffix(strings.TrimSpace(getenv("RAGD_UPLOAD_MIN_RATE")), "/s"); v {
	case "0":
		c.UploadMinRate = -1 // no floor (zero would take the API's default)
	default:
		if c.UploadMinRate, err = parseBytes(v, api.DefaultUploadMinRate); err != nil {
			return c, fmt.Errorf("RAGD_UPLOAD_MIN_RATE: %w (a second), or 0 for no floor", err)
		}
	}
	if c.UploadGrace, err = parseDuration(getenv("RAGD_UPLOAD_GRACE"), api.DefaultUploadGrace); err != nil {
		return c, fmt.Errorf("RAGD_UPLOAD_GRACE: %w", err)
	}
	if c.MaxTextBytes, err = parseBytes(getenv("RAGD_MAX_TEXT_BYTES"), 20<<20); err != nil {
		return c, fmt.Errorf("RAGD_MAX_TEXT_BYTES: %w", err)
	}
	if c.ExtractTimeout, err = parseDuration(getenv("RAGD_EXTRACT_TIMEOUT"), 2*time.Minute); err != nil {
		return c, fmt.Errorf("RAGD_EXTRACT_TIMEOUT: %w", err)
	}
	if c.ExtractOCRTimeout, err = parseDuration(getenv("RAGD_EXTRACT_OCR_TIMEOUT"), extract.DefaultOCRTimeout); err != nil {
		return c, fmt.Errorf("RAGD_EXTRACT_OCR_TIMEOUT: %w", err)
	}
	if c.ExtractMemory, err = parseBytes(getenv("RAGD_EXTRACT_MEMORY"), 1<<30); err != nil {
		return c, fmt.Errorf("RAGD_EXTRACT_MEMORY: %w", err)
	}
	if c.ExtractMemory < 64<<20 {
		return c, errors.New("RAGD_EXTRACT_MEMORY: must be at least 64MiB (a child needs some to start)")
	}
	if c.ExtractCPU, err = parseDuration(getenv("RAGD_EXTRACT_CPU"), extract.Limits{Timeout: c.ExtractTimeout}.WithDefaults().CPU); err != nil {
		return c, fmt.Errorf("RAGD_EXTRACT_CPU: %w", err)
	}
	if c.ExtractCPUBase, err = parseDuration(getenv("RAGD_EXTRACT_CPU_BASE"), extract.DefaultCPUBase); err != nil {
		return c, fmt.Errorf("RAGD_EXTRACT_CPU_BASE: %w", err)
	}
	switch v := getenv("RAGD_OCR"); v {
	case "", "on":
		c.OCR = extract.FindOCRTools()
		if v == "on" && c.OCR.Tesseract == "" {
			return c, errors.New("RAGD_OCR=on: tesseract is not on PATH (Debian: apt-get install tesseract-ocr)")
		}
	case "off":
	default:
		return c, fmt.Errorf("RAGD_OCR: %q is neither on nor off", v)
	}
	c.OCRLanguages = cmp.Or(getenv("RAGD_OCR_LANGUAGES"), extract.DefaultOCRLanguages)
	if !extract.ValidOCRLanguages(c.OCRLanguages) {
		return c, fmt.Errorf("RAGD_OCR_LANGUAGES: %q is not a list of tesseract languages joined by + (eng+deu)", c.OCRLanguages)
	}
	if c.OCR.Tesseract != "" {
		// What uploads' ocr_languages may name, and a check that the
		// server's own languages are there (else every scan would fail).
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c.OCRInstalled, err = extract.InstalledOCRLanguages(ctx, c.OCR.Tesseract)
		cancel()
		if err != nil {
			return c, fmt.Errorf("RAGD_OCR: %w", err)
		}
		if missing := extract.MissingOCRLanguages(c.OCRLanguages, c.OCRInstalled); len(missing) > 0 {
			return c, fmt.Errorf("RAGD_OCR_LANGUAGES: tesseract has no data for %s (installed: %s; Debian: apt-get install tesseract-ocr-%s)",
				strings.Join(missing, ", "), strings.Join(c.OCRInstalled, ", "), missing[0])
		}
	}
	if v := getenv("RAGD_EXTRACT_CPU_PER_MIB"); v == "off" {
		c.ExtractCPUPerMiB = -1
	} else if c.ExtractCPUPerMiB, err = parseDuration(v, extract.DefaultCPUPerMiB); err != nil {
		return c, fmt.Errorf("RAGD_EXTRACT_CPU_PER_MIB: %w (or off)", err)
	}
	for _, q := range []struct {
		name  string
		dst   **int64
		bytes bool
	}{
		{"RAGD_QUOTA_DOCUMENTS", &c.Quotas.Documents, false},
		{"RAGD_QUOTA_STORED_BYTES", &c.Quotas.StoredBytes, true},
		{"RAGD_QUOTA_EMBEDDING_TOKENS", &c.Quotas.EmbeddingTokensPerMonth, false},
	} {
		v := getenv(q.name)
		if v == "" {
			continue
		}
		var n int64
		if q.bytes {
			n, err = parseBytes(v, 0)
		} else if n, err = strconv.ParseInt(v, 10, 64); err != nil || n < 0 {
			err = fmt.Errorf("must be a whole number, 0 or more, not %q", v)
		}
		if err != nil {
			return c, fmt.Errorf("%s: %w", q.name, err)
		}
		*q.dst = &n
	}
	for _, v := range []struct {
		name     string
		dst      *int
		def, min int
		max      int
	}{
		{"RAGD_WORKERS", &c.Workers, 8, 0, 256},
		{"RAGD_EXTRACT_CONCURRENCY", &c.ExtractConcurrency, runtime.GOMAXPROCS(0), 1, 256},
		{"RAGD_MAX_PAGES", &c.MaxPages, extract.DefaultMaxPages, 1, 1_000_000},
		{"RAGD_MAX_DOCUMENT_TOKENS", &c.MaxDocumentTokens, 3_000_000, 1000, 1_000_000_000},
		{"RAGD_CHUNK_MAX_TOKENS", &c.ChunkMaxTokens, chunker.DefaultMaxTokens, chunker.MinMaxTokens, chunker.MaxMaxTokens},
		{"RAGD_CHUNK_OVERLAP_TOKENS", &c.ChunkOverlap, chunker.DefaultOverlapTokens, 0, chunker.MaxMaxTokens / 2},
	} {
		if *v.dst, err = parseInt(getenv(v.name), v.def, v.min, v.max); err != nil {
			return c, fmt.Errorf("%s: %w", v.name, err)
		}
	}
	c.OpenAIKey, c.OpenAIBaseURL = getenv("OPENAI_API_KEY"), getenv("OPENAI_BASE_URL")
	c.EmbeddingModel = cmpOr(getenv("RAGD_EMBEDDING_MODEL"), "text-embedding-3-small")
	for _, v := range []struct {
		name     string
		dst      *int
		def, min int
		max      int
	}{
		{"RAGD_EMBEDDING_DIMENSIONS", &c.EmbeddingDimensions, 1536, 8, 16384},
		{"RAGD_EMBEDDING_CONCURRENCY", &c.EmbeddingConcurrency, 4, 1, 64},
		{"RAGD_EMBEDDING_BATCH_TOKENS", &c.EmbeddingBatchTokens, 300_000, 8191, 10_000_000},
	} {
		if *v.dst, err = parseInt(getenv(v.name), v.def, v.min, v.max); err != nil {
			return c, fmt.Errorf("%s: %w", v.name, err)
		}
	}
	if c.EmbeddingTimeout, err = parseDuration(getenv("RAGD_EMBEDDING_TIMEOUT"), time.Minute); err != nil {
		return c, fmt.Errorf("RAGD_EMBEDDING_TIMEOUT: %w", err)
	}
	if c.EmbeddingModels, err = parseSpaces(getenv("RAGD_EMBEDDING_MODELS")); err != nil {
		return c, fmt.Errorf("RAGD_EMBEDDING_MODELS: %w", err)
	}
	if c.EmbeddingPrices, err = embedder.ParsePrices(getenv("RAGD_EMBEDDING_PRICES")); err != nil {
		return c, fmt.Errorf("RAGD_EMBEDDING_PRICES: %w", err)
	}
	if u := c.OpenAIBaseURL; u != "" && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return c, fmt.Errorf("OPENAI_BASE_URL: must be an http or https URL, not %q", u)
	}
	c.QdrantURL, c.QdrantAPIKey = getenv("QDRANT_URL"), getenv("QDRANT_API_KEY")
	c.QdrantCollection = cmpOr(getenv("RAGD_QDRANT_COLLECTION"), "ragd_chunks")
	if c.ChunkOverlap*2 >= c.ChunkMaxTokens {
		return c, errors.New("RAGD_CHUNK_OVERLAP_TOKENS: must be less than half of RAGD_CHUNK_MAX_TOKENS")
	}
	if s := getenv("RAGD_LOG_LEVEL"); s != "" {
		if err := c.LogLevel.UnmarshalText([]byte(s)); err != nil {
			return c, fmt.Errorf("RAGD_LOG_LEVEL: must be debug, info, warn or error, not %q", s)
		}
	}
	if c.OIDC, c.OIDCEnabled, err = oidcauth.ConfigFromEnv(getenv); err != nil {
		return c, err
	}
	c.ConsoleClientID, c.ConsoleClientSecret = getenv("RAGD_OIDC_CLIENT_ID"), getenv("RAGD_OIDC_CLIENT_SECRET")
	c.ConsoleRedirectURL, c.ConsoleProviderName = getenv("RAGD_OIDC_REDIRECT_URL"), getenv("RAGD_OIDC_PROVIDER_NAME")
	if c.ConsoleClientID != "" && !c.OIDCEnabled {
		return c, errors.New("RAGD_OIDC_CLIENT_ID: set, but RAGD_OIDC_ISSUER is not")
	}
	if c.ConsoleProviderName == "" && c.OIDCEnabled {
		if u, err := url.Parse(c.OIDC.Issuer); err == nil {
			c.ConsoleProviderName = u.Host
		}
	}
	if s := getenv("RAGD_ENCRYPTION_KEY"); s != "" {
		if c.EncryptionKeyValue, err = secret.ParseKey(s); err != nil {
			return c, fmt.Errorf("RAGD_ENCRYPTION_KEY: %w (make one with: openssl rand -base64 32)", err)
		}
	}
	for i, s := range strings.Split(getenv("RAGD_ENCRYPTION_KEY_PREVIOUS"), ",") {
		if strings.TrimSpace(s) == "" {
			continue
		}
		key, err := secret.ParseKey(s)
		if err != nil {
			return c, fmt.Errorf("RAGD_ENCRYPTION_KEY_PREVIOUS: key %d: %w", i+1, err)
		}
		c.PreviousEncryptionKeys = append(c.PreviousEncryptionKeys, key)
	}

	fs := flag.NewFlagSet("ragd "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.DatabaseURL, "database-url", c.DatabaseURL, "Postgres URL (DATABASE_URL)")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "directory for local state (RAGD_DATA_DIR)")
	if cmd == "serve" {
		fs.StringVar(&c.Addr, "addr", c.Addr, "listen address (RAGD_ADDR)")
		fs.BoolVar(&c.AutoMigrate, "migrate", c.AutoMigrate, "apply migrations before serving (RAGD_AUTO_MIGRATE)")
	}
	if cmd == "reindex" {
		fs.StringVar(&c.ReindexTenant, "tenant", "", "rebuild only this tenant's points (its id)")
	}
	if cmd == "reseal" {
		fs.BoolVar(&c.ResealDryRun, "dry-run", false, "open every value sealed with another key and count, writing nothing")
	}
	if cmd == "serve" || cmd == "worker" {
		fs.IntVar(&c.Workers, "workers", c.Workers, "jobs run at once; 0 serves the API only (RAGD_WORKERS)")
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}

	if c.DatabaseURL == "" {
		return c, errors.New("DATABASE_URL: not set; `make run` starts a local Postgres and sets it, or point it at your server")
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return c, fmt.Errorf("RAGD_ADDR: must be host:port or :port, not %q", c.Addr)
	}
	switch c.LogFormat {
	case "", "json", "text":
	default:
		return c, fmt.Errorf("RAGD_LOG_FORMAT: must be json or text, not %q", c.LogFormat)
	}
	if c.Workers < 0 {
		return c, errors.New("RAGD_WORKERS: must be at least 0")
	}
	if cmd == "worker" && c.Workers == 0 {
		return c, errors.New("RAGD_WORKERS: ragd worker needs at least one worker")
	}
	if cmd == "worker" && c.QdrantURL == "" {
		return c, errors.New("QDRANT_URL: not set; ragd worker needs Qdrant, because the embedded vector store serves one process and what a separate worker indexed into its own would never be searched (without Qdrant, let ragd serve run the jobs)")
	}
	if c.AdminTokenValue != "" && len(c.AdminTokenValue) < 16 {
		return c, errors.New("RAGD_ADMIN_TOKEN: must be at least 16 characters")
	}
	return c, nil
}

// adminToken returns RAGD_ADMIN_TOKEN or, outside production, the token
// kept in the data directory (generated on first use).
func (c config) adminToken(log *slog.Logger) (string, error) {
	if c.AdminTokenValue != "" {
		return c.AdminTokenValue, nil
	}
	if c.Production {
		return "", errors.New("RAGD_ADMIN_TOKEN: required when RAGD_ENV=production")
	}
	b, err := c.localSecret("admin-token", func() []byte {
		return []byte("ragd_admin_" + base64.RawURLEncoding.EncodeToString(secret.NewKey()))
	}, log)
	return string(b), err
}

// encryptionKey returns RAGD_ENCRYPTION_KEY or, outside production, the key
// kept in the data directory (generated on first use).
func (c config) encryptionKey(log *slog.Logger) ([]byte, error) {
	if c.EncryptionKeyValue != nil {
		return c.EncryptionKeyValue, nil
	}
	if c.Production {
		return nil, errors.New("RAGD_ENCRYPTION_KEY: required when RAGD_ENV=production")
	}
	b, err := c.localSecret("encryption-key", func() []byte {
		return []byte(base64.StdEncoding.EncodeToString(secret.NewKey()))
	}, log)
	if err != nil {
		return nil, err
	}
	key, err := secret.ParseKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(c.DataDir, "encryption-key"), err)
	}
	return key, nil
}

// localSecret reads DataDir/name, creating it (mode 0600) with make() the
// first time. O_EXCL makes two processes starting at once agree on one value.
func (c config) localSecret(name string, make func() []byte, log *slog.Logger) ([]byte, error) {
	path := filepath.Join(c.DataDir, name)
	if b, err := os.ReadFile(path); err == nil {
		return []byte(strings.TrimSpace(string(b))), nil
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("RAGD_DATA_DIR: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		b, err := os.ReadFile(path)
		return []byte(strings.TrimSpace(string(b))), err
	}
	if err != nil {
		return nil, fmt.Errorf("RAGD_DATA_DIR: %w", err)
	}
	value := make()
	if _, err := f.Write(append(value, '\n')); err != nil {
		f.Close()
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	log.Warn("generated a local development secret; set the variable in production", "name", name, "path", path)
	return value, nil
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func parseBool(s string, def bool) (bool, error) {
	if s == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("must be true or false, not %q", s)
	}
	return b, nil
}

func parseDuration(s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("must be a positive duration such as 30s, not %q", s)
	}
	return d, nil
}

func parseInt(s string, def, lo, hi int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("must be an integer from %d to %d, not %q", lo, hi, s)
	}
	return n, nil
}

// parseBytes reads a size: a plain number of bytes, or one with a KiB,
// MiB or GiB (or KB, MB, GB, read as the same powers of two) suffix.
func parseBytes(s string, def int64) (int64, error) {
	if s == "" {
		return def, nil
	}
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"B", 1}} {
		if rest, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("must be a positive size such as 52428800 or 50MiB, not %q", s)
	}
	return n * mult, nil
}

// parseSpaces reads "model@dimensions,model@dimensions".
func parseSpaces(s string) ([]search.Space, error) {
	var out []search.Space
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		i := strings.LastIndexByte(item, '@')
		if i <= 0 {
			return nil, fmt.Errorf("%q: want model@dimensions, e.g. text-embedding-3-large@1024", item)
		}
		dims, err := strconv.Atoi(item[i+1:])
		if err != nil || dims < 8 || dims > 16384 {
			return nil, fmt.Errorf("%q: dimensions must be a number from 8 to 16384", item)
		}
		out = append(out, search.Space{Model: item[:i], Dimensions: dims})
	}
	return out, nil
}

// validProductToken says whether s can stand as a User-Agent product
// token and a robots.txt user-agent line.
func validProductToken(s string) bool {
	if len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}
