package ingest_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ragd/ragd"

	"github.com/ragd/ragd/embedder"
	"github.com/ragd/ragd/extract"
	"github.com/ragd/ragd/ingest"
	"github.com/ragd/ragd/postgres/pgtest"
	"github.com/ragd/ragd/search"
	"github.com/ragd/ragd/spaces"
)

type switchEmb struct {
	embedder.Embedder
	mu      sync.Mutex
	failErr error
	block   chan struct{}
	entered chan struct{}
}

func (s *switchEmb) Embed(ctx context.Context, tenantID uuid.UUID, texts []string) (embedder.Result, error) {
	s.mu.Lock()
	ferr, block, entered := s.failErr, s.block, s.entered
	s.mu.Unlock()
	if entered != nil {
		select {
		case <-entered:
		default:
			close(entered)
		}
	}
	if block != nil {
		<-block
	}
	if ferr != nil {
		return embedder.Result{}, ferr
	}
	return s.Embedder.Embed(ctx, tenantID, texts)
}

type migrationEnv struct {
	store    *ingest.Documents
	p        *ingest.Pipeline
	svc      *spaces.Service
	indexes  *search.Indexes
	target   *switchEmb
	tstore   *gateDelete
	to       search.Space
	tenant   uuid.UUID
	searcher *search.Searcher
	pool     *pgxpool.Pool
}

func setupMigrationRace(t *testing.T) *migrationEnv {
	def, _ := embedder.NewLocal(64)
	return setupMigrationWith(t, def)
}

// setupMigrationWith is setupMigrationRace with def as the default
// space's embedder (the local one at 64 dimensions, or a wrapper of it).
func setupMigrationWith(t *testing.T, def embedder.Embedder) *migrationEnv {
	pool := pgtest.NewPool(t)
	tenant := newTenant(t, pool)
	vectors, err := search.OpenEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vectors.Close() })
	l32, _ := embedder.NewLocal(32)
	target := &switchEmb{Embedder: l32}
	gd := &gateDelete{}
	to := search.Space{Model: embedder.LocalModel, Dimensions: 32}
	indexes := search.NewIndexes(search.Index{Embedder: def, Store: vectors}, func(ctx context.Context, sp search.Space) (search.Index, error) {
		if sp != to {
			return search.Index{}, search.ErrUnknownSpace
		}
		s, err := search.OpenEmbedded(t.TempDir())
		gd.VectorStore = s
		return search.Index{Embedder: target, Store: gd}, err
	})
	st := newStack(t, pool, indexes)
	p := st.pipeline(t, ingest.PipelineConfig{})
	return &migrationEnv{store: st.docs, p: p, svc: st.spaces, indexes: indexes, target: target, tstore: gd, to: to, tenant: tenant.ID,
		searcher: search.NewRoutedSearcher(indexes, st.spaces, st.docs, 0), pool: pool}
}

// rolledBack uploads a document, migrates to the target, cuts over and
// rolls back: the target's removal is then the settle job's to do.
func (e *migrationEnv) rolledBack(t *testing.T) spaces.Migration {
	t.Helper()
	ctx := context.Background()
	e.upload(t)
	m, err := e.create(e.tenant)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.p.BuildIndex(ctx, e.tenant, m.ID); err != nil {
		t.Fatal(err)
	}
	if m, err = e.svc.End(ctx, e.tenant, m.ID, spaces.Rollback); err != nil {
		t.Fatal(err)
	}
	return m
}

// create starts a migration to the target as the admin, with no rollback
// window.
func (e *migrationEnv) create(tenant uuid.UUID) (spaces.Migration, error) {
	return e.svc.Create(context.Background(), tenant, spaces.Request{Model: e.to.Model, Dimensions: e.to.Dimensions,
		RollbackWindowSeconds: new(int64), Admin: true, By: "t"})
}

func (e *migrationEnv) hits(t *testing.T) int {
	res, err := e.searcher.Search(context.Background(), e.tenant, search.Request{Query: "otter colony weir", Mode: search.ModeDense, TopK: 5})
	if err != nil {
		t.Fatal(err)
	}
	return len(res.Hits)
}

