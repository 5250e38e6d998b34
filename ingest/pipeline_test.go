package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/chunker"
	"github.com/ragd/ragd/chunker/chunkertest"
	"github.com/ragd/ragd/embedder"
	"github.com/ragd/ragd/embedder/openaitest"
	"github.com/ragd/ragd/extract"
	"github.com/ragd/ragd/extract/extracttest"
	"github.com/ragd/ragd/ingest"
	"github.com/ragd/ragd/jobs"
	"github.com/ragd/ragd/postgres"
	"github.com/ragd/ragd/postgres/pgtest"
	"github.com/ragd/ragd/search"
	"github.com/ragd/ragd/search/qdranttest"
	"github.com/ragd/ragd/secret"
)

type pipelineBundle struct {
	store    *ingest.Documents
	pipeline *ingest.Pipeline
	queue    *jobs.Queue
	tenant   uuid.UUID
	pool     *pgxpool.Pool
	key      []byte // the key upload passwords are sealed with
}

func setupPipeline(t *testing.T) *pipelineBundle {
	t.Helper()
	pool := pgtest.NewPool(t)
	tenant := newTenant(t, pool)
	key := secret.NewKey()
	box, err := secret.NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	st := newStack(t, pool, nil, ingest.WithPasswordBox(box))
	p := st.pipeline(t, ingest.PipelineConfig{Chunking: chunker.Options{MaxTokens: 32, OverlapTokens: 4}})
	return &pipelineBundle{store: st.docs, pipeline: p, queue: st.queue, tenant: tenant.ID, pool: pool, key: key}
}

func (b *pipelineBundle) create(t *testing.T, name string, data []byte) ingest.Document {
	t.Helper()
	typ, ok := extract.Detect(bytes.NewReader(data), int64(len(data)), name)
	if !ok {
		t.Fatalf("%s is not detected", name)
	}
	c, err := b.store.Create(t.Context(), b.tenant, ingest.Upload{Filename: name, Content: ingest.BytesContent(data), Type: typ}, ingest.CreateOptions{AllowDuplicate: true})
	if err != nil {
		t.Fatal(err)
	}
	return c.Document
}

func (b *pipelineBundle) chunkIDs(t *testing.T, id uuid.UUID) []uuid.UUID {
	t.Helper()
	chunks, _, err := b.store.Chunks(t.Context(), b.tenant, id, ragd.Page{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]uuid.UUID, len(chunks))
	for i, c := range chunks {
		ids[i] = c.ID
	}
	return ids
}

// crashingEmbedder stands for a worker killed mid-job: on its second call
// it cancels the job's context and fails as a cancelled request would.
type crashingEmbedder struct {
	embedder.Embedder
	calls  atomic.Int32
	cancel context.CancelFunc
}

func (c *crashingEmbedder) Embed(ctx context.Context, tenantID uuid.UUID, texts []string) (embedder.Result, error) {
	if c.calls.Add(1) == 2 && c.cancel != nil {
		c.cancel()
		return embedder.Result{}, ctx.Err()
	}
	return c.Embedder.Embed(ctx, tenantID, texts)
}

func TestPipelineIndexing(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]func(t *testing.T) search.VectorStore{
		"Embedded": func(t *testing.T) search.VectorStore {
			s, err := search.OpenEmbedded(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"Qdrant": func(t *testing.T) search.VectorStore {
			s, err := search.OpenQdrant(search.QdrantConfig{URL: qdranttest.Start(t)})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testPipelineIndexing(t, open(t))
		})
	}
}

