package jobs_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/chunker/chunkertest"
	"github.com/ragd/ragd/embedder"
	"github.com/ragd/ragd/embedder/openaitest"
	"github.com/ragd/ragd/extract"
	"github.com/ragd/ragd/extract/extracttest"
	"github.com/ragd/ragd/extract/sandbox/sandboxtest"
	"github.com/ragd/ragd/ingest"
	"github.com/ragd/ragd/jobs"
	"github.com/ragd/ragd/postgres/pgtest"
	"github.com/ragd/ragd/search"
	"github.com/ragd/ragd/search/qdranttest"
	"github.com/ragd/ragd/secret"
	"github.com/ragd/ragd/server"
)

func TestIngestWorker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	log := slog.New(slog.DiscardHandler)
	tenant := newTenant(t, pool)
	srv := wired(t, pool, server.Config{})
	store, pipeline := srv.Documents, srv.Pipeline
	create := func(name string, data []byte) ingest.Document {
		typ, _ := extract.Detect(bytes.NewReader(data), int64(len(data)), name)
		c, err := store.Create(ctx, tenant.ID, ingest.Upload{Filename: name, Content: ingest.BytesContent(data), Type: typ}, ingest.CreateOptions{AllowDuplicate: true})
		if err != nil {
			t.Fatal(err)
		}
		return c.Document
	}
	worker := rivertest.NewWorker(t, riverpgxv5.New(pool), &river.Config{}, &jobs.IngestWorker{Services: &jobs.Services{Pipeline: pipeline, Logger: log}})
	work := func(ctx context.Context, d ingest.Document, opts *river.InsertOpts) (*rivertest.WorkResult, error) {
		var res *rivertest.WorkResult
		var werr error
		err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
			res, werr = worker.Work(ctx, t, tx, jobs.IngestArgs{TenantID: d.TenantID, DocumentID: d.ID, ContentVersion: d.ContentVersion}, opts)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return res, werr
	}

	t.Run("CompletesAGoodDocument", func(t *testing.T) {
		d := create("r.pdf", extracttest.ReportPDF())
		res, err := work(ctx, d, nil)
		if err != nil || res.EventKind != river.EventKindJobCompleted {
			t.Fatalf("result %v, err %v", res, err)
		}
	})

	// jobOutput is the output a job recorded (river.RecordOutput).
	jobOutput := func(t *testing.T, id int64) map[string]string {
		t.Helper()
		var out map[string]string
		if err := pool.QueryRow(ctx, "SELECT metadata->'output' FROM river_job WHERE id = $1", id).Scan(&out); err != nil {
			t.Fatalf("the job's output: %v", err)
		}
		return out
	}

	t.Run("CompletesABadFileWithItsFailureInsteadOfRetrying", func(t *testing.T) {
		d := create("bad.pdf", []byte("%PDF-1.4\nnot really"))
		res, _ := work(ctx, d, nil)
		if res == nil || res.EventKind != river.EventKindJobCompleted {
			t.Fatalf("result %+v, want completed", res)
		}
		if out := jobOutput(t, res.Job.ID); out["document_status"] != "failed" || out["error_code"] != "pdf_malformed" || out["document_id"] != d.ID.String() || out["error_message"] == "" {
			t.Fatalf("the job's output %v: want the document's failure", out)
		}
	})

	t.Run("RecordsAnErrorHoldingRawBytes", func(t *testing.T) {
		// The PDF library quotes the file's bytes in its errors: NUL and
		// invalid UTF-8, which Postgres refuses in the job's JSON errors.
		// Unsanitised, River's completer fails the whole batch, and every
		// job in it (any tenant's) stays running.
		d := create("raw.pdf", extracttest.MakePDF([]string{"BT /F1 12 Tf 72 720 Td <4G\x00\x00\xff> Tj ET"}))
		res, err := work(ctx, d, nil)
		if err != nil || res == nil || res.EventKind != river.EventKindJobCompleted {
			t.Fatalf("result %+v, err %v; want the job completed and its output recorded", res, err)
		}
		if msg := jobOutput(t, res.Job.ID)["error_message"]; !strings.Contains(msg, "malformed") {
			t.Fatalf("the job's recorded failure: %q", msg)
		}
	})

	t.Run("LastAttemptMarksTheDocumentFailed", func(t *testing.T) {
		d := create("x.txt", []byte("text"))
		// A transient failure: the pipeline cannot read the document's bytes.
		if _, err := pool.Exec(ctx, "ALTER TABLE document_blob_parts RENAME TO document_blob_parts_away"); err != nil {
			t.Fatal(err)
		}
		res, _ := work(ctx, d, &river.InsertOpts{MaxAttempts: 1})
		if _, err := pool.Exec(ctx, "ALTER TABLE document_blob_parts_away RENAME TO document_blob_parts"); err != nil {
			t.Fatal(err)
		}
		if res == nil || res.EventKind == river.EventKindJobCompleted {
			t.Fatalf("result %+v", res)
		}
		got, _ := store.Get(ctx, tenant.ID, d.ID)
		if got.Status != ingest.StatusFailed || got.Error == nil || got.Error.Code != extract.CodeInternal {
			t.Fatalf("document after the last attempt = %s %+v", got.Status, got.Error)
		}
	})

	t.Run("ArgsCarryIDsOnly", func(t *testing.T) {
		d := create("secret.txt", []byte("confidential words"))
		var args string
		if err := pool.QueryRow(ctx, "SELECT args::text FROM river_job WHERE kind = 'ingest_document' AND args->>'document_id' = $1", d.ID.String()).Scan(&args); err != nil {
			t.Fatal(err)
		}
		if want := `{"tenant_id": "` + tenant.ID.String() + `", "document_id": "` + d.ID.String() + `", "content_version": 1}`; args != want {
			t.Fatalf("args = %s, want %s", args, want)
		}
	})
}