func (e *migrationEnv) upload(t *testing.T) uuid.UUID {
	ctx := context.Background()
	c, err := e.store.Create(ctx, e.tenant, ingest.Upload{Filename: "otter.txt", Type: extract.TypeText,
		Content: ingest.BytesContent([]byte("Notes about the otter colony by the weir."))}, ingest.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.p.Process(ctx, e.tenant, c.Document.ID, 1); err != nil {
		t.Fatal(err)
	}
	return c.Document.ID
}

// A permanent error of the migration target's model while a document is
// reindexed is not the document's: the migration fails, the document
// becomes ready at its new version, and it stays findable in the space
// search uses.
func TestMigrationTargetRefusalKeepsDocumentFindable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setupMigrationRace(t)
	id := e.upload(t)
	if n := e.hits(t); n == 0 {
		t.Fatal("no hits before the migration")
	}
	m, err := e.create(e.tenant)
	if err != nil {
		t.Fatal(err)
	}
	e.target.failErr = &embedder.Error{Kind: embedder.KindModel, Message: "model not served"}
	if _, err := e.store.Reindex(ctx, e.tenant, id, ingest.ReindexOptions{}); err != nil {
		t.Fatal(err)
	}
	err = e.p.Process(ctx, e.tenant, id, 2)
	var ie *ingest.Error
	if errors.As(err, &ie) {
		t.Fatalf("process v2: %v; the target's refusal is not the document's failure", err)
	}
	if err != nil {
		t.Fatalf("process v2: %v; the target's refusal ends the migration, and the run goes on", err)
	}
	if d, _ := e.store.Get(ctx, e.tenant, id); d.Status != ingest.StatusReady || d.ContentVersion != 2 {
		t.Fatalf("the document is %s at version %d after the migration target's refusal, want ready at 2", d.Status, d.ContentVersion)
	}
	if m, _ = e.svc.Get(ctx, e.tenant, m.ID); m.State != spaces.Failed || m.Error == nil {
		t.Fatalf("the migration whose target refused is %s (error %v), want failed with the cause", m.State, m.Error)
	}
	if n := e.hits(t); n == 0 {
		t.Error("the document findable at version 1 has no hits")
	}
}

// While a reindex embeds into the migration target, the document's
// searchable version stays findable in the space search uses.
func TestMigrationReindexKeepsDocumentFindable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setupMigrationRace(t)
	id := e.upload(t)
	if _, err := e.create(e.tenant); err != nil {
		t.Fatal(err)
	}
	e.target.block, e.target.entered = make(chan struct{}), make(chan struct{})
	if _, err := e.store.Reindex(ctx, e.tenant, id, ingest.ReindexOptions{}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- e.p.Process(ctx, e.tenant, id, 2) }()
	<-e.target.entered
	n := e.hits(t)
	close(e.target.block)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Error("no hits while the reindex embedded into the target")
	}
	if n := e.hits(t); n == 0 {
		t.Error("0 hits after the run")
	}
}

type gateDelete struct {
	search.VectorStore
	mu      sync.Mutex
	armed   bool
	entered chan struct{}
	release chan struct{}

	tenantEntered, tenantRelease chan struct{}
}

// holdTenantDelete makes the next DeleteTenant wait until release is
// closed; entered is closed when it starts waiting.
func (g *gateDelete) holdTenantDelete() (entered, release chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.tenantEntered, g.tenantRelease = make(chan struct{}), make(chan struct{})
	return g.tenantEntered, g.tenantRelease
}

func (g *gateDelete) DeleteTenant(ctx context.Context, tenant uuid.UUID) error {
	g.mu.Lock()
	entered, release := g.tenantEntered, g.tenantRelease
	g.tenantEntered, g.tenantRelease = nil, nil
	g.mu.Unlock()
	if entered != nil {
		close(entered)
		<-release
	}
	return g.VectorStore.DeleteTenant(ctx, tenant)
}

func (g *gateDelete) DeleteDocument(ctx context.Context, tenant, doc uuid.UUID, v search.Versions) error {
	g.mu.Lock()
	armed := g.armed
	g.armed = false
	g.mu.Unlock()
	if armed {
		close(g.entered)
		<-g.release
	}
	return g.VectorStore.DeleteDocument(ctx, tenant, doc, v)
}

