package console_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ragd/ragd/api/apitest"
	"github.com/ragd/ragd/sources"
)

// gatedSite is a loopback site of three linked pages and a link that
// answers 404; while held, its start page waits to answer, so that a run
// stays running.
type gatedSite struct {
	*httptest.Server
	mu   sync.Mutex
	gate chan struct{} // nil: open
}

func newGatedSite(t *testing.T) *gatedSite {
	t.Helper()
	pages := map[string]string{
		"/":         `<h1>Garden club</h1><p>The garden club meets on Tuesdays.</p><a href="/watering">Watering</a> <a href="/tools">Tools</a> <a href="/gone">Old page</a>`,
		"/watering": `<h1>Watering</h1><p>Water the tomatoes every morning in July.</p>`,
		"/tools":    `<h1>Tools</h1><p>The shed holds the spades and the wheelbarrow.</p>`,
	}
	s := &gatedSite{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		s.mu.Lock()
		gate := s.gate
		s.mu.Unlock()
		if gate != nil && r.URL.Path == "/" {
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><html><head><title>%s</title></head><body>%s</body></html>", strings.TrimPrefix(r.URL.Path, "/"), body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *gatedSite) hold() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gate = make(chan struct{})
}

func (s *gatedSite) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.gate)
	s.gate = nil
}

// waitRuns reloads a source's page until n runs are shown and none is
// running, and returns it.
func waitRuns(t *testing.T, v *visitor, id string, n int) string {
	t.Helper()
	var page string
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		page = string(v.get("/console/sources/" + id).Body)
		if strings.Count(page, "<li data-run=") == n && !strings.Contains(page, `data-status="running"`) {
			return page
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %d ended runs on the source's page: %.4000s", n, page)
		}
	}
}

