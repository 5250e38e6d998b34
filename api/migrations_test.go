package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ragd/ragd/api/apitest"
	"github.com/ragd/ragd/embedder"
	"github.com/ragd/ragd/embedder/openaitest"
	"github.com/ragd/ragd/search"
)

// findableDoc is a document a search must find: by its own word (hybrid),
// and by its chunk's indexed text (dense, where only the same model on
// both sides scores near 1).
type findableDoc struct {
	id, word, indexText string
}

type findables struct {
	mu   sync.Mutex
	docs []findableDoc
}

func (f *findables) add(d findableDoc) {
	f.mu.Lock()
	f.docs = append(f.docs, d)
	f.mu.Unlock()
}

func (f *findables) all() []findableDoc {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]findableDoc(nil), f.docs...)
}

// markerWord is a word no other test document holds.
func markerWord(i int) string { return fmt.Sprintf("quokka%c%c", 'a'+i/26, 'a'+i%26) }

// uploadFindable uploads a one-chunk document and waits until it is ready.
func (b *testBundle) uploadFindable(key string, i int) findableDoc {
	b.t.Helper()
	word := markerWord(i)
	title := "Field note " + word
	text := fmt.Sprintf("The %s was seen near the river on day %d, eating leaves with the others.", word, i)
	id := b.Must(202, "POST", "/v1/documents", key, map[string]any{"title": title, "text": text}).JSON(b.t)["id"].(string)
	if d := b.WaitDocument(key, id); d["status"] != "ready" {
		b.t.Fatalf("document %s: %v", id, d)
	}
	chunks := b.Must(200, "GET", "/v1/documents/"+id+"/chunks", key, nil).JSON(b.t)["data"].([]any)
	if len(chunks) != 1 {
		b.t.Fatalf("document %s has %d chunks, want 1", id, len(chunks))
	}
	return findableDoc{id: id, word: word, indexText: title + "\n" + chunks[0].(map[string]any)["text"].(string)}
}

// searchOnce searches without the testing.T (for goroutines): the hits'
// documents and scores, and the embedding space searched.
func searchOnce(url, key string, body map[string]any) (ids []string, scores []float64, space string, err error) {
	js, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url+"/v1/search", bytes.NewReader(js))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, "", err
	}
	defer resp.Body.Close()
	var out struct {
		Data []struct {
			DocumentID string  `json:"document_id"`
			Score      float64 `json:"score"`
		} `json:"data"`
		Space search.Space `json:"embedding_space"`
	}
	if resp.StatusCode != 200 {
		return nil, nil, "", fmt.Errorf("status %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, nil, "", err
	}
	for _, h := range out.Data {
		ids, scores = append(ids, h.DocumentID), append(scores, h.Score)
	}
	return ids, scores, out.Space.String(), nil
}

// checkFindable searches for d both ways; "" when both found it as they
// must, else what went wrong. space is the space the dense search used.
func checkFindable(url, key string, d findableDoc) (space, problem string) {
	ids, _, _, err := searchOnce(url, key, map[string]any{"query": d.word, "mode": "hybrid", "top_k": 5})
	if err != nil {
		return "", "hybrid search for " + d.word + ": " + err.Error()
	}
	if !slices.Contains(ids, d.id) {
		return "", fmt.Sprintf("hybrid search for %s found %v, not %s", d.word, ids, d.id)
	}
	ids, scores, space, err := searchOnce(url, key, map[string]any{"query": d.indexText, "mode": "dense", "top_k": 1})
	if err != nil {
		return "", "dense search for " + d.word + ": " + err.Error()
	}
	// Vectors of two models for the same text are unrelated: only a query
	// embedded by the model that made the points scores near 1.
	if len(ids) == 0 || ids[0] != d.id || scores[0] < 0.95 {
		return space, fmt.Sprintf("dense search for %s's text in %s found %v scoring %v", d.word, space, ids, scores)
	}
	return space, ""
}

// waitMigration polls a migration until its state is want.
func (b *testBundle) waitMigration(path, want string) map[string]any {
	b.t.Helper()
	var m map[string]any
	apitest.Eventually(b.t, "the migration to be "+want, func() bool {
		m = b.Must(200, "GET", path, adminToken, nil).JSON(b.t)
		return m["state"] == want
	})
	return m
}

// pointsIn counts a tenant's points in a space's index.
func (b *testBundle) pointsIn(sp search.Space, tenant string) int {
	b.t.Helper()
	idx, err := b.spaces.Get(context.Background(), sp)
	if err != nil {
		b.t.Fatal(err)
	}
	n, err := idx.Store.Count(context.Background(), uuid.MustParse(tenant), search.Filter{})
	if err != nil {
		b.t.Fatal(err)
	}
	return n
}