// A run that finished after its migration was cancelled removes its
// points from the cancelled target under the tenant's space lock, so a
// migration back to that space, created meanwhile, waits for it and then
// embeds the document itself: search finds it after the cut-over.
func TestMigrationDropUnusedWaitsForANewMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setupMigrationRace(t)
	c, err := e.store.Create(ctx, e.tenant, ingest.Upload{Filename: "otter.txt", Type: extract.TypeText,
		Content: ingest.BytesContent([]byte("Notes about the otter colony by the weir."))}, ingest.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m1, err := e.create(e.tenant)
	if err != nil {
		t.Fatal(err)
	}
	e.target.mu.Lock()
	e.target.block, e.target.entered = make(chan struct{}), make(chan struct{})
	e.target.mu.Unlock()
	e.tstore.mu.Lock()
	e.tstore.armed, e.tstore.entered, e.tstore.release = true, make(chan struct{}), make(chan struct{})
	e.tstore.mu.Unlock()
	done := make(chan error)
	go func() { done <- e.p.Process(ctx, e.tenant, c.Document.ID, 1) }()
	<-e.target.entered
	if _, err := e.svc.End(ctx, e.tenant, m1.ID, spaces.Cancel); err != nil {
		t.Fatal(err)
	}
	e.target.mu.Lock()
	blk := e.target.block
	e.target.block, e.target.entered = nil, nil
	e.target.mu.Unlock()
	close(blk)
	<-e.tstore.entered // the run committed ready and is removing its points from the target
	migrated := make(chan error)
	var m2 spaces.Migration
	go func() {
		var err error
		if m2, err = e.create(e.tenant); err != nil {
			migrated <- err
			return
		}
		migrated <- e.p.BuildIndex(ctx, e.tenant, m2.ID)
	}()
	// Release the removal only once the new migration waits for the lock
	// it holds, so that the test exercises that order.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var waiting int
		if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the new migration never waited for the removal's lock")
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(e.tstore.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := <-migrated; err != nil {
		t.Fatal(err)
	}
	if m, _ := e.svc.Get(ctx, e.tenant, m2.ID); m.State != spaces.Active {
		t.Fatalf("the second migration is %s", m.State)
	}
	if n := e.hits(t); n == 0 {
		t.Error("no hits after the second migration cut over")
	}
}

// With a rollback window of 0 (or complete right after the cut-over), a
// search that read the old space before the cut-over reaches the store
// after the old space lost the tenant's points: it reads the space again,
// and searches the new one.
type gateQuery struct {
	embedder.Embedder
	mu      sync.Mutex
	entered chan struct{}
	release chan struct{}
}

func (g *gateQuery) Embed(ctx context.Context, tenantID uuid.UUID, texts []string) (embedder.Result, error) {
	g.mu.Lock()
	en, rel := g.entered, g.release
	if len(texts) == 1 && texts[0] == "otter colony weir" && en != nil {
		g.entered = nil
		g.mu.Unlock()
		close(en)
		<-rel
	} else {
		g.mu.Unlock()
	}
	return g.Embedder.Embed(ctx, tenantID, texts)
}

func TestMigrationSearchInFlightAcrossCompletion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l64, _ := embedder.NewLocal(64)
	def := &gateQuery{Embedder: l64}
	e := setupMigrationWith(t, def)
	e.upload(t)
	m, err := e.create(e.tenant)
	if err != nil {
		t.Fatal(err)
	}
	def.mu.Lock()
	def.entered, def.release = make(chan struct{}), make(chan struct{})
	en, rel := def.entered, def.release
	def.mu.Unlock()
	type out struct {
		n   int
		sp  search.Space
		err error
	}
	done := make(chan out)
	go func() {
		res, err := e.searcher.Search(ctx, e.tenant, search.Request{Query: "otter colony weir", Mode: search.ModeDense, TopK: 5})
		done <- out{len(res.Hits), res.Space, err}
	}()
	<-en
	if err := e.p.BuildIndex(ctx, e.tenant, m.ID); err != nil {
		t.Fatal(err)
	}
	for range 2 { // active -> completed, completed -> drop the source
		if _, err := e.svc.Settle(ctx, e.tenant, m.ID); err != nil {
			t.Fatal(err)
		}
	}
	m, _ = e.svc.Get(ctx, e.tenant, m.ID)
	close(rel)
	o := <-done
	if m.State != spaces.Completed || o.err != nil || o.n == 0 || o.sp != e.to {
		t.Errorf("migration %s; the search in flight found %d in %v, %v", m.State, o.n, o.sp, o.err)
	}
}

