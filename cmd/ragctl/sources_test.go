package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ragd/ragd/api/apitest"
	"github.com/ragd/ragd/sources"
)

// smallSite is a loopback website of three linked pages and a link that
// answers 404.
func smallSite(t *testing.T) *httptest.Server {
	t.Helper()
	pages := map[string]string{
		"/":           `<h1>Garden club</h1><p>The garden club meets on Tuesdays.</p><a href="/watering">Watering</a> <a href="/tools">Tools</a> <a href="/gone">Old page</a>`,
		"/watering":   `<h1>Watering</h1><p>Water the tomatoes every morning in July.</p><a href="/">home</a>`,
		"/tools":      `<h1>Tools</h1><p>The shed holds the spades and the wheelbarrow.</p><a href="/">home</a>`,
		"/robots.txt": "User-agent: *\nAllow: /\n",
	}
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.URL.Path == "/robots.txt" {
			fmt.Fprint(w, body)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><html><head><title>%s</title></head><body>%s</body></html>", strings.TrimPrefix(r.URL.Path, "/"), body)
	}))
	t.Cleanup(site.Close)
	return site
}

// TestSourcesCommands: a loopback site added with --wait prints its
// run's counts and the page that failed, and its pages are searchable;
// ls, show, sync --wait (nothing changed), runs --failures, and rm with
// and without --keep-documents say what happens to the documents.
func TestSourcesCommands(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t, apitest.Options{Sources: sources.Config{AllowPrivate: true, Delay: time.Millisecond, Timeout: 5 * time.Second}})
	_, key := srv.TenantKey(t, "Sources")
	env := map[string]string{"RAGD_URL": srv.URL, "RAGD_API_KEY": key}
	site := smallSite(t)

	out, errOut, code := ragctl(t, env, "sources", "add", site.URL+"/", "--tag", "garden", "--max-depth", "2", "--schedule", "weekly", "--exclude", "/private/*", "--wait")
	if code != 0 {
		t.Fatalf("add --wait: %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "completed: fetched 4: 3 new, 0 changed, 0 unchanged, 0 removed, 1 failed") || !strings.Contains(out, site.URL+"/gone: HTTP 404") {
		t.Fatalf("add --wait printed:\n%s", out)
	}
	id := strings.Fields(errOut)[1]

	var list []map[string]any
	out, _, code = ragctl(t, env, "--json", "sources", "ls")
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil || len(list) != 1 || list[0]["id"] != id {
		t.Fatalf("ls --json: %d %v\n%s", code, err, out)
	}
	if s := list[0]; s["schedule"] != "weekly" || fmt.Sprint(s["tags"]) != "[garden]" || fmt.Sprint(s["exclude"]) != "[/private/*]" || s["max_depth"] != 2.0 {
		t.Errorf("the source as added: %v", s)
	}
	out, _, _ = ragctl(t, env, "sources", "ls")
	if !strings.Contains(out, "LAST RUN") || !strings.Contains(out, "completed (3 new, 0 changed, 0 removed, 1 failed)") || !strings.Contains(out, "weekly") {
		t.Errorf("ls:\n%s", out)
	}
	if out, _, code := ragctl(t, env, "sources", "show", id); code != 0 || !strings.Contains(out, "url: "+site.URL+"/") || !strings.Contains(out, "last_run:") {
		t.Errorf("show: %d\n%s", code, out)
	}

	// Its pages are documents, and searchable.
	apitest.Eventually(t, "the site's 3 pages to be ready", func() bool {
		out, _, _ := ragctl(t, env, "docs", "ls", "--tag", "garden", "--status", "ready")
		return strings.Count(out, "ready") == 3
	})
	if out, _, code := ragctl(t, env, "search", "--mode", "sparse", "tomatoes", "morning"); code != 0 || !strings.Contains(out, "Watering") {
		t.Errorf("search: %d\n%s", code, out)
	}

	// Again, nothing changed.
	out, errOut, code = ragctl(t, env, "sources", "sync", id, "--wait")
	if code != 0 || !strings.Contains(out, "0 new, 0 changed, 3 unchanged") {
		t.Fatalf("sync --wait: %d\n%s%s", code, out, errOut)
	}
	out, _, _ = ragctl(t, env, "sources", "runs", id, "--failures")
	if strings.Count(out, "completed") != 2 || !strings.Contains(out, "manual") || !strings.Contains(out, "created") || strings.Count(out, "/gone: HTTP 404") != 2 {
		t.Errorf("runs --failures:\n%s", out)
	}

	// rm says what becomes of the documents.
	out, _, code = ragctl(t, env, "sources", "rm", id, "--keep-documents")
	if code != 0 || !strings.Contains(out, "its documents stay") {
		t.Fatalf("rm --keep-documents: %d %s", code, out)
	}
	if out, _, _ := ragctl(t, env, "docs", "ls", "--tag", "garden"); strings.Count(out, "ready") != 3 {
		t.Errorf("after rm --keep-documents, the documents:\n%s", out)
	}
	if _, errOut, code := ragctl(t, env, "sources", "show", id); code != exitFailed || !strings.Contains(errOut, "404") {
		t.Errorf("show after rm: %d %s", code, errOut)
	}

	out, errOut, code = ragctl(t, env, "sources", "add", site.URL+"/tools", "--type", "url", "--tag", "shed")
	if code != 0 || !strings.Contains(out, "its first run") {
		t.Fatalf("add a url: %d %s%s", code, out, errOut)
	}
	id = strings.TrimSpace(strings.Fields(out)[1])
	out, _, code = ragctl(t, env, "sources", "rm", id)
	if code != 0 || !strings.Contains(out, "and its documents") {
		t.Fatalf("rm: %d %s", code, out)
	}
	apitest.Eventually(t, "the source and its documents to go", func() bool {
		ls, _, _ := ragctl(t, env, "--json", "sources", "ls")
		docs, _, _ := ragctl(t, env, "--json", "docs", "ls", "--tag", "shed")
		return strings.TrimSpace(ls) == "[]" && strings.TrimSpace(docs) == "[]"
	})
}

// TestSourcesRefusedAddress: a server that keeps sources to public
// addresses refuses a loopback site, and the error names the setting
// that allows it.
func TestSourcesRefusedAddress(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t, apitest.Options{})
	_, key := srv.TenantKey(t, "Public only")
	env := map[string]string{"RAGD_URL": srv.URL, "RAGD_API_KEY": key}
	_, errOut, code := ragctl(t, env, "sources", "add", "http://127.0.0.1:8095/")
	if code != exitFailed || !strings.Contains(errOut, "url: ") || !strings.Contains(errOut, "RAGD_SOURCES_ALLOW_PRIVATE=true") {
		t.Errorf("a loopback site: exit %d\n%s", code, errOut)
	}
	if _, errOut, code := ragctl(t, env, "sources", "add", "https://example.com/", "--type", "feed"); code != exitFailed || !strings.Contains(errOut, "type: must be website, sitemap or url") {
		t.Errorf("a bad type: exit %d\n%s", code, errOut)
	}
}
