package api_test

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ragd/ragd/api/apitest"
	"github.com/ragd/ragd/sources"
	"github.com/ragd/ragd/webhooks"
)

// testSite is a website on loopback: pages by path (an HTML body each),
// robots.txt, redirects (one a loop), a slow page, a huge page, a calendar
// that links on forever, a PDF, and links to another host and to a
// private address. It answers conditional requests (ETag) with 304, and
// counts what it was asked.
type testSite struct {
	srv         *httptest.Server
	mu          sync.Mutex
	pages       map[string]string
	pdf         []byte
	hits        map[string]int // GETs by path and query
	notModified int
}

func newTestSite(t *testing.T) *testSite {
	t.Helper()
	pdf, err := os.ReadFile("../examples/leave-policy.pdf")
	if err != nil {
		t.Fatal(err)
	}
	s := &testSite{pages: map[string]string{}, pdf: pdf, hits: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	index := `<a href="/p/5?ref=nav#top">Page five</a> <a href="/old">old</a> <a href="/loop/a">loop</a>
		<a href="/slow">slow</a> <a href="/huge">huge</a> <a href="/calendar?month=1">calendar</a>
		<a href="/private/secret">private</a> <a href="http://other.invalid/page">elsewhere</a>
		<a href="http://10.0.0.1/admin">router</a> <a href="mailto:a@example.com">mail</a>
		<a href="/files/policy.pdf">policy</a>`
	for k := range 10 {
		index += fmt.Sprintf(` <a href="/s/%d">Section %d</a>`, k, k)
		sec := ""
		for i := k * 20; i < k*20+20; i++ {
			sec += fmt.Sprintf(` <a href="/p/%d">Page %d</a>`, i, i)
			s.pages[fmt.Sprintf("/p/%d", i)] = pageHTML(fmt.Sprintf("Guide to topic %d", i), fmt.Sprintf("/p/%d", i),
				fmt.Sprintf("Page %d explains topic%d in plain words for the handbook.", i, i), `<a href="/">home</a>`)
		}
		s.pages[fmt.Sprintf("/s/%d", k)] = pageHTML(fmt.Sprintf("Section %d", k), "", fmt.Sprintf("Section %d lists its pages.", k), sec)
	}
	s.pages["/"] = pageHTML("Home", "", "Welcome to the test site.", index)
	return s
}

func pageHTML(title, canonical, text, links string) string {
	c := ""
	if canonical != "" {
		c = `<link rel="canonical" href="` + canonical + `">`
	}
	return "<!doctype html><html><head><title>" + title + "</title>" + c + "</head><body><h1>" + title + "</h1><p>" + text + "</p>" + links + "</body></html>"
}

func (s *testSite) set(path, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if body == "" {
		delete(s.pages, path)
	} else {
		s.pages[path] = body
	}
}

func (s *testSite) counts() (hits map[string]int, notModified int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := map[string]int{}
	for k, v := range s.hits {
		h[k] = v
	}
	return h, s.notModified
}

func (s *testSite) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.hits[r.URL.RequestURI()]++
	body, ok := s.pages[r.URL.Path]
	s.mu.Unlock()
	switch p := r.URL.Path; {
	case p == "/robots.txt":
		fmt.Fprint(w, "User-agent: *\nDisallow: /private/\n")
	case p == "/old":
		http.Redirect(w, r, "/p/7", http.StatusMovedPermanently)
	case p == "/loop/a":
		http.Redirect(w, r, "/loop/b", http.StatusFound)
	case p == "/loop/b":
		http.Redirect(w, r, "/loop/a", http.StatusFound)
	case p == "/slow":
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	case p == "/huge":
		w.Header().Set("Content-Type", "text/html")
		chunk := strings.Repeat("<p>filler text</p>", 1000)
		for range 40 { // about 700 KiB, past the test's 256 KiB cap
			if _, err := w.Write([]byte(chunk)); err != nil {
				return
			}
		}
	case p == "/calendar":
		var m int
		fmt.Sscanf(r.URL.Query().Get("month"), "%d", &m)
		fmt.Fprint(w, pageHTML(fmt.Sprintf("Calendar %d", m), "", fmt.Sprintf("Events of month %d.", m),
			fmt.Sprintf(`<a href="/calendar?month=%d">next</a>`, m+1)))
	case p == "/files/policy.pdf":
		s.conditional(w, r, "application/pdf", s.pdf)
	case ok:
		s.conditional(w, r, "text/html; charset=utf-8", []byte(body))
	default:
		http.NotFound(w, r)
	}
}