// While a rolled-back migration's target loses the tenant's points, the
// removal holds no lock: the tenant's documents still become ready; and a
// migration back to that space waits (409) until the removal is done, even
// when a second removal of it ends first.
func TestMigrationRemovalHoldsNoLock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setupMigrationRace(t)
	m := e.rolledBack(t)
	entered, release := e.tstore.holdTenantDelete()
	settled := make(chan error)
	go func() {
		_, err := e.svc.Settle(ctx, e.tenant, m.ID)
		settled <- err
	}()
	<-entered
	// The tenant's ingestion goes on meanwhile.
	c, err := e.store.Create(ctx, e.tenant, ingest.Upload{Filename: "holt.txt", Type: extract.TypeText,
		Content: ingest.BytesContent([]byte("Field notes on the otter holt by the weir, second survey."))}, ingest.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bounded, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := e.p.Process(bounded, e.tenant, c.Document.ID, 1); err != nil {
		t.Fatalf("a document of the tenant could not become ready during the removal: %v", err)
	}
	// A second removal of the same space (a second settle, or the
	// cancelled build job's) ends first: the first one's guard stays.
	if _, err := e.svc.Settle(ctx, e.tenant, m.ID); err != nil {
		t.Fatal(err)
	}
	var ce *ragd.ConflictError
	if _, err := e.create(e.tenant); !errors.As(err, &ce) {
		t.Fatalf("a migration to the space being cleared: %v, want a conflict", err)
	}
	close(release)
	if err := <-settled; err != nil {
		t.Fatal(err)
	}
	m2, err := e.create(e.tenant)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.p.BuildIndex(ctx, e.tenant, m2.ID); err != nil {
		t.Fatal(err)
	}
	if n := e.hits(t); n != 2 {
		t.Fatalf("%d hits after the second migration, want both documents", n)
	}
}

type armEmb struct {
	embedder.Embedder
	mu      sync.Mutex
	entered chan struct{}
	release chan struct{}
}

func (a *armEmb) Embed(ctx context.Context, tenantID uuid.UUID, texts []string) (embedder.Result, error) {
	a.mu.Lock()
	en, rel := a.entered, a.release
	a.entered, a.release = nil, nil
	a.mu.Unlock()
	if en != nil {
		close(en)
		<-rel
	}
	return a.Embedder.Embed(ctx, tenantID, texts)
}

// A reindex whose finish finds a migration begun meanwhile embeds into its
// target too, and the target refuses for good: throughout, the searchable
// version stays findable; the refusal fails the migration, not the
// document, which then becomes ready at its new version.
func TestMigrationBegunDuringAReindex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l64, _ := embedder.NewLocal(64)
	def := &armEmb{Embedder: l64}
	e := setupMigrationWith(t, def)
	store, p, tenant, target, hits := e.store, e.p, e.tenant, e.target, func() int { return e.hits(t) }
	id := e.upload(t)
	if _, err := store.Reindex(ctx, tenant, id, ingest.ReindexOptions{}); err != nil {
		t.Fatal(err)
	}
	def.mu.Lock()
	def.entered, def.release = make(chan struct{}), make(chan struct{})
	den, drel := def.entered, def.release
	def.mu.Unlock()
	done := make(chan error)
	go func() { done <- p.Process(ctx, tenant, id, 2) }()
	<-den // the run read its write set (default only) and embeds v2
	m, err := e.create(tenant)
	if err != nil {
		t.Fatal(err)
	}
	target.mu.Lock()
	target.block, target.entered = make(chan struct{}), make(chan struct{})
	target.failErr = &embedder.Error{Kind: embedder.KindModel, Message: "model not served"}
	ten, tblk := target.entered, target.block
	target.mu.Unlock()
	close(drel)
	<-ten // finish said errSpacesChanged; the run now embeds into the target
	n := hits()
	target.mu.Lock()
	target.block = nil
	target.mu.Unlock()
	close(tblk)
	if err := <-done; err != nil {
		t.Fatalf("process v2: %v", err)
	}
	m, _ = e.svc.Get(ctx, tenant, m.ID)
	d, _ := store.Get(ctx, tenant, id)
	if n == 0 || hits() == 0 || m.State != spaces.Failed || d.Status != ingest.StatusReady || d.ContentVersion != 2 {
		t.Fatalf("hits %d while the target embedded, %d after; migration %s; document %s at %d", n, hits(), m.State, d.Status, d.ContentVersion)
	}
}
