package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/api/apitest"
	"github.com/ragd/ragd/embedder/openaitest"
	"github.com/ragd/ragd/extract"
	"github.com/ragd/ragd/ingest"
	"github.com/ragd/ragd/ingest/ingesttest"
	"github.com/ragd/ragd/search"
)

const adminToken = apitest.AdminToken

// Limits small enough that the bad-input tests stay fast under -race.
const testMaxUpload = 24 << 20

var testLimits = ingest.Limits{Limits: extract.Limits{MaxTextBytes: 4 << 20, MaxUnzippedBytes: 8 << 20, Timeout: 30 * time.Second}}

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type testBundle struct {
	t      testing.TB
	url    string
	pool   *pgxpool.Pool
	store  *agents.ControlPlane
	encKey []byte
	logs   *syncBuffer
	// vectors is the embedded vector store the workers index into.
	vectors *search.Embedded
	// openai is the embeddings API double, with setupOpenAI.
	openai *openaitest.Server
	// spoolDir is where the server spools uploads: the test's own.
	spoolDir string
	// spaces are the embedding spaces' indexes.
	spaces *search.Indexes
}

func setup(t testing.TB) *testBundle {
	t.Helper()
	return setupWith(t, apitest.Options{})
}

// setupOpenAI embeds through the Postgres cache with the OpenAI API
// double, so documents and searches report embedding tokens.
func setupOpenAI(t testing.TB) *testBundle {
	t.Helper()
	return setupWith(t, apitest.Options{OpenAI: true})
}

// setupWith starts a server with o, whose zero fields take the tests'
// defaults: small limits, and an upload spool directory of the test's own,
// which must hold no file, open or not, when the test ends.
func setupWith(t testing.TB, o apitest.Options) *testBundle {
	t.Helper()
	logs := &syncBuffer{}
	o.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if o.Limits == (ingest.Limits{}) {
		o.Limits = testLimits
	}
	if o.MaxUploadBytes == 0 {
		o.MaxUploadBytes = testMaxUpload
	}
	if o.UploadSpoolDir == "" {
		o.UploadSpoolDir = t.TempDir()
	}
	srv := apitest.Start(t, o)
	t.Cleanup(func() {
		ingesttest.NoFilesLeft(t, o.UploadSpoolDir)
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return &testBundle{t: t, url: srv.URL, pool: srv.Pool, store: srv.ControlPlane, encKey: srv.EncryptionKey, logs: logs, vectors: srv.Vectors,
		openai: srv.OpenAI, spoolDir: o.UploadSpoolDir, spaces: srv.Indexes}
}

// response is what a test reads back.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

// code returns the problem code of an error response.
func (r response) code(t testing.TB) string {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("error response has Content-Type %q, want application/problem+json: %s", ct, r.Body)
	}
	c, _ := r.json(t)["code"].(string)
	return c
}

// req sends a request. body may be nil, a string (sent as is) or a value
// (sent as JSON). headers are name, value pairs.
func (b *testBundle) req(method, path, token string, body any, headers ...string) response {
	b.t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	case []byte:
		rd = bytes.NewReader(v)
	default:
		js, err := json.Marshal(v)
		if err != nil {
			b.t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	r, err := http.NewRequest(method, b.url+path, rd)
	if err != nil {
		b.t.Fatal(err)
	}
	if rd != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// must sends a request and fails the test unless it answers want.
func (b *testBundle) must(want int, method, path, token string, body any, headers ...string) response {
	b.t.Helper()
	r := b.req(method, path, token, body, headers...)
	if r.Status != want {
		b.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	return r
}

// tenantWithKey creates a tenant and a key with the given scopes (nil: the
// defaults), returning the tenant id and the key.
func (b *testBundle) tenantWithKey(slug string, scopes ...string) (string, string) {
	b.t.Helper()
	tr := b.must(201, "POST", "/v1/tenants", adminToken, map[string]any{"name": "Tenant " + slug, "slug": slug}).json(b.t)
	id := tr["id"].(string)
	body := map[string]any{"name": "test"}
	if scopes != nil {
		body["scopes"] = scopes
	}
	kr := b.must(201, "POST", "/v1/tenants/"+id+"/api-keys", adminToken, body).json(b.t)
	return id, kr["key"].(string)
}

var allScopes = []string{"agents:read", "agents:write", "documents:read", "documents:write", "search", "keys:write", "webhooks:write", "embeddings:write"}