// TestConsoleSources: a site is added from the console; its page shows
// the first run's counts and the page that failed with why; the list
// shows the last run; Sync now starts a run, and again while it runs
// says so; bad input says what is wrong beside its field; another tenant
// gets 404; delete asks first, saying the documents go, and keeps them
// when asked to.
func TestConsoleSources(t *testing.T) {
	t.Parallel()
	site := newGatedSite(t)
	b := setupWith(t, apitest.Options{Sources: sources.Config{AllowPrivate: true, Delay: time.Millisecond, Timeout: 30 * time.Second}})
	_, key := b.TenantWithKey("sources-a", allScopes...)
	_, keyB := b.TenantWithKey("sources-b", allScopes...)
	a, other := b.signIn(key), b.signIn(keyB)

	if r := a.get("/console/sources"); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `id="sources-empty"`) ||
		!strings.Contains(string(r.Body), `<a href="/console/sources" aria-current="page">Sources</a>`) {
		t.Fatalf("the empty list: %d %.3000s", r.Status, r.Body)
	}
	r := a.post("/console/sources", url.Values{"csrf_token": {a.csrf()}, "type": {"website"}, "url": {site.URL + "/"},
		"exclude": {"/private/*\n\n/drafts/*"}, "max_depth": {"2"}, "schedule": {"weekly"}, "tags": {"garden, club"}})
	loc := r.Header.Get("Location")
	m := regexp.MustCompile(`^/console/sources/([0-9a-f-]+)\?done=source-added$`).FindStringSubmatch(loc)
	if r.Status != http.StatusSeeOther || m == nil {
		t.Fatalf("add a site: %d %q %.3000s", r.Status, loc, r.Body)
	}
	id := m[1]
	src := b.Must(200, "GET", "/v1/sources/"+id, key, nil).JSON(t)
	if fmt.Sprint(src["exclude"]) != "[/private/* /drafts/*]" || src["max_depth"] != 2.0 || src["max_pages"] != float64(sources.DefaultMaxPages) ||
		src["schedule"] != "weekly" || fmt.Sprint(src["tags"]) != "[club garden]" {
		t.Errorf("the source as added: %v", src)
	}
	if page := string(a.get(loc).Body); !strings.Contains(page, "its first run has started") {
		t.Errorf("the source's page after adding: %.3000s", page)
	}
	page := waitRuns(t, a, id, 1)
	for _, want := range []string{`data-status="completed"`, "4 fetched: 3 new, 0 changed, 0 unchanged, 0 removed, 1 failed", "1 failed page<",
		"<code>" + site.URL + "/gone</code>", "HTTP 404", "weekly", "<code>/private/*</code>, <code>/drafts/*</code>"} {
		if !strings.Contains(page, want) {
			t.Errorf("the source's page lacks %q: %.5000s", want, page[strings.Index(page, `id="facts"`):])
		}
	}
	list := string(a.get("/console/sources").Body)
	if !strings.Contains(list, `data-source="`+id+`"`) || !strings.Contains(list, `<span class="badge ready">completed</span>`) || !strings.Contains(list, "3 new") {
		t.Errorf("the list: %.4000s", list[strings.Index(list, `<section aria-labelledby="all">`):])
	}

	// Sync now, from the source's page; again while that run runs.
	site.hold()
	r = a.post("/console/sources/"+id+"/sync", url.Values{"csrf_token": {a.csrf()}, "from": {"source"}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/console/sources/"+id+"?done=source-synced" {
		t.Fatalf("sync now: %d %q %.300s", r.Status, r.Header.Get("Location"), r.Body)
	}
	r = a.post("/console/sources/"+id+"/sync", url.Values{"csrf_token": {a.csrf()}})
	if r.Header.Get("Location") != "/console/sources/"+id+"?done=source-running" || !strings.Contains(string(a.get(r.Header.Get("Location")).Body), "running already") {
		t.Errorf("sync while a run runs: %d %q", r.Status, r.Header.Get("Location"))
	}
	site.release()
	if page := waitRuns(t, a, id, 2); !strings.Contains(page, "0 new, 0 changed, 3 unchanged") || !strings.Contains(page, "manual") {
		t.Errorf("the second run: %.4000s", page[strings.Index(page, `id="runs"`):])
	}

	// Bad input: the API's message beside its field, and the form as typed.
	r = a.post("/console/sources", url.Values{"csrf_token": {a.csrf()}, "type": {"website"}, "url": {"ftp://example.com/x"}, "include": {"docs/*"}, "tags": {"kept"}})
	body := string(r.Body)
	if r.Status != http.StatusBadRequest || !strings.Contains(body, `id="source-url-error"><p class="field-error"`) ||
		!strings.Contains(body, `id="source-include-error"><p class="field-error" role="alert">include[0]: must be a URL path pattern`) || !strings.Contains(body, `value="kept"`) {
		t.Errorf("a bad URL and pattern: %d %.5000s", r.Status, body)
	}
	r = a.post("/console/sources", url.Values{"csrf_token": {a.csrf()}, "type": {"website"}, "url": {site.URL}, "max_pages": {"lots"}})
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `id="source-max-pages-error"><p class="field-error" role="alert">must be a whole number`) {
		t.Errorf("max pages not a number: %d %.3000s", r.Status, r.Body)
	}

	// Another tenant: 404 on every route, and nothing changes.
	if r := other.get("/console/sources/" + id); r.Status != http.StatusNotFound || strings.Contains(string(r.Body), site.URL) {
		t.Errorf("tenant B's GET: %d", r.Status)
	}
	for _, path := range []string{"/sync", "/delete"} {
		if r := other.post("/console/sources/"+id+path, url.Values{"csrf_token": {other.csrf()}, "confirm": {"yes"}}); r.Status != http.StatusNotFound {
			t.Errorf("tenant B's POST %s: %d", path, r.Status)
		}
	}
	if strings.Contains(string(other.get("/console/sources").Body), site.URL) {
		t.Error("tenant B's list shows tenant A's source")
	}

	// Delete asks first, saying the documents go; with the box ticked,
	// they stay.
	r = a.post("/console/sources/"+id+"/delete", url.Values{"csrf_token": {a.csrf()}})
	if body := string(r.Body); r.Status != http.StatusOK || !strings.Contains(body, `name="confirm" value="yes"`) || !strings.Contains(body, "and its 3 documents?") ||
		!strings.Contains(body, `name="keep_documents" value="true"`) {
		t.Fatalf("delete without confirmation: %d %.3000s", r.Status, r.Body)
	}
	b.Must(200, "GET", "/v1/sources/"+id, key, nil)
	r = a.post("/console/sources/"+id+"/delete", url.Values{"csrf_token": {a.csrf()}, "confirm": {"yes"}, "keep_documents": {"true"}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/console/sources?done=source-deleted" || b.Req("GET", "/v1/sources/"+id, key, nil).Status != 404 {
		t.Fatalf("confirmed delete, keeping the documents: %d %q", r.Status, r.Header.Get("Location"))
	}
	if n := len(b.Must(200, "GET", "/v1/documents?tag=garden", key, nil).JSON(t)["data"].([]any)); n != 3 {
		t.Errorf("%d documents kept, want 3", n)
	}

	// Without the box, the documents go with the source.
	r = a.post("/console/sources", url.Values{"csrf_token": {a.csrf()}, "type": {"url"}, "url": {site.URL + "/tools"}, "tags": {"shed"}})
	id = regexp.MustCompile(`^/console/sources/([0-9a-f-]+)\?`).FindStringSubmatch(r.Header.Get("Location"))[1]
	waitRuns(t, a, id, 1)
	r = a.post("/console/sources/"+id+"/delete", url.Values{"csrf_token": {a.csrf()}, "confirm": {"yes"}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/console/sources?done=source-deleting" {
		t.Fatalf("confirmed delete: %d %q", r.Status, r.Header.Get("Location"))
	}
	apitest.Eventually(t, "the source and its document to go", func() bool {
		return b.Req("GET", "/v1/sources/"+id, key, nil).Status == 404 &&
			len(b.Must(200, "GET", "/v1/documents?tag=shed", key, nil).JSON(t)["data"].([]any)) == 0
	})
}
