package main

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ragd/ragd/api/apitest"
)

// TestRagctlHonoursRetryAfter: when ragd answers 503 or 429 with
// Retry-After (its upload budget full, Postgres down), ragctl says so,
// waits and sends the request again (an upload with its file read
// again); a Retry-After longer than a minute (a spent monthly quota) is
// an answer, not a pause. A proxy in front of a real server refuses the
// first requests as ragd would.
func TestRagctlHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t, apitest.Options{})
	_, key := srv.TenantKey(t, "Busy")
	target, _ := url.Parse(srv.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var (
		mu      sync.Mutex
		refuse  = map[string]int{}
		seen    = map[string]int{}
		retryIn = "1"
	)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := r.Method + " " + r.URL.Path
		mu.Lock()
		seen[k]++
		n, after := refuse[k], retryIn
		if n > 0 {
			refuse[k] = n - 1
		}
		mu.Unlock()
		if n > 0 {
			w.Header().Set("Retry-After", after)
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"status":503,"code":"overloaded","detail":"the server's upload budget is in use"}`))
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	env := map[string]string{"RAGD_URL": front.URL, "RAGD_API_KEY": key}

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "note.md"), []byte("# Note\n\nThe busy server took it in the end."), 0o644); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	refuse["POST /v1/documents"], refuse["GET /v1/documents"] = 2, 1
	mu.Unlock()
	out, errOut, code := ragctl(t, env, "upload", dir)
	if code != 0 || !strings.Contains(out, "1 ready") {
		t.Fatalf("upload behind two 503s: exit %d\n%s\n%s", code, out, errOut)
	}
	if n := strings.Count(errOut, "trying again in 1s"); n != 2 || !strings.Contains(errOut, "503 overloaded") {
		t.Fatalf("the waits were not told (%d):\n%s", n, errOut)
	}
	out, errOut, code = ragctl(t, env, "docs", "ls")
	if code != 0 || !strings.Contains(out, "note.md") || !strings.Contains(errOut, "trying again") {
		t.Fatalf("docs ls behind a 503: exit %d\n%s\n%s", code, out, errOut)
	}
	mu.Lock()
	posts := seen["POST /v1/documents"]
	refuse["GET /v1/documents"], retryIn = 1, "3600"
	mu.Unlock()
	if posts != 3 {
		t.Fatalf("the upload was sent %d times, want 3", posts)
	}
	// An hour is an answer.
	_, errOut, code = ragctl(t, env, "docs", "ls")
	if code == 0 || !strings.Contains(errOut, "503 overloaded") || strings.Contains(errOut, "trying again") {
		t.Fatalf("a Retry-After of an hour: exit %d\n%s", code, errOut)
	}
}