func (s *testSite) conditional(w http.ResponseWriter, r *http.Request, ctype string, body []byte) {
	etag := fmt.Sprintf(`"%x"`, sha256.Sum256(body))[:18] + `"`
	if r.Header.Get("If-None-Match") == etag {
		s.mu.Lock()
		s.notModified++
		s.mu.Unlock()
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("ETag", etag)
	w.Header().Set("Content-Type", ctype)
	_, _ = w.Write(body)
}

// sourcesServer is ragd with sources allowed to fetch from loopback, at
// a test's pace.
func sourcesServer(t *testing.T, openai bool) (*apitest.Server, *apitest.Client) {
	t.Helper()
	srv := apitest.Start(t, apitest.Options{OpenAI: openai, Webhooks: webhookTestConfig(),
		Sources: sources.Config{AllowPrivate: true, Delay: time.Millisecond, Timeout: time.Second, MaxBytes: 256 << 10, Slice: 2 * time.Second}})
	return srv, srv.Client(t)
}

func webhookTestConfig() webhooks.Config {
	return webhooks.Config{AllowPrivate: true, Retries: fastRetries}
}

// waitRun waits for a source's run to end and returns it.
func waitRun(c *apitest.Client, key, sourceID, runID string) map[string]any {
	c.T.Helper()
	var run map[string]any
	apitest.Eventually(c.T, "run "+runID+" to end", func() bool {
		var out struct {
			Data []map[string]any `json:"data"`
		}
		if err := json.Unmarshal(c.Must(200, "GET", "/v1/sources/"+sourceID+"/runs", key, nil).Body, &out); err != nil {
			c.T.Fatal(err)
		}
		for _, r := range out.Data {
			if r["id"] == runID && r["status"] != "running" {
				run = r
				return true
			}
		}
		return false
	})
	return run
}

// documentsOf lists the tenant's documents (not deleting) by external id.
func documentsOf(c *apitest.Client, key string) map[string]map[string]any {
	c.T.Helper()
	out := map[string]map[string]any{}
	cursor := ""
	for {
		var page struct {
			Data       []map[string]any `json:"data"`
			NextCursor string           `json:"next_cursor"`
		}
		q := "/v1/documents?limit=100"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		if err := json.Unmarshal(c.Must(200, "GET", q, key, nil).Body, &page); err != nil {
			c.T.Fatal(err)
		}
		for _, d := range page.Data {
			if id, _ := d["external_id"].(string); id != "" {
				out[id] = d
			}
		}
		if page.NextCursor == "" {
			return out
		}
		cursor = page.NextCursor
	}
}

func waitAllSettled(c *apitest.Client, key string, n int) map[string]map[string]any {
	c.T.Helper()
	var docs map[string]map[string]any
	apitest.Eventually(c.T, fmt.Sprintf("%d documents ready or failed", n), func() bool {
		docs = documentsOf(c, key)
		if len(docs) != n {
			return false
		}
		for _, d := range docs {
			if d["status"] != "ready" && d["status"] != "failed" {
				return false
			}
		}
		return true
	})
	return docs
}

func num(v any) int {
	f, _ := v.(float64)
	return int(f)
}

func failureReasons(run map[string]any) map[string]string {
	out := map[string]string{}
	fs, _ := run["failures"].([]any)
	for _, f := range fs {
		m := f.(map[string]any)
		out[m["url"].(string)] = m["reason"].(string)
	}
	return out
}

// TestWebsiteSource crawls a 216-page site with every trap the issue
// names, then syncs it after 5 pages changed, 3 were removed and 2 were
// added: the second run processes exactly those (the removed ones are
// missing, and go at the third run), embeds only the changed text, asks
// conditionally for the rest, and each run sends its webhook.
func TestWebsiteSource(t *testing.T) {
	t.Parallel()
	srv, c := sourcesServer(t, true)
	site := newTestSite(t)
	_, key := c.TenantWithKey("site", apitest.AllScopes()...)
	rcv := newReceiver(t)
	hook := c.Must(201, "POST", "/v1/webhooks", key, map[string]any{"url": rcv.srv.URL + "/hook", "event_types": []string{sources.EventRunCompleted}}).JSON(t)
	rcv.setSecret(hook["secret"].(string))

	created := c.Must(201, "POST", "/v1/sources", key, map[string]any{"type": "website", "url": site.srv.URL + "/",
		"max_depth": 4, "max_pages": 300, "tags": []string{"site"}}).JSON(t)
	srcID := created["id"].(string)
	run1 := waitRun(c, key, srcID, created["run"].(map[string]any)["id"].(string))
	base := site.srv.URL
	if run1["status"] != "completed" || num(run1["new"]) != 216 || num(run1["failed"]) != 3 || num(run1["changed"]) != 0 {
		t.Fatalf("first run: %v", run1)
	}
	reasons := failureReasons(run1)
	for u, want := range map[string]string{base + "/loop/a": "redirects", base + "/slow": "timed out", base + "/huge": "larger than"} {
		if !strings.Contains(reasons[u], want) {
			t.Errorf("failure of %s: %q, want it to say %q (all: %v)", u, reasons[u], want, reasons)
		}
	}
	docs := waitAllSettled(c, key, 216)
	hits, _ := site.counts()
	if hits["/private/secret"] != 0 {
		t.Errorf("robots.txt disallows /private/, yet it was fetched %d times", hits["/private/secret"])
	}
	if hits["/calendar?month=5"] != 0 || hits["/calendar?month=4"] != 1 {
		t.Errorf("the calendar trap went past max_depth 4: %v", hits)
	}
	for _, want := range []string{"/", "/p/5", "/p/7", "/p/199", "/files/policy.pdf", "/calendar?month=4"} {
		d, ok := docs[base+want]
		if !ok || d["status"] != "ready" {
			t.Errorf("document of %s: %v", want, d)
		}
	}
	for _, not := range []string{"/p/5?ref=nav", "/old", "/calendar?month=5"} {
		if _, ok := docs[base+not]; ok {
			t.Errorf("%s is a document of its own", not)
		}
	}
	if d := docs[base+"/p/42"]; d["title"] != "Guide to topic 42" || d["tags"].([]any)[0] != "site" {
		t.Errorf("a page's title and tags: %v", d)
	}
	if d := docs[base+"/files/policy.pdf"]; d["type"] != "pdf" {
		t.Errorf("the PDF: %v", d)
	}
	// A hit cites the page on the web, beside the stored copy.
	found := c.Must(200, "POST", "/v1/search", key, map[string]any{"query": "topic42", "top_k": 1}).JSON(t)["data"].([]any)
	if len(found) != 1 || found[0].(map[string]any)["web_url"] != base+"/p/42" || found[0].(map[string]any)["document_title"] != "Guide to topic 42" {
		t.Errorf("a search for a page's words: %v", found)
	}
	first := map[string]float64{}
	for u, d := range docs {
		first[u] = d["content_version"].(float64)
	}

	// The site changes: 4 pages' text and a section (which links to two
	// new pages), 3 pages removed, and one page's markup only.
	for i := 10; i < 14; i++ {
		site.set(fmt.Sprintf("/p/%d", i), pageHTML(fmt.Sprintf("Page %d", i), "", fmt.Sprintf("Page %d was rewritten: changedword%d.", i, i), ""))
	}
	links := ""
	for i := range 20 {
		links += fmt.Sprintf(` <a href="/p/%d">Page %d</a>`, i, i)
	}
	site.set("/s/0", pageHTML("Section 0", "", "Section 0 lists its pages, and two new ones.",
		links+`<a href="/p/new1">new 1</a><a href="/p/new2">new 2</a>`))
	site.set("/p/new1", pageHTML("New 1", "", "Brand new page one, newword1.", ""))
	site.set("/p/new2", pageHTML("New 2", "", "Brand new page two, newword2.", ""))
	for _, p := range []string{"/p/20", "/p/21", "/p/22"} {
		site.set(p, "")
	}
	site.set("/p/9", strings.Replace(pageHTML("Guide to topic 9", "/p/9", "Page 9 explains topic9 in plain words for the handbook.", `<a href="/">home</a>`),
		"<body>", "<body><!-- built again -->", 1))
	_, before304 := site.counts()
	embedsBefore := len(srv.OpenAI.Requests())

	run2 := waitRun(c, key, srcID, c.Must(202, "POST", "/v1/sources/"+srcID+"/sync", key, nil).JSON(t)["id"].(string))
	if num(run2["new"]) != 2 || num(run2["changed"]) != 5 || num(run2["removed"]) != 0 || num(run2["failed"]) != 6 {
		t.Fatalf("second run: %v", run2)
	}
	for _, p := range []string{"/p/20", "/p/21", "/p/22"} {
		if r := failureReasons(run2)[base+p]; r != "HTTP 404" {
			t.Errorf("%s: %q, want HTTP 404", p, r)
		}
	}
	_, after304 := site.counts()
	// Every page that did not change was asked for conditionally and
	// answered 304, but /p/9, whose ETag changed with its markup, the
	// calendar's 4 (the site gives them no validators: their bytes are
	// compared) and the 2 reached through another URL (/old redirects to
	// /p/7, /p/5?ref=nav names /p/5 canonical), asked for without the
	// validators of the page they turn out to be.
	if got, want := after304-before304, num(run2["unchanged"])-1-4-2; got != want || want != 208-7 {
		t.Errorf("304s in the second run: %d, want %d (unchanged %d)", got, want, num(run2["unchanged"]))
	}
	docs = waitAllSettled(c, key, 218) // the removed pages' documents stay until the next run
	for u, d := range docs {
		p := strings.TrimPrefix(u, base)
		changed := p == "/s/0" || p == "/p/10" || p == "/p/11" || p == "/p/12" || p == "/p/13"
		switch v := d["content_version"].(float64); {
		case changed && v != first[u]+1, !changed && first[u] != 0 && v != first[u]:
			t.Errorf("%s: content version %v, was %v (changed: %v)", p, v, first[u], changed)
		}
	}
	// Only the new text was embedded.
	for _, r := range srv.OpenAI.Requests()[embedsBefore:] {
		for _, in := range r.Inputs {
			if !strings.Contains(in, "changedword") && !strings.Contains(in, "newword") && !strings.Contains(in, "two new ones") {
				t.Errorf("the second run embedded unchanged text: %q", in)
			}
		}
	}

	run3 := waitRun(c, key, srcID, c.Must(202, "POST", "/v1/sources/"+srcID+"/sync", key, nil).JSON(t)["id"].(string))
	if num(run3["removed"]) != 3 || num(run3["new"]) != 0 || num(run3["changed"]) != 0 {
		t.Fatalf("third run: %v", run3)
	}
	docs = documentsOf(c, key)
	if len(docs) != 215 {
		t.Errorf("%d documents after the removals, want 215", len(docs))
	}
	for _, p := range []string{"/p/20", "/p/21", "/p/22"} {
		if _, ok := docs[base+p]; ok {
			t.Errorf("%s was removed from the site twice, and its document stays", p)
		}
	}
	got := rcv.wait("three source.run.completed", func(got []received) bool { return len(got) >= 3 })
	counts := map[string]int{}
	for _, g := range got {
		if g.Type != sources.EventRunCompleted || g.Data["source_id"] != srcID {
			t.Errorf("event: %+v", g)
			continue
		}
		r := g.Data["run"].(map[string]any)
		counts[fmt.Sprintf("new=%d changed=%d removed=%d", num(r["new"]), num(r["changed"]), num(r["removed"]))]++
	}
	for _, want := range []string{"new=216 changed=0 removed=0", "new=2 changed=5 removed=0", "new=0 changed=0 removed=3"} {
		if counts[want] != 1 {
			t.Errorf("no webhook said %s: %v", want, counts)
		}
	}
	metrics := string(c.Must(200, "GET", "/metrics", "", nil).Body)
	for _, want := range []string{`ragd_source_pages_total{outcome="new"} 218`, `ragd_source_pages_total{outcome="changed"} 5`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestSourcesAPI: bad input answers 400 naming the field, sources:write
// is needed to change anything, another tenant's source is 404 on every
// route, and a patch changes what it names.
func TestSourcesAPI(t *testing.T) {
	t.Parallel()
	_, c := sourcesServer(t, false)
	site := newTestSite(t)
	tenantID, key := c.TenantWithKey("src-api", apitest.AllScopes()...)
	_, other := c.TenantWithKey("src-other", apitest.AllScopes()...)
	// A key of the same tenant with the default scopes: no sources:write.
	reader := c.Must(201, "POST", "/v1/tenants/"+tenantID+"/api-keys", apitest.AdminToken, map[string]any{"name": "reader"}).JSON(t)["key"].(string)
	long := strings.Repeat("a", 3000)
	for name, body := range map[string]any{
		"type":         map[string]any{"url": site.srv.URL},
		"url":          map[string]any{"type": "website", "url": "ftp://example.com/"},
		"include[0]":   map[string]any{"type": "website", "url": site.srv.URL, "include": []string{"docs"}},
		"exclude":      map[string]any{"type": "website", "url": site.srv.URL, "exclude": make([]string, 51)},
		"max_pages":    map[string]any{"type": "website", "url": site.srv.URL, "max_pages": 50001},
		"max_depth":    map[string]any{"type": "website", "url": site.srv.URL, "max_depth": -1},
		"schedule":     map[string]any{"type": "website", "url": site.srv.URL, "schedule": "monthly"},
		"tags[0]":      map[string]any{"type": "website", "url": site.srv.URL, "tags": []string{""}},
		"url (long)":   map[string]any{"type": "url", "url": "https://example.com/" + long},
		"url (creds)":  map[string]any{"type": "url", "url": "https://u:p@example.com/"},
		"type (other)": map[string]any{"type": "ftp", "url": site.srv.URL},
	} {
		r := c.Req("POST", "/v1/sources", key, body)
		field, _, _ := strings.Cut(name, " ")
		if r.Status != 400 || !strings.Contains(string(r.Body), `"`+field+`"`) {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	for _, raw := range []string{`{`, `[]`, `{"type": 1}`, `{"type": "website", "url": "http://x/", "unknown": 1}`, "\x00"} {
		if r := c.Req("POST", "/v1/sources", key, raw, "Content-Type", "application/json"); r.Status != 400 {
			t.Errorf("%q: %d %s", raw, r.Status, r.Body)
		}
	}
	if r := c.Req("POST", "/v1/sources", reader, map[string]any{"type": "url", "url": site.srv.URL + "/p/1"}); r.Status != 403 {
		t.Errorf("without sources:write: %d %s", r.Status, r.Body)
	}

	src := c.Must(201, "POST", "/v1/sources", key, map[string]any{"type": "url", "url": site.srv.URL + "/p/1"}).JSON(t)
	id := src["id"].(string)
	if src["max_pages"].(float64) != sources.DefaultMaxPages || src["schedule"] != nil || src["status"] != "active" {
		t.Errorf("defaults: %v", src)
	}
	run := waitRun(c, key, id, src["run"].(map[string]any)["id"].(string))
	if num(run["new"]) != 1 || num(run["fetched"]) != 1 {
		t.Errorf("a url source's run: %v", run)
	}
	c.Must(200, "GET", "/v1/sources/"+id, reader, nil) // documents:read reads
	for _, r := range []struct{ method, path string }{
		{"GET", "/v1/sources/" + id}, {"PATCH", "/v1/sources/" + id}, {"DELETE", "/v1/sources/" + id},
		{"POST", "/v1/sources/" + id + "/sync"}, {"GET", "/v1/sources/" + id + "/runs"},
	} {
		var body any
		if r.method == "PATCH" {
			body = map[string]any{"max_pages": 3}
		}
		if got := c.Req(r.method, r.path, other, body); got.Status != 404 {
			t.Errorf("another tenant's %s %s: %d %s", r.method, r.path, got.Status, got.Body)
		}
	}
	if list := c.Must(200, "GET", "/v1/sources", other, nil).JSON(t)["data"].([]any); len(list) != 0 {
		t.Errorf("another tenant lists %v", list)
	}
	for _, bad := range []map[string]any{{"max_pages": 0}, {"max_depth": nil}, {"schedule": "often"}, {"include": []string{"no-slash"}}} {
		if r := c.Req("PATCH", "/v1/sources/"+id, key, bad); r.Status != 400 {
			t.Errorf("patch %v: %d %s", bad, r.Status, r.Body)
		}
	}
	p := c.Must(200, "PATCH", "/v1/sources/"+id, key, map[string]any{"schedule": "daily", "tags": []string{"b", "a"}}).JSON(t)
	next, _ := time.Parse(time.RFC3339, fmt.Sprint(p["next_run_at"]))
	if p["schedule"] != "daily" || time.Until(next) < 23*time.Hour || fmt.Sprint(p["tags"]) != "[a b]" || p["last_run"] == nil {
		t.Errorf("after the patch: %v", p)
	}
	p = c.Must(200, "PATCH", "/v1/sources/"+id, key, map[string]any{"schedule": nil}).JSON(t)
	if p["schedule"] != nil || p["next_run_at"] != nil {
		t.Errorf("schedule null: %v", p)
	}
	if r := c.Req("DELETE", "/v1/sources/"+id+"?keep_documents=maybe", key, nil); r.Status != 400 {
		t.Errorf("keep_documents=maybe: %d", r.Status)
	}
	c.Must(204, "DELETE", "/v1/sources/"+id+"?keep_documents=true", key, nil)
	c.Must(404, "GET", "/v1/sources/"+id, key, nil)
	if d := documentsOf(c, key); len(d) != 1 {
		t.Errorf("keep_documents=true left %d documents, want 1", len(d))
	}
}

// TestSourcesRefusePrivateAddresses: without RAGD_SOURCES_ALLOW_PRIVATE
// a source on a loopback, private or link-local address is refused, and
// the refusal names the setting.
func TestSourcesRefusePrivateAddresses(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t, apitest.Options{})
	c := srv.Client(t)
	_, key := c.TenantWithKey("src-private", apitest.AllScopes()...)
	for _, u := range []string{"http://127.0.0.1:8080/", "http://localhost/", "http://169.254.169.254/latest/meta-data/", "http://[::1]/", "http://10.0.0.1/", "http://0x7f000001/"} {
		r := c.Req("POST", "/v1/sources", key, map[string]any{"type": "website", "url": u})
		if r.Status != 400 || !strings.Contains(string(r.Body), "RAGD_SOURCES_ALLOW_PRIVATE") {
			t.Errorf("%s: %d %s", u, r.Status, r.Body)
		}
	}
}

// TestSitemapSource: a gzipped sitemap index leads to a sitemap of pages
// (a PDF among them); a page that leaves the sitemap is deleted after two
// runs without it; deleting the source deletes its documents.
func TestSitemapSource(t *testing.T) {
	t.Parallel()
	_, c := sourcesServer(t, false)
	site := newTestSite(t)
	var mu sync.Mutex
	listed := []string{"/p/1", "/p/2", "/p/3", "/files/policy.pdf", "/p/404"}
	mux := http.NewServeMux()
	mux.HandleFunc("/sitemap_index.xml.gz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/gzip")
		zw := gzip.NewWriter(w)
		fmt.Fprintf(zw, `<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>http://%s/pages.xml</loc></sitemap></sitemapindex>`, r.Host)
		zw.Close()
	})
	mux.HandleFunc("/pages.xml", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprint(w, `<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">`)
		for _, p := range listed {
			fmt.Fprintf(w, "<url><loc>%s%s</loc></url>", site.srv.URL, p)
		}
		fmt.Fprint(w, `</urlset>`)
	})
	mux.HandleFunc("/robots.txt", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "User-agent: *\nAllow: /\n") })
	maps := httptest.NewServer(mux)
	t.Cleanup(maps.Close)
	_, key := c.TenantWithKey("src-sitemap", apitest.AllScopes()...)
	src := c.Must(201, "POST", "/v1/sources", key, map[string]any{"type": "sitemap", "url": maps.URL + "/sitemap_index.xml.gz"}).JSON(t)
	id := src["id"].(string)
	run := waitRun(c, key, id, src["run"].(map[string]any)["id"].(string))
	if num(run["new"]) != 4 || num(run["failed"]) != 1 || failureReasons(run)[site.srv.URL+"/p/404"] != "HTTP 404" {
		t.Fatalf("first run: %v", run)
	}
	docs := waitAllSettled(c, key, 4)
	if d := docs[site.srv.URL+"/files/policy.pdf"]; d["type"] != "pdf" || d["status"] != "ready" {
		t.Errorf("the PDF: %v", d)
	}
	mu.Lock()
	listed = listed[1:] // /p/1 leaves the sitemap
	mu.Unlock()
	for i, wantRemoved := range []int{0, 1} {
		run = waitRun(c, key, id, c.Must(202, "POST", "/v1/sources/"+id+"/sync", key, nil).JSON(t)["id"].(string))
		if num(run["removed"]) != wantRemoved || num(run["new"]) != 0 || num(run["changed"]) != 0 || num(run["unchanged"]) != 3 {
			t.Fatalf("run %d after /p/1 left the sitemap: %v", i+2, run)
		}
	}
	if _, ok := documentsOf(c, key)[site.srv.URL+"/p/1"]; ok {
		t.Error("/p/1 left the sitemap two runs ago, and its document stays")
	}
	got := c.Must(200, "GET", "/v1/sources/"+id, key, nil).JSON(t)
	if got["pages"].(float64) != 3 || got["last_run"].(map[string]any)["id"] != run["id"] {
		t.Errorf("the source: %v", got)
	}
	c.Must(202, "DELETE", "/v1/sources/"+id, key, nil)
	apitest.Eventually(t, "the source and its documents gone", func() bool {
		return c.Req("GET", "/v1/sources/"+id, key, nil).Status == 404 && len(documentsOf(c, key)) == 0
	})
}