// TestIngestWorkerSnoozesOnRateLimit: when the vector store says "later",
// the job waits without spending an attempt.
func TestIngestWorkerSnoozesOnRateLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	log := slog.New(slog.DiscardHandler)
	tenant := newTenant(t, pool)
	fake := qdranttest.StartServer(t)
	vectors, err := search.OpenQdrant(search.QdrantConfig{URL: fake.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer vectors.Close()
	emb, _ := embedder.NewLocal(16)
	srv := wired(t, pool, server.Config{Embedder: emb, Vectors: vectors})
	store, pipeline := srv.Documents, srv.Pipeline
	c, err := store.Create(ctx, tenant.ID, ingest.Upload{Filename: "a.txt", Content: ingest.BytesContent([]byte("rate limited text")), Type: extract.TypeText}, ingest.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fake.RateLimitUpserts(1, 30)
	worker := rivertest.NewWorker(t, riverpgxv5.New(pool), &river.Config{}, &jobs.IngestWorker{Services: &jobs.Services{Pipeline: pipeline, Logger: log}})
	var res *rivertest.WorkResult
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var werr error
		res, werr = worker.Work(ctx, t, tx, jobs.IngestArgs{TenantID: tenant.ID, DocumentID: c.Document.ID, ContentVersion: 1}, nil)
		_ = werr
		return nil
	})
	if err != nil || res == nil || res.EventKind != river.EventKindJobSnoozed {
		t.Fatalf("result %+v, %v; want the job snoozed", res, err)
	}
	// River gives the attempt back on a snooze.
	if res.Job.Attempt != 0 || res.Job.ScheduledAt.Before(time.Now().Add(20*time.Second)) {
		t.Fatalf("snoozed job: attempt %d, scheduled at %s", res.Job.Attempt, res.Job.ScheduledAt)
	}
}