func testPipelineIndexing(t *testing.T, vectors search.VectorStore) {
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	tenant := newTenant(t, pool)
	local, _ := embedder.NewLocal(32)
	crash := &crashingEmbedder{Embedder: local}
	stk := newStack(t, pool, search.SingleIndex(crash, vectors))
	store := stk.docs
	// 24 tokens cut the report into three chunks, so two embedding calls
	// of two: the second is the one that crashes.
	p := stk.pipeline(t, ingest.PipelineConfig{Chunking: chunker.Options{MaxTokens: 24, OverlapTokens: 4}, EmbedBatch: 2})
	c, err := store.Create(ctx, tenant.ID, ingest.Upload{Filename: "r.pdf", Content: ingest.BytesContent(extracttest.ReportPDF()), Type: extract.TypePDF}, ingest.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	doc := c.Document

	jobCtx, cancel := context.WithCancel(ctx)
	crash.cancel = cancel
	err = p.Process(jobCtx, tenant.ID, doc.ID, 1)
	if err == nil {
		t.Fatal("the killed run reported success")
	}
	// Queued or processing (a run shows its stage only after a while).
	if d, _ := store.Get(ctx, tenant.ID, doc.ID); d.Status != ingest.StatusProcessing && d.Status != ingest.StatusQueued {
		t.Fatalf("after the kill: %s", d.Status)
	}
	// The retry finishes the job with the exact number of points.
	crash.cancel = nil
	if err := p.Process(ctx, tenant.ID, doc.ID, 1); err != nil {
		t.Fatal(err)
	}
	d, _ := store.Get(ctx, tenant.ID, doc.ID)
	n, _ := vectors.Count(ctx, tenant.ID, search.Filter{DocumentIDs: []uuid.UUID{doc.ID}})
	if d.Status != ingest.StatusReady || d.ChunkCount == nil || n != *d.ChunkCount || n < 3 {
		t.Fatalf("after the retry: %s, %v chunks, %d points", d.Status, d.ChunkCount, n)
	}
	if d.EmbeddingTokens == nil || d.Timings.EmbedMS == nil {
		t.Fatalf("indexing timings missing: %+v", d.Timings)
	}

	// The vector store can be rebuilt from Postgres alone: wipe the
	// tenant's points, rebuild, and count them again.
	if err := vectors.DeleteTenant(ctx, tenant.ID); err != nil {
		t.Fatal(err)
	}
	other := uuid.New()
	st, err := p.Rebuild(ctx, &other, nil)
	if err != nil || st.Documents != 0 {
		t.Fatalf("rebuilding a tenant without documents: %+v, %v", st, err)
	}
	var reported int
	st, err = p.Rebuild(ctx, &tenant.ID, func(done, total int, _ ingest.RebuildStats) { reported = done })
	if err != nil || st.Documents != 1 || st.Chunks != n || reported != 1 {
		t.Fatalf("rebuild: %+v (progress %d), %v", st, reported, err)
	}
	if got, _ := vectors.Count(ctx, tenant.ID, search.Filter{}); got != n {
		t.Fatalf("after rebuild: %d points, want %d", got, n)
	}
	if d, _ := store.Get(ctx, tenant.ID, doc.ID); d.Status != ingest.StatusReady {
		t.Fatalf("rebuild changed the document's status to %s", d.Status)
	}
}

// slowEmbedder takes delay over each call.
type slowEmbedder struct {
	embedder.Embedder
	delay time.Duration
}

func (s slowEmbedder) Embed(ctx context.Context, tenantID uuid.UUID, texts []string) (embedder.Result, error) {
	time.Sleep(s.delay)
	return s.Embedder.Embed(ctx, tenantID, texts)
}

// TestPipelineShowsStagesOfLongRuns: a run shorter than ProgressAfter
// writes the document once, from queued to ready; a longer one shows its
// stage (from the timer, in the middle of a stage) and then each stage,
// and nothing is written after ready.
func TestPipelineShowsStagesOfLongRuns(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		after, embedDelay time.Duration
		want              string
	}{
		// want: the changes, in order; * stands for any number of
		// earlier stages (a new extraction child may take over 50ms).
		"Short": {after: time.Minute, want: "ready/"},
		"Long":  {after: 50 * time.Millisecond, embedDelay: 400 * time.Millisecond, want: "* processing/embedding processing/embedding processing/indexing ready/"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			pool := pgtest.NewPool(t)
			tenant := newTenant(t, pool)
			// Every change to a document, in order.
			if _, err := pool.Exec(ctx, `CREATE TABLE doc_history (seq serial, line text);
				CREATE FUNCTION note_doc() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
					INSERT INTO doc_history (line) VALUES (NEW.status || '/' || coalesce(NEW.stage, '') ||
						CASE WHEN NEW.started_at IS NULL THEN ' (no start)' ELSE '' END);
					RETURN NEW; END $$;
				CREATE TRIGGER note_doc AFTER UPDATE ON documents FOR EACH ROW EXECUTE FUNCTION note_doc();`); err != nil {
				t.Fatal(err)
			}
			local, _ := embedder.NewLocal(32)
			vectors, err := search.OpenEmbedded(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			st := newStack(t, pool, search.SingleIndex(slowEmbedder{local, tc.embedDelay}, vectors))
			store := st.docs
			p := st.pipeline(t, ingest.PipelineConfig{ProgressAfter: tc.after})
			c, err := store.Create(ctx, tenant.ID, ingest.Upload{Filename: "a.txt", Content: ingest.BytesContent([]byte("A short note.")), Type: extract.TypeText}, ingest.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Process(ctx, tenant.ID, c.Document.ID, 1); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond) // nothing more may come
			var lines []string
			rows, _ := pool.Query(ctx, "SELECT line FROM doc_history ORDER BY seq")
			lines, err = pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(lines, " ")
			if rest, ok := strings.CutPrefix(tc.want, "* "); ok {
				for len(lines) > 0 && lines[0] != "processing/embedding" {
					if !strings.HasPrefix(lines[0], "processing/") || strings.Contains(lines[0], "no start") {
						break
					}
					lines = lines[1:]
				}
				if strings.Join(lines, " ") != rest {
					t.Fatalf("the document's changes: %q, want %q", got, tc.want)
				}
			} else if got != tc.want {
				t.Fatalf("the document's changes: %q, want %q", got, tc.want)
			}
			d, _ := store.Get(ctx, tenant.ID, c.Document.ID)
			if tm := d.Timings; tm.StartedAt == nil || tm.FinishedAt == nil || tm.FinishedAt.Before(*tm.StartedAt) {
				t.Fatalf("timings %+v", d.Timings)
			}
		})
	}
}