// TestSourceSyncWhileRunning: one run of a source at a time.
func TestSourceSyncWhileRunning(t *testing.T) {
	t.Parallel()
	srv, c := sourcesServer(t, false)
	site := newTestSite(t)
	_, key := c.TenantWithKey("src-busy", apitest.AllScopes()...)
	// /slow holds the run for the fetch timeout (a second).
	src := c.Must(201, "POST", "/v1/sources", key, map[string]any{"type": "url", "url": site.srv.URL + "/slow"}).JSON(t)
	id := src["id"].(string)
	if r := c.Req("POST", "/v1/sources/"+id+"/sync", key, nil); r.Status != 409 || r.Code(t) != "conflict" {
		t.Errorf("sync while a run runs: %d %s", r.Status, r.Body)
	}
	run := waitRun(c, key, id, src["run"].(map[string]any)["id"].(string))
	if failureReasons(run)[site.srv.URL+"/slow"] != "timed out" {
		t.Errorf("run: %v", run)
	}
	// A run left running with no job to work it (an operator removed the
	// job in the dashboard) does not block the source forever.
	var tenantID string
	if err := srv.Pool.QueryRow(t.Context(), `INSERT INTO source_runs (id, tenant_id, source_id, trigger)
		SELECT gen_random_uuid(), tenant_id, id, 'manual' FROM sources WHERE id = $1 RETURNING tenant_id::text`, id).Scan(&tenantID); err != nil {
		t.Fatal(err)
	}
	next := c.Must(202, "POST", "/v1/sources/"+id+"/sync", key, nil).JSON(t)
	runs := c.Must(200, "GET", "/v1/sources/"+id+"/runs", key, nil).JSON(t)["data"].([]any)
	if len(runs) != 3 || runs[0].(map[string]any)["id"] != next["id"] || !strings.Contains(fmt.Sprint(runs[1].(map[string]any)["error"]), "job was gone") {
		t.Errorf("runs after a sync past an orphaned run: %v", runs)
	}
}

