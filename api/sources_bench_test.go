package api_test

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ragd/ragd/api/apitest"
	"github.com/ragd/ragd/sources"
)

// realSite is a site of n pages made of real web pages
// (../shared/devdata/html, mozilla/readability's test pages, in turn;
// RAGD_HTML_DEVDATA overrides the place) without their own links, each
// with a navigation block that links to its ten children, so a crawl from
// / reaches all n. It answers conditional requests with 304 and counts
// requests.
type realSite struct {
	srv      *httptest.Server
	requests atomic.Int64
}

func newRealSite(b testing.TB, n int) *realSite {
	b.Helper()
	dir := cmp.Or(os.Getenv("RAGD_HTML_DEVDATA"), filepath.Join("..", "..", "shared", "devdata", "html"))
	dirs, _ := filepath.Glob(filepath.Join(dir, "*", "source.html"))
	sort.Strings(dirs)
	if len(dirs) == 0 {
		b.Fatalf("no web pages in %s (set RAGD_HTML_DEVDATA)", dir)
	}
	bodies := make([][]byte, len(dirs))
	for i, d := range dirs {
		var err error
		if bodies[i], err = os.ReadFile(d); err != nil {
			b.Fatal(err)
		}
	}
	s := &realSite{}
	pages := make([][]byte, n)
	etags := make([]string, n)
	for i := range n {
		nav := fmt.Sprintf(`<nav><p>Page %d of the test site.</p>`, i)
		for c := i*10 + 1; c <= i*10+10 && c < n; c++ {
			nav += fmt.Sprintf(`<a href="/p/%d">page %d</a> `, c, c)
		}
		nav += "</nav>"
		// The real pages' own links (which lead nowhere here) are taken
		// out: the site's links are the navigation's.
		body := bytes.ReplaceAll(bodies[i%len(bodies)], []byte("href="), []byte("data-gone="))
		if k := bytes.LastIndex(bytes.ToLower(body), []byte("</body>")); k >= 0 {
			pages[i] = append(append(append([]byte{}, body[:k]...), nav...), body[k:]...)
		} else {
			pages[i] = append(append([]byte{}, body...), nav...)
		}
		etags[i] = fmt.Sprintf(`"v1-%d"`, i)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		i := 0
		if r.URL.Path != "/" {
			if _, err := fmt.Sscanf(r.URL.Path, "/p/%d", &i); err != nil || i <= 0 || i >= n {
				http.NotFound(w, r)
				return
			}
		}
		if r.Header.Get("If-None-Match") == etags[i] {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etags[i])
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(pages[i])
	}))
	b.Cleanup(s.srv.Close)
	return s
}

// BenchmarkSourceSync syncs a 1,000-page local site made of real pages:
// the first sync (pages stored a second by the crawl, then until every
// page is searchable), the embedding tokens it took, and a re-sync with
// nothing changed (pages a second, tokens: 0, requests per page: 1, every
// one answered 304). Beside it, in the same run, wget's recursive
// download of the same site: what a user would reach for to mirror a site
// before uploading it. Politeness is the benchmark's (1 ms between
// requests), not the default 250 ms, which alone would take 250 s.
//
//	go test ./api -run '^$' -bench BenchmarkSourceSync -benchtime 1x -count 5
func BenchmarkSourceSync(b *testing.B) {
	const n = 1000
	site := newRealSite(b, n)
	b.Run("ragd", func(b *testing.B) {
		srv := apitest.Start(b, apitest.Options{OpenAI: true,
			Sources: sources.Config{AllowPrivate: true, Delay: time.Millisecond}})
		c := srv.Client(b)
		var crawl, ready, resync time.Duration
		var tokens, resyncTokens, resyncReqs int64
		i := 0
		for b.Loop() {
			i++
			_, key := c.TenantWithKey(fmt.Sprintf("bench-sync-%d", i), apitest.AllScopes()...)
			start := time.Now()
			src := c.Must(201, "POST", "/v1/sources", key, map[string]any{"type": "website", "url": site.srv.URL + "/",
				"max_pages": n, "max_depth": 5}).JSON(b)
			id := src["id"].(string)
			run := waitRun(c, key, id, src["run"].(map[string]any)["id"].(string))
			crawl += time.Since(start)
			if num(run["new"]) != n {
				b.Fatalf("first sync: %v", run)
			}
			waitAllSettled(c, key, n)
			ready += time.Since(start)
			used := int64(c.Must(200, "GET", "/v1/usage", key, nil).JSON(b)["embedding_tokens"].(float64))
			tokens += used

			reqs := site.requests.Load()
			start = time.Now()
			run = waitRun(c, key, id, c.Must(202, "POST", "/v1/sources/"+id+"/sync", key, nil).JSON(b)["id"].(string))
			resync += time.Since(start)
			resyncReqs += site.requests.Load() - reqs
			if num(run["unchanged"]) != n || num(run["new"])+num(run["changed"]) != 0 {
				b.Fatalf("re-sync: %v", run)
			}
			resyncTokens += int64(c.Must(200, "GET", "/v1/usage", key, nil).JSON(b)["embedding_tokens"].(float64)) - used
		}
		it := float64(i)
		b.ReportMetric(0, "ns/op")
		b.ReportMetric(n*it/crawl.Seconds(), "crawl-pages/s")
		b.ReportMetric(n*it/ready.Seconds(), "ready-pages/s")
		b.ReportMetric(float64(tokens)/it, "embed-tokens")
		b.ReportMetric(n*it/resync.Seconds(), "resync-pages/s")
		b.ReportMetric(float64(resyncTokens)/it, "resync-tokens")
		b.ReportMetric(float64(resyncReqs)/(n*it), "resync-req/page")
	})
	b.Run("wget", func(b *testing.B) {
		if _, err := exec.LookPath("wget"); err != nil {
			b.Skip("no wget")
		}
		var d time.Duration
		i := 0
		for b.Loop() {
			i++
			dir := b.TempDir()
			reqs := site.requests.Load()
			start := time.Now()
			out, err := exec.Command("wget", "-r", "-l", "6", "-q", "-e", "robots=off", "-P", dir, site.srv.URL+"/").CombinedOutput()
			d += time.Since(start)
			var ee *exec.ExitError
			if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 8) { // 8: some answer was an HTTP error
				b.Fatalf("wget: %v: %s", err, out)
			}
			if got := site.requests.Load() - reqs; got < n {
				b.Fatalf("wget made %d requests, want at least %d", got, n)
			}
		}
		b.ReportMetric(0, "ns/op")
		b.ReportMetric(n*float64(i)/d.Seconds(), "crawl-pages/s")
	})
}