func TestPipeline(t *testing.T) {
	t.Parallel()

	t.Run("RetryAfterACrashWritesTheSameChunks", func(t *testing.T) {
		t.Parallel()
		b := setupPipeline(t)
		d := b.create(t, "report.pdf", extracttest.ReportPDF())
		if err := b.pipeline.Process(t.Context(), b.tenant, d.ID, 1); err != nil {
			t.Fatal(err)
		}
		first := b.chunkIDs(t, d.ID)
		if len(first) < 2 {
			t.Fatalf("%d chunks, want several", len(first))
		}
		// The job runs again (a crash after the commit, or a second
		// delivery): same ids, no duplicates.
		if err := b.pipeline.Process(t.Context(), b.tenant, d.ID, 1); err != nil {
			t.Fatal(err)
		}
		second := b.chunkIDs(t, d.ID)
		if len(second) != len(first) {
			t.Fatalf("chunks after a second run: %d, want %d", len(second), len(first))
		}
		for i := range first {
			if first[i] != second[i] || first[i] != ingest.ChunkID(d.ID, 1, i) {
				t.Fatalf("chunk %d id changed: %s then %s", i, first[i], second[i])
			}
		}
		got, _ := b.store.Get(t.Context(), b.tenant, d.ID)
		if got.Status != ingest.StatusReady || *got.ChunkCount != len(first) {
			t.Fatalf("document = %+v", got)
		}
	})

	t.Run("DeletedOrSupersededDocumentsAreLeftAlone", func(t *testing.T) {
		t.Parallel()
		b := setupPipeline(t)
		if err := b.pipeline.Process(t.Context(), b.tenant, uuid.New(), 1); err != nil {
			t.Fatalf("a job for a document that does not exist: %v", err)
		}
		gone := b.create(t, "gone.txt", []byte("about to be deleted"))
		if _, err := b.store.Delete(t.Context(), b.tenant, gone.ID); err != nil {
			t.Fatal(err)
		}
		if err := b.pipeline.Process(t.Context(), b.tenant, gone.ID, 1); err != nil {
			t.Fatal(err)
		}
		if ids := b.chunkIDs(t, gone.ID); len(ids) != 0 {
			t.Fatalf("a deleting document got %d chunks", len(ids))
		}

		old := b.create(t, "v.txt", []byte("version one text"))
		if _, err := b.store.Reindex(t.Context(), b.tenant, old.ID, ingest.ReindexOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := b.pipeline.Process(t.Context(), b.tenant, old.ID, 1); err != nil {
			t.Fatal(err)
		}
		d, _ := b.store.Get(t.Context(), b.tenant, old.ID)
		if d.Status != ingest.StatusQueued || d.ContentVersion != 2 {
			t.Fatalf("a stale job changed the document: %+v", d)
		}
	})

	t.Run("OtherTenantCannotProcess", func(t *testing.T) {
		t.Parallel()
		b := setupPipeline(t)
		d := b.create(t, "a.txt", []byte("tenant A's text"))
		if err := b.pipeline.Process(t.Context(), uuid.New(), d.ID, 1); err != nil {
			t.Fatal(err)
		}
		got, _ := b.store.Get(t.Context(), b.tenant, d.ID)
		if got.Status != ingest.StatusQueued {
			t.Fatalf("a job naming another tenant touched the document: %s", got.Status)
		}
	})

	t.Run("BadFileFailsWithCode", func(t *testing.T) {
		t.Parallel()
		b := setupPipeline(t)
		pdf := extracttest.ReportPDF()
		d := b.create(t, "cut.pdf", pdf[:len(pdf)/3])
		err := b.pipeline.Process(t.Context(), b.tenant, d.ID, 1)
		if e, ok := ingest.AsError(err); !ok || e.Code != extract.CodePDFMalformed {
			t.Fatalf("err = %v", err)
		}
		got, _ := b.store.Get(t.Context(), b.tenant, d.ID)
		if got.Status != ingest.StatusFailed || got.Error == nil || got.Error.Code != extract.CodePDFMalformed {
			t.Fatalf("document = %+v", got)
		}
	})

	t.Run("CancelledRunIsTransient", func(t *testing.T) {
		t.Parallel()
		b := setupPipeline(t)
		d := b.create(t, "a.txt", []byte("text"))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := b.pipeline.Process(ctx, b.tenant, d.ID, 1)
		if _, ok := ingest.AsError(err); err == nil || ok {
			t.Fatalf("a cancelled run returned %v, want a transient error", err)
		}
		if err := b.pipeline.MarkFailed(t.Context(), b.tenant, d.ID, 1, err); err != nil {
			t.Fatal(err)
		}
		got, _ := b.store.Get(t.Context(), b.tenant, d.ID)
		if got.Status != ingest.StatusFailed || got.Error.Code != extract.CodeInternal {
			t.Fatalf("after MarkFailed: %+v", got)
		}
	})
}

// TestPipelineWithOpenAI runs the flow against a server speaking OpenAI's
// embeddings API: the chunks go out in one full request, and processing
// the same text again costs none.
func TestPipelineWithOpenAI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	tenant := newTenant(t, pool)
	fake := openaitest.Start(t, 64)
	oa, err := embedder.NewOpenAI(embedder.OpenAIConfig{APIKey: openaitest.Key, BaseURL: fake.URL, Dimensions: 64, Counter: chunkertest.CL100K(t)})
	if err != nil {
		t.Fatal(err)
	}
	vectors, err := search.OpenEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st := newStack(t, pool, search.SingleIndex(embedder.NewCached(oa, pool), vectors))
	store := st.docs
	p := st.pipeline(t, ingest.PipelineConfig{Chunking: chunker.Options{MaxTokens: 32, OverlapTokens: 4}})
	c, err := store.Create(ctx, tenant.ID, ingest.Upload{Filename: "r.pdf", Content: ingest.BytesContent(extracttest.ReportPDF()), Type: extract.TypePDF}, ingest.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Process(ctx, tenant.ID, c.Document.ID, 1); err != nil {
		t.Fatal(err)
	}
	d, _ := store.Get(ctx, tenant.ID, c.Document.ID)
	reqs := fake.Requests()
	if d.Status != ingest.StatusReady || len(reqs) != 1 || len(reqs[0].Inputs) != *d.ChunkCount || reqs[0].Dimensions != 64 {
		t.Fatalf("status %s, %d requests for %v chunks", d.Status, len(reqs), d.ChunkCount)
	}
	if _, err := store.Reindex(ctx, tenant.ID, d.ID, ingest.ReindexOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := p.Process(ctx, tenant.ID, d.ID, 2); err != nil {
		t.Fatal(err)
	}
	d, _ = store.Get(ctx, tenant.ID, d.ID)
	if len(fake.Requests()) != 1 || d.EmbeddingCacheHits == nil || *d.EmbeddingCacheHits != *d.ChunkCount {
		t.Fatalf("reprocessing the same text: %d requests in all, %v cache hits of %v", len(fake.Requests()), d.EmbeddingCacheHits, d.ChunkCount)
	}

	if u, err := store.Usage(ctx, tenant.ID); err != nil || u.EmbeddingTokens == 0 || u.Chunks != int64(*d.ChunkCount) {
		t.Fatalf("usage after ingest: %+v, %v", u, err)
	}

	// Search: a repeated question costs one embedding call in all.
	s := search.NewSearcher(oa, vectors, store, 8)
	for range 3 {
		res, err := s.Search(ctx, tenant.ID, search.Request{Query: "where do vectors live", Mode: search.ModeHybrid, TopK: 3})
		if err != nil || len(res.Hits) == 0 {
			t.Fatalf("search: %+v, %v", res, err)
		}
		for _, h := range res.Hits {
			if h.DocumentID != d.ID || h.DocumentTitle != "Introduction" { // page 1's largest line
				t.Fatalf("hit %+v", h)
			}
		}
	}
	if n := len(fake.Requests()); n != 2 {
		t.Fatalf("three identical searches made %d embedding requests, want 1", n-1)
	}
	// While a new version is being processed, the complete old one is found.
	if _, err := store.Reindex(ctx, tenant.ID, d.ID, ingest.ReindexOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := s.Search(ctx, tenant.ID, search.Request{Query: "where do vectors live", Mode: search.ModeSparse, TopK: 3})
	if err != nil || len(res.Hits) == 0 {
		t.Fatalf("during a reindex the document vanished: %+v, %v", res, err)
	}
}

// newTenant creates a tenant in the test database.
func newTenant(t testing.TB, pool *pgxpool.Pool) agents.Tenant {
	t.Helper()
	box, _ := secret.NewBox(secret.NewKey())
	tenant, err := agents.NewControlPlane(pool, box, nil).CreateTenant(context.Background(), agents.TenantPatch{Name: ragd.Some("T")})
	if err != nil {
		t.Fatal(err)
	}
	return tenant
}

// TestPipelinePassword: an upload's password waits for its job sealed (not
// in the clear), opens the PDF in the extraction child, and is gone once
// the version is ready; a document deleted before its job forgets it too.
func TestPipelinePassword(t *testing.T) {
	t.Parallel()
	const password = "sealed-until-the-job-runs"
	b := setupPipeline(t)
	pdf := extracttest.EncryptPDF(t, extracttest.ReportPDF(), t.TempDir(), "locked", password, "owner", "256")
	upload := func() ingest.Document {
		c, err := b.store.Create(t.Context(), b.tenant, ingest.Upload{Filename: "locked.pdf", Content: ingest.BytesContent(pdf), Type: extract.TypePDF,
			Password: password}, ingest.CreateOptions{AllowDuplicate: true})
		if err != nil {
			t.Fatal(err)
		}
		return c.Document
	}
	kept := func(id uuid.UUID) (sealed []byte) {
		err := b.pool.QueryRow(t.Context(), "SELECT sealed FROM document_passwords WHERE document_id = $1", id).Scan(&sealed)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			t.Fatal(err)
		}
		return sealed
	}

	d := upload()
	sealed := kept(d.ID)
	if sealed == nil || bytes.Contains(sealed, []byte(password)) {
		t.Fatalf("kept %q, want it sealed", sealed)
	}
	if err := b.pipeline.Process(t.Context(), b.tenant, d.ID, d.ContentVersion); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.store.Get(t.Context(), b.tenant, d.ID); got.Status != ingest.StatusReady {
		t.Fatalf("status %s, error %+v", got.Status, got.Error)
	}
	if kept(d.ID) != nil {
		t.Fatal("the password is kept after the job")
	}

	d = upload()
	// ragd reseal finds the waiting password by its binding and seals it
	// again with a new key, which then opens it.
	rotated, _ := secret.NewBox(secret.NewKey(), b.key)
	res, err := postgres.Reseal(t.Context(), b.pool, rotated, false, ingest.SealedPasswords)
	if err != nil || len(res) != 1 || res[0].Resealed != 1 || res[0].Unreadable != 0 {
		t.Fatalf("reseal: %+v, %v", res, err)
	}
	ad, err := ingest.SealedPasswords.Binding([]string{d.ID.String(), strconv.Itoa(d.ContentVersion)})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := rotated.Open(kept(d.ID), ad); err != nil || string(got) != password || !bytes.HasPrefix(kept(d.ID), rotated.CurrentPrefix()) {
		t.Fatalf("the resealed password: %q, %v", got, err)
	}
	if _, err := b.store.Delete(t.Context(), b.tenant, d.ID); err != nil {
		t.Fatal(err)
	}
	if kept(d.ID) != nil {
		t.Fatal("the password is kept after the document was deleted")
	}
}