// TestSourceCrawlIsFair: while one tenant's 5,000-page crawl runs (its
// pages pouring into the ingest queue), another tenant's upload becomes
// ready and its own small crawl completes, both before the big crawl is
// done: the crawl's slices take turns in the sources queue, and its pages
// are ingested in their tenant's turn. The times are logged (RELIABILITY.md
// quotes them, without -race); they are not the pass mark, which a loaded
// machine under -race would move.
func TestSourceCrawlIsFair(t *testing.T) {
	t.Parallel()
	srv, c := sourcesServer(t, false)
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n int
		if _, err := fmt.Sscanf(r.URL.Path, "/p/%d", &n); err != nil && r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		links := ""
		for i := n*10 + 1; i <= n*10+10; i++ {
			links += fmt.Sprintf(`<a href="/p/%d">%d</a>`, i, i)
		}
		fmt.Fprint(w, pageHTML(fmt.Sprintf("Big site page %d", n), "", fmt.Sprintf("Page %d of a big site, about subject%d.", n, n), links))
	}))
	t.Cleanup(big.Close)
	small := newTestSite(t)
	floodID, flood := c.TenantWithKey("src-flood", apitest.AllScopes()...)
	_, other := c.TenantWithKey("src-small", apitest.AllScopes()...)
	src := c.Must(201, "POST", "/v1/sources", flood, map[string]any{"type": "website", "url": big.URL + "/", "max_pages": 5000, "max_depth": 5}).JSON(t)
	floodSrc := src["id"].(string)
	apitest.Eventually(t, "the big crawl to store 200 pages", func() bool { return len(documentsOf(c, flood)) >= 200 })

	start := time.Now()
	doc := c.Must(202, "POST", "/v1/documents", other, map[string]any{"text": "# Leave\n\nEveryone gets 25 days.", "format": "markdown"}).JSON(t)
	smallSrc := c.Must(201, "POST", "/v1/sources", other, map[string]any{"type": "url", "url": small.srv.URL + "/p/3"}).JSON(t)
	var uploadReady, crawlDone time.Duration
	apitest.Eventually(t, "the other tenant's upload and crawl", func() bool {
		if uploadReady == 0 && c.Must(200, "GET", "/v1/documents/"+doc["id"].(string), other, nil).JSON(t)["status"] == "ready" {
			uploadReady = time.Since(start)
		}
		if crawlDone == 0 {
			if r := c.Must(200, "GET", "/v1/sources/"+smallSrc["id"].(string), other, nil).JSON(t)["last_run"].(map[string]any); r["status"] == "completed" {
				crawlDone = time.Since(start)
			}
		}
		return uploadReady > 0 && crawlDone > 0
	})
	bigRun := c.Must(200, "GET", "/v1/sources/"+floodSrc, flood, nil).JSON(t)["last_run"].(map[string]any)
	var waiting int
	if err := srv.Pool.QueryRow(t.Context(), "SELECT count(*) FROM documents WHERE tenant_id = $1 AND status IN ('queued', 'processing')", floodID).Scan(&waiting); err != nil {
		t.Fatal(err)
	}
	t.Logf("other tenant: upload ready in %v, its crawl done in %v; the big crawl had fetched %v pages, %d of its documents waiting",
		uploadReady.Round(time.Millisecond), crawlDone.Round(time.Millisecond), bigRun["fetched"], waiting)
	if bigRun["status"] != "running" {
		t.Fatalf("the big crawl ended (%v) before the other tenant was served: the test measured nothing", bigRun)
	}
}