// TestIngestWorkerSnoozesWhenTheProviderSaysLater: an embedding provider
// that answers 503 with a Retry-After longer than the embedder waits gets
// the job snoozed until then, as a 429 does, without spending an attempt.
func TestIngestWorkerSnoozesWhenTheProviderSaysLater(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	log := slog.New(slog.DiscardHandler)
	tenant := newTenant(t, pool)
	fake := openaitest.Start(t, 16)
	fake.Respond = func(w http.ResponseWriter, n int) bool {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"error":{"message":"down for maintenance"}}`)
		return true
	}
	emb, err := embedder.NewOpenAI(embedder.OpenAIConfig{APIKey: openaitest.Key, BaseURL: fake.URL, Dimensions: 16, Counter: chunkertest.CL100K(t)})
	if err != nil {
		t.Fatal(err)
	}
	vectors, err := search.OpenEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer vectors.Close()
	srv := wired(t, pool, server.Config{Embedder: emb, Vectors: vectors})
	store, pipeline := srv.Documents, srv.Pipeline
	c, err := store.Create(ctx, tenant.ID, ingest.Upload{Filename: "a.txt", Content: ingest.BytesContent([]byte("text the provider cannot embed now")), Type: extract.TypeText}, ingest.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	worker := rivertest.NewWorker(t, riverpgxv5.New(pool), &river.Config{}, &jobs.IngestWorker{Services: &jobs.Services{Pipeline: pipeline, Logger: log}})
	var res *rivertest.WorkResult
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		res, _ = worker.Work(ctx, t, tx, jobs.IngestArgs{TenantID: tenant.ID, DocumentID: c.Document.ID, ContentVersion: 1}, nil)
		return nil
	})
	if err != nil || res == nil || res.EventKind != river.EventKindJobSnoozed {
		t.Fatalf("result %+v, %v; want the job snoozed", res, err)
	}
	if res.Job.Attempt != 0 || res.Job.ScheduledAt.Before(time.Now().Add(100*time.Second)) {
		t.Fatalf("snoozed job: attempt %d, scheduled at %s; want about 120s from now", res.Job.Attempt, res.Job.ScheduledAt)
	}
	if n := len(fake.Requests()); n != 1 {
		t.Fatalf("%d requests to the provider, want 1: a long Retry-After is not waited out in the job", n)
	}
}

// wired returns ragd assembled as serve assembles it (server.New) on
// pool, with cfg's settings; an embedder and vector store left out are
// the local embedder and an embedded store. Without cfg.API and
// cfg.Workers it is the services the tests' workers call.
func wired(t *testing.T, pool *pgxpool.Pool, cfg server.Config) *server.Server {
	t.Helper()
	if cfg.Embedder == nil {
		cfg.Embedder, _ = embedder.NewLocal(64)
		v, err := search.OpenEmbedded(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { v.Close() })
		cfg.Vectors = v
	}
	cfg.Pool, cfg.Tokenizer, cfg.Logger, cfg.Sandbox = pool, chunkertest.CL100K(t), slog.New(slog.DiscardHandler), sandboxtest.Pool()
	s, err := server.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	return s
}

// newTenant creates a tenant in the test database.
func newTenant(t *testing.T, pool *pgxpool.Pool) agents.Tenant {
	t.Helper()
	box, _ := secret.NewBox(secret.NewKey())
	tenant, err := agents.NewControlPlane(pool, box, nil).CreateTenant(context.Background(), agents.TenantPatch{Name: ragd.Some("T")})
	if err != nil {
		t.Fatal(err)
	}
	return tenant
}

// TestIngestTimeoutFitsOCR: the ingest job outlasts the longest
// extraction the pipeline allows, with room to embed after it: the OCR
// ceiling when OCR is on, the plain clock otherwise.
func TestIngestTimeoutFitsOCR(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	for _, tc := range []struct {
		lim  extract.Limits
		want time.Duration
	}{
		{extract.Limits{Timeout: 2 * time.Minute}, 15 * time.Minute},
		{extract.Limits{Timeout: 2 * time.Minute, Tesseract: "/usr/bin/tesseract"}, extract.DefaultOCRTimeout + 10*time.Minute},
		{extract.Limits{Timeout: 2 * time.Minute, Tesseract: "/usr/bin/tesseract", OCRTimeout: time.Hour}, 70 * time.Minute},
		{extract.Limits{Timeout: 40 * time.Minute, OCRTimeout: time.Hour}, 50 * time.Minute},
	} {
		srv := wired(t, pool, server.Config{Limits: ingest.Limits{Limits: tc.lim}})
		w := &jobs.IngestWorker{Services: &jobs.Services{Pipeline: srv.Pipeline}}
		if got := w.Timeout(nil); got != tc.want {
			t.Errorf("limits %+v: job timeout %s, want %s", tc.lim, got, tc.want)
		}
	}
}
