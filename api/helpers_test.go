package api_test

import (
	"bytes"
	"log/slog"
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
	*apitest.Client // requests, as the test's; Upload checks the spool
	t               testing.TB
	url             string
	pool            *pgxpool.Pool
	store           *agents.ControlPlane
	encKey          []byte
	srv             *apitest.Server
	logs            *syncBuffer
	// vectors is the embedded vector store the workers index into.
	vectors *search.Embedded
	// openai is the embeddings API double, with setupOpenAI.
	openai *openaitest.Server
	// spoolDir is where the server spools uploads: the test's own.
	spoolDir string
	// spaces are the embedding spaces' indexes.
	spaces *search.Indexes
}

// response is what a test reads back.
type response = apitest.Response

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
	c := srv.Client(t)
	c.SpoolDir = o.UploadSpoolDir
	return &testBundle{Client: c, t: t, url: srv.URL, pool: srv.Pool, store: srv.ControlPlane, encKey: srv.EncryptionKey, srv: srv, logs: logs, vectors: srv.Vectors,
		openai: srv.OpenAI, spoolDir: o.UploadSpoolDir, spaces: srv.Indexes}
}

var allScopes = apitest.AllScopes()