// TestSourceRecoversLostPageRecords: a page's record lost after its
// document was stored (a crash between the two) does not make a second
// document: the next run takes the document back.
func TestSourceRecoversLostPageRecords(t *testing.T) {
	t.Parallel()
	srv, c := sourcesServer(t, false)
	site := newTestSite(t)
	tenantID, key := c.TenantWithKey("src-lost", apitest.AllScopes()...)
	src := c.Must(201, "POST", "/v1/sources", key, map[string]any{"type": "website", "url": site.srv.URL + "/s/3", "max_depth": 1}).JSON(t)
	id := src["id"].(string)
	run := waitRun(c, key, id, src["run"].(map[string]any)["id"].(string))
	if num(run["new"]) != 21 {
		t.Fatalf("first run: %v", run)
	}
	if _, err := srv.Pool.Exec(t.Context(), "DELETE FROM source_pages WHERE source_id = $1", id); err != nil {
		t.Fatal(err)
	}
	run = waitRun(c, key, id, c.Must(202, "POST", "/v1/sources/"+id+"/sync", key, nil).JSON(t)["id"].(string))
	if num(run["new"]) != 0 || num(run["unchanged"]) != 21 {
		t.Fatalf("after the records were lost: %v", run)
	}
	var n int
	if err := srv.Pool.QueryRow(t.Context(), "SELECT count(*) FROM documents WHERE tenant_id = $1", tenantID).Scan(&n); err != nil || n != 21 {
		t.Fatalf("%d documents (%v), want 21", n, err)
	}
}