// TestEmbeddingMigration moves a tenant to another model while searches
// and uploads go on: no search for a document findable before finds
// nothing, and none compares vectors of two models (a dense search for a
// chunk's own text scores near 1 only when the query and the points come
// from the same model). Then it rolls back, migrates again and completes,
// and cancels a third one, each time checking what is left in each index.
func TestEmbeddingMigration(t *testing.T) {
	t.Parallel()
	b := setupOpenAI(t)
	const large = "text-embedding-3-large"
	b.openai.AddModel(large, 32)
	small := search.Space{Model: "text-embedding-3-small", Dimensions: 64}
	big := search.Space{Model: large, Dimensions: 32}
	var slow atomic.Bool
	b.openai.SetBefore(func(r openaitest.Request) {
		if slow.Load() && r.Model == large {
			time.Sleep(150 * time.Millisecond)
		}
	})
	tenantA, keyA := b.TenantWithKey("alpha")
	tenantB, keyB := b.TenantWithKey("beta")
	docs := &findables{}
	for i := range 10 {
		docs.add(b.uploadFindable(keyA, i))
	}
	docB := b.uploadFindable(keyB, 99)
	base := "/v1/tenants/" + tenantA + "/embedding-migrations"

	// The estimate, and nothing started by it.
	dry := b.Must(200, "POST", base+"?dry_run=true", adminToken, map[string]any{"model": large, "dimensions": 32}).JSON(t)
	est := dry["estimate"].(map[string]any)
	if est["documents"] != 10.0 || est["chunks"] != 10.0 || est["tokens"].(float64) < 10*15 {
		t.Fatalf("estimate: %v", est)
	}
	if cost := est["cost_usd"].(float64); math.Abs(cost-est["tokens"].(float64)*0.13/1e6) > 1e-12 {
		t.Fatalf("cost %v for %v tokens at $0.13 per million", cost, est["tokens"])
	}
	if dry["state"] != "dry_run" || dry["from"].(map[string]any)["model"] != small.Model {
		t.Fatalf("dry run: %v", dry)
	}
	if n := len(b.Must(200, "GET", base, adminToken, nil).JSON(t)["data"].([]any)); n != 0 {
		t.Fatalf("a dry run left %d migrations", n)
	}
	// A model the provider does not serve is refused at once.
	if r := b.Must(400, "POST", base, adminToken, map[string]any{"model": "missing-model", "dimensions": 32}); !strings.Contains(string(r.Body), "does not exist") {
		t.Fatalf("unknown model: %s", r.Body)
	}

	// Searchers, from before the migration to after its cut-over.
	ctx, stopSearching := context.WithCancel(context.Background())
	var mu sync.Mutex
	var problems []string
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := ""
			for ctx.Err() == nil {
				for _, d := range docs.all() {
					space, problem := checkFindable(b.url, keyA, d)
					mu.Lock()
					if problem != "" {
						problems = append(problems, problem)
					}
					if space != "" {
						seen[space]++
						// One step: once a search used the new index, none
						// goes back to the old one.
						if last == big.String() && space == small.String() {
							problems = append(problems, "a search used the old index after one used the new")
						}
						last = space
					}
					mu.Unlock()
				}
			}
		}()
	}
	// Searches in the old index before the migration starts.
	waitFor(t, "a search in the old index", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return seen[small.String()] > 0
	})

	slow.Store(true)
	r := b.Must(202, "POST", base, adminToken, map[string]any{"model": large, "dimensions": 32, "rollback_window_seconds": 3600})
	m := r.JSON(t)
	path := base + "/" + m["id"].(string)
	if m["state"] != "building" || r.Header.Get("Location") != path {
		t.Fatalf("created: %v, Location %q", m, r.Header.Get("Location"))
	}
	if code := b.Must(409, "POST", base, adminToken, map[string]any{"model": large, "dimensions": 48}).Code(t); code != "conflict" {
		t.Fatalf("second migration: %s", code)
	}
	// Uploads while it builds are embedded with both models.
	during := 0
	for i := 10; i < 14; i++ {
		d := b.uploadFindable(keyA, i)
		docs.add(d)
		if b.Must(200, "GET", path, adminToken, nil).JSON(t)["state"] == "building" {
			during++
		}
	}
	if during == 0 {
		t.Fatal("no upload became ready while the migration was building; the test proves nothing")
	}
	active := b.waitMigration(path, "active")
	slow.Store(false)
	if p := active["progress"].(map[string]any); p["fraction"] != 1.0 || p["documents"].(float64) < 10 || active["cut_over_at"] == nil {
		t.Fatalf("active: %v", active)
	}
	cut, _ := time.Parse(time.RFC3339Nano, active["cut_over_at"].(string))
	retire, _ := time.Parse(time.RFC3339Nano, active["retire_after"].(string))
	if d := retire.Sub(cut); d != time.Hour {
		t.Fatalf("retire_after is %s after the cut-over, want 1h", d)
	}
	// A version made ready after the cut-over goes to both, for a rollback.
	docs.add(b.uploadFindable(keyA, 14))
	mu.Lock()
	inNew := seen[big.String()]
	mu.Unlock()
	waitFor(t, "more searches in the new index", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return seen[big.String()] > inNew+2*len(docs.all())
	})
	stopSearching()
	wg.Wait()
	if len(problems) > 0 {
		t.Fatalf("%d searches went wrong during the migration, first: %s", len(problems), problems[0])
	}
	if seen[small.String()] == 0 || seen[big.String()] == 0 {
		t.Fatalf("searches used %v; want both the old index (before) and the new (after)", seen)
	}
	all := docs.all()
	if got := b.pointsIn(big, tenantA); got != len(all) {
		t.Fatalf("the new index holds %d of the tenant's points, want %d", got, len(all))
	}
	// The other tenant is where it was.
	if space, problem := checkFindable(b.url, keyB, docB); problem != "" || space != small.String() {
		t.Fatalf("tenant B: %s, %s", space, problem)
	}
	if got := b.pointsIn(big, tenantB); got != 0 {
		t.Fatalf("tenant B has %d points in the new index", got)
	}
	// Query embeddings now come from the new model.
	var largeQueries int
	for _, q := range b.openai.Requests() {
		if q.Model == large && len(q.Inputs) == 1 && q.Inputs[0] == all[0].indexText {
			largeQueries++
		}
	}
	if largeQueries == 0 {
		t.Fatal("no query was embedded with the new model")
	}

	// Roll back: search returns to the old index at once, with every
	// document, and the new index loses the tenant's points.
	if st := b.Must(200, "POST", path+"/rollback", adminToken, nil).JSON(t)["state"]; st != "rolled_back" {
		t.Fatalf("rollback: %v", st)
	}
	for _, d := range all {
		if space, problem := checkFindable(b.url, keyA, d); problem != "" || space != small.String() {
			t.Fatalf("after the rollback: %s, %s", space, problem)
		}
	}
	waitFor(t, "the new index to lose the tenant's points", func() bool { return b.pointsIn(big, tenantA) == 0 })
	if code := b.Must(409, "POST", path+"/rollback", adminToken, nil).Code(t); code != "conflict" {
		t.Fatalf("second rollback: %s", code)
	}

	// Again, then completed at once: the old index loses the tenant's
	// points and keeps the other tenant's.
	path = base + "/" + b.Must(202, "POST", base, adminToken, map[string]any{"model": large, "dimensions": 32}).JSON(t)["id"].(string)
	b.waitMigration(path, "active")
	if code := b.Must(409, "POST", path+"/cancel", adminToken, nil).Code(t); code != "conflict" {
		t.Fatalf("cancel of an active migration: %s", code)
	}
	if st := b.Must(200, "POST", path+"/complete", adminToken, nil).JSON(t)["state"]; st != "completed" {
		t.Fatalf("complete: %v", st)
	}
	waitFor(t, "the old index to lose the tenant's points", func() bool { return b.pointsIn(small, tenantA) == 0 })
	if b.pointsIn(small, tenantB) != 1 {
		t.Fatal("completing A's migration removed B's points")
	}
	for _, d := range all {
		if space, problem := checkFindable(b.url, keyA, d); problem != "" || space != big.String() {
			t.Fatalf("after completing: %s, %s", space, problem)
		}
	}

	// A third, back to the default model: the embedding cache answers for
	// every text the tenant embedded with it before, so it costs nothing.
	path = base + "/" + b.Must(202, "POST", base, adminToken, map[string]any{"model": small.Model, "dimensions": 64, "rollback_window_seconds": 0}).JSON(t)["id"].(string)
	back := b.waitMigration(path, "active")
	if p := back["progress"].(map[string]any); p["embedding_tokens"] != 0.0 || p["cache_hits"] != float64(len(all)) {
		t.Fatalf("migrating back: %v", p)
	}
	b.waitMigration(path, "completed") // a rollback window of 0
	waitFor(t, "the new index to lose the tenant's points", func() bool { return b.pointsIn(big, tenantA) == 0 })

	// A fourth, cancelled while its job is held in the middle of a
	// document: search stays where it was, and the target keeps none of
	// the tenant's points.
	const third = "embed-v3"
	b.openai.AddModel(third, 24)
	var probe atomic.Int32
	probe.Store(1)
	held, release := make(chan struct{}, 1), make(chan struct{})
	b.openai.SetBefore(func(r openaitest.Request) {
		if r.Model == third && probe.Add(-1) < 0 {
			select {
			case held <- struct{}{}:
			default:
			}
			<-release
		}
	})
	path = base + "/" + b.Must(202, "POST", base, adminToken, map[string]any{"model": third, "dimensions": 24}).JSON(t)["id"].(string)
	select {
	case <-held:
	case <-time.After(30 * time.Second):
		t.Fatal("the build job never asked for an embedding")
	}
	if st := b.Must(200, "POST", path+"/cancel", adminToken, nil).JSON(t)["state"]; st != "cancelled" {
		t.Fatalf("cancel: %v", st)
	}
	close(release)
	// (The settle jobs scheduled for the end of earlier rollback windows
	// stay scheduled.)
	waitFor(t, "the build job to stop", func() bool {
		var n int
		_ = b.pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind IN ('build_embedding_index', 'settle_embedding_migration')
			AND state NOT IN ('completed', 'cancelled', 'discarded', 'scheduled')`).Scan(&n)
		return n == 0
	})
	if got := b.pointsIn(search.Space{Model: third, Dimensions: 24}, tenantA); got != 0 {
		t.Fatalf("the cancelled target keeps %d of the tenant's points", got)
	}
	for _, d := range all {
		if space, problem := checkFindable(b.url, keyA, d); problem != "" || space != small.String() {
			t.Fatalf("after the cancel: %s, %s", space, problem)
		}
	}
	var states []string
	for _, m := range b.Must(200, "GET", base, adminToken, nil).JSON(t)["data"].([]any) {
		states = append(states, m.(map[string]any)["state"].(string))
	}
	if strings.Join(states, ",") != "rolled_back,completed,completed,cancelled" {
		t.Fatalf("migrations: %v", states)
	}
}

// TestEmbeddingMigrationRequests covers who may migrate and what is
// refused: the scope, the spaces the operator offers tenants, another
// tenant's migration, and malformed requests.
func TestEmbeddingMigrationRequests(t *testing.T) {
	t.Parallel()
	offered := search.Space{Model: embedder.LocalModel, Dimensions: 32}
	b := setupWith(t, apitest.Options{OfferedSpaces: []search.Space{offered}})
	tenantA, keyA := b.TenantWithKey("alpha", "documents:read", "documents:write", "search", "embeddings:write")
	_, plain := b.TenantWithKey("beta") // the default scopes
	_, keyC := b.TenantWithKey("gamma", "embeddings:write", "search")
	b.uploadFindable(keyA, 0)
	good := map[string]any{"model": offered.Model, "dimensions": 32}

	if code := b.Must(403, "POST", "/v1/embedding-migrations", plain, good).Code(t); code != "forbidden_scope" {
		t.Fatalf("without the scope: %s", code)
	}
	for name, body := range map[string]any{
		"no model":         map[string]any{"dimensions": 32},
		"model with space": map[string]any{"model": "a b", "dimensions": 32},
		"long model":       map[string]any{"model": strings.Repeat("m", 201), "dimensions": 32},
		"few dimensions":   map[string]any{"model": offered.Model, "dimensions": 7},
		"many dimensions":  map[string]any{"model": offered.Model, "dimensions": 16385},
		"negative window":  map[string]any{"model": offered.Model, "dimensions": 32, "rollback_window_seconds": -1},
		"long window":      map[string]any{"model": offered.Model, "dimensions": 32, "rollback_window_seconds": 31 * 86400},
		"current space":    map[string]any{"model": offered.Model, "dimensions": 64},
		"not offered":      map[string]any{"model": offered.Model, "dimensions": 48},
		"wrong type":       map[string]any{"model": 5, "dimensions": "32"},
	} {
		r := b.Req("POST", "/v1/embedding-migrations", keyA, body)
		if r.Status != 400 {
			t.Errorf("%s: status %d: %s", name, r.Status, r.Body)
		}
	}
	for _, raw := range []string{"", "{", "null", `{"model": "` + offered.Model + `", "dimensions": 32, "extra": true}`, strings.Repeat("[", 100000)} {
		if r := b.Req("POST", "/v1/embedding-migrations", keyA, raw); r.Status != 400 && r.Status != 413 {
			t.Errorf("body %.20q: status %d: %s", raw, r.Status, r.Body)
		}
	}
	// The admin may choose a space not offered, but the local embedder has
	// one model.
	if r := b.Req("POST", "/v1/tenants/"+tenantA+"/embedding-migrations", adminToken, map[string]any{"model": "other-model", "dimensions": 32}); r.Status != 400 || !strings.Contains(string(r.Body), "not available") {
		t.Fatalf("a model the server cannot embed with: %d %s", r.Status, r.Body)
	}
	for _, p := range []string{"/v1/tenants/" + uuid.NewString() + "/embedding-migrations", "/v1/tenants/not-a-uuid/embedding-migrations"} {
		b.Must(404, "POST", p, adminToken, good)
	}
	b.Must(403, "POST", "/v1/tenants/"+tenantA+"/embedding-migrations", keyA, good)

	m := b.Must(202, "POST", "/v1/embedding-migrations", keyA, good).JSON(t)
	id := m["id"].(string)
	if m["created_by"] != "tenant" {
		t.Fatalf("created_by %v", m["created_by"])
	}
	// Another tenant sees nothing of it and cannot touch it.
	b.Must(404, "GET", "/v1/embedding-migrations/"+id, keyC, nil)
	b.Must(404, "POST", "/v1/embedding-migrations/"+id+"/cancel", keyC, nil)
	if n := len(b.Must(200, "GET", "/v1/embedding-migrations", keyC, nil).JSON(t)["data"].([]any)); n != 0 {
		t.Fatalf("tenant C lists %d migrations", n)
	}
	b.Must(404, "GET", "/v1/embedding-migrations/not-a-uuid", keyA, nil)
	b.Must(200, "GET", "/v1/embedding-migrations/"+id, keyA, nil)
	b.Must(200, "GET", "/v1/embedding-migrations/"+id, adminToken, nil, "Ragd-Tenant", tenantA)
	b.waitMigration("/v1/tenants/"+tenantA+"/embedding-migrations/"+id, "active")
	if sp := b.Must(200, "POST", "/v1/search", keyA, map[string]any{"query": markerWord(0)}).JSON(t)["embedding_space"].(map[string]any); sp["dimensions"] != 32.0 {
		t.Fatalf("searched %v after the cut-over", sp)
	}
	b.Must(200, "POST", "/v1/embedding-migrations/"+id+"/rollback", keyA, nil)
	if sp := b.Must(200, "POST", "/v1/search", keyA, map[string]any{"query": markerWord(0)}).JSON(t)["embedding_space"].(map[string]any); sp["dimensions"] != 64.0 {
		t.Fatalf("searched %v after the rollback", sp)
	}
}

// TestEmbeddingMigrationsLeaveWorkersForUploads holds the build jobs of
// two tenants' migrations in the middle of a document, on a server with
// two workers: another tenant's upload still becomes ready, since the
// build jobs run in a queue of their own (one at a time here), not on the
// workers uploads need.
func TestEmbeddingMigrationsLeaveWorkersForUploads(t *testing.T) {
	t.Parallel()
	b := setupOpenAI(t)
	const slow = "text-embedding-3-large"
	b.openai.AddModel(slow, 32)
	held, release := make(chan struct{}, 2), make(chan struct{})
	b.openai.SetBefore(func(r openaitest.Request) {
		if r.Model == slow && !slices.Contains(r.Inputs, "ragd embedding probe") {
			select {
			case held <- struct{}{}:
			default:
			}
			<-release
		}
	})
	defer close(release)
	for i, slug := range []string{"alpha", "beta"} {
		tenant, key := b.TenantWithKey(slug)
		b.uploadFindable(key, i)
		b.Must(202, "POST", "/v1/tenants/"+tenant+"/embedding-migrations", adminToken, map[string]any{"model": slow, "dimensions": 32})
	}
	select {
	case <-held: // a build job is working, and holds its worker
	case <-time.After(30 * time.Second):
		t.Fatal("no build job asked for an embedding")
	}
	_, key := b.TenantWithKey("gamma")
	d := b.uploadFindable(key, 2) // fails unless a worker is free for it
	if _, problem := checkFindable(b.url, key, d); problem != "" {
		t.Fatal(problem)
	}
	// The second build job waits for the migrations' one worker.
	select {
	case <-held:
		t.Fatal("two build jobs ran at once on a two-worker server")
	case <-time.After(500 * time.Millisecond):
	}
}
