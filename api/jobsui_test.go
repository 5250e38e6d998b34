package api_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestJobDashboard(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, key := b.TenantWithKey("acme")
	b.Upload(key, "", "a.txt", []byte("a document to ingest"))

	get := func(path string, auth func(*http.Request), headers ...string) *http.Response {
		t.Helper()
		r, _ := http.NewRequest("GET", b.url+path, nil)
		if auth != nil {
			auth(r)
		}
		for i := 0; i+1 < len(headers); i += 2 {
			r.Header.Set(headers[i], headers[i+1])
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	basic := func(pass string) func(*http.Request) {
		return func(r *http.Request) { r.SetBasicAuth("admin", pass) }
	}

	if resp := get("/jobs/", nil); resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
		t.Fatalf("without credentials: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := get("/jobs/", basic("wrong-token")); resp.StatusCode != 401 {
		t.Fatalf("wrong token: %d", resp.StatusCode)
	}
	if resp := get("/jobs/", basic(key)); resp.StatusCode != 403 {
		t.Fatalf("a tenant key: %d", resp.StatusCode)
	}
	if resp := get("/jobs/", basic(adminToken)); resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("with the admin token: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp := get("/jobs/api/jobs?state=completed", basic(adminToken))
	if resp.StatusCode != 200 {
		t.Fatalf("jobs API: %d", resp.StatusCode)
	}
	r2, _ := http.NewRequest("POST", b.url+"/jobs/api/jobs/cancel", strings.NewReader(`{"job_ids":["1"]}`))
	r2.SetBasicAuth("admin", adminToken)
	r2.Header.Set("Origin", "https://evil.example")
	r2.Header.Set("Content-Type", "application/json")
	resp2, err := http.DefaultClient.Do(r2)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != 403 {
		t.Fatalf("a cross-site POST: %d", resp2.StatusCode)
	}
}