// TestSourceQuotasAndSchedule: the tenant's documents quota applies to
// fetched pages (the run stops, saying why), and a scheduled source whose
// time has come gets a run, and its next time a period on.
func TestSourceQuotasAndSchedule(t *testing.T) {
	t.Parallel()
	srv, c := sourcesServer(t, false)
	site := newTestSite(t)
	tenantID, key := c.TenantWithKey("src-quota", apitest.AllScopes()...)
	c.Must(200, "PATCH", "/v1/tenants/"+tenantID, apitest.AdminToken, map[string]any{"quotas": map[string]any{"documents": 5}})
	src := c.Must(201, "POST", "/v1/sources", key, map[string]any{"type": "website", "url": site.srv.URL + "/s/4", "max_depth": 1, "schedule": "hourly"}).JSON(t)
	id := src["id"].(string)
	run := waitRun(c, key, id, src["run"].(map[string]any)["id"].(string))
	if run["status"] != "failed" || num(run["new"]) != 5 || !strings.Contains(fmt.Sprint(run["error"]), "documents quota") {
		t.Fatalf("a run past the documents quota: %v", run)
	}
	if n := len(documentsOf(c, key)); n != 5 {
		t.Fatalf("%d documents, want the quota's 5", n)
	}
	c.Must(200, "PATCH", "/v1/tenants/"+tenantID, apitest.AdminToken, map[string]any{"quotas": map[string]any{"documents": nil}})

	// Not due yet: nothing starts.
	if n, err := srv.Sources.StartDue(t.Context()); err != nil || n != 0 {
		t.Fatalf("StartDue before the time: %d, %v", n, err)
	}
	if _, err := srv.Pool.Exec(t.Context(), "UPDATE sources SET next_run_at = now() - interval '1 minute' WHERE id = $1", id); err != nil {
		t.Fatal(err)
	}
	if n, err := srv.Sources.StartDue(t.Context()); err != nil || n != 1 {
		t.Fatalf("StartDue when due: %d, %v", n, err)
	}
	got := c.Must(200, "GET", "/v1/sources/"+id, key, nil).JSON(t)
	last := got["last_run"].(map[string]any)
	next, _ := time.Parse(time.RFC3339, fmt.Sprint(got["next_run_at"]))
	if last["trigger"] != "schedule" || time.Until(next) < 59*time.Minute {
		t.Fatalf("after the scheduled start: %v", got)
	}
	run = waitRun(c, key, id, last["id"].(string))
	if run["status"] != "completed" || num(run["new"]) != 16 || num(run["unchanged"]) != 5 {
		t.Fatalf("the scheduled run: %v", run)
	}
}
