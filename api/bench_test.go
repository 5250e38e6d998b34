package api_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ragd/ragd/api/apitest"
	"github.com/ragd/ragd/console"
)

// BenchmarkGetAgent measures one authenticated read through the whole
// stack on loopback: HTTP, key lookup by hash, the agent query, unsealing
// its secrets and JSON encoding. The baseline in the same run is /healthz,
// which costs the HTTP round trip alone.
func BenchmarkGetAgent(b *testing.B) {
	tb := setup(b)
	_, key := tb.tenantWithKey("bench")
	tb.must(201, "POST", "/v1/agents", key, fullAgent("bench-agent"))
	client := http.DefaultClient
	get := func(b *testing.B, path, auth string) {
		req, _ := http.NewRequest("GET", tb.url+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		for b.Loop() {
			resp, err := client.Do(req)
			if err != nil || resp.StatusCode != 200 {
				b.Fatalf("GET %s: %v %v", path, resp, err)
			}
			resp.Body.Close()
		}
	}
	b.Run("Healthz", func(b *testing.B) { get(b, "/healthz", "") })
	b.Run("AgentWithKey", func(b *testing.B) { get(b, "/v1/agents/bench-agent", key) })
	b.Run("AgentWithAdminToken", func(b *testing.B) {
		req, _ := http.NewRequest("GET", tb.url+"/v1/agents/bench-agent", nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		req.Header.Set("Ragd-Tenant", tb.must(200, "GET", "/v1/tenants", adminToken, nil).json(b)["data"].([]any)[0].(map[string]any)["id"].(string))
		for b.Loop() {
			resp, err := client.Do(req)
			if err != nil || resp.StatusCode != 200 {
				b.Fatalf("GET: %v %v", resp, err)
			}
			resp.Body.Close()
		}
	})
}

// BenchmarkConsoleDocuments measures the console's documents page (50
// documents: a session lookup, the in-process GET /v1/documents with its
// own session lookup, JSON decoding and the template) beside the API call
// it makes, by key and by session cookie, in the same run.
func BenchmarkConsoleDocuments(b *testing.B) {
	tb := setup(b)
	_, key := tb.tenantWithKey("bench", allScopes...)
	for i := range 50 {
		tb.upload(key, "", "doc.txt", []byte(strings.Repeat("a short document ", 5+i)))
	}
	v := tb.signIn(key)
	get := func(b *testing.B, path string, auth func(*http.Request)) {
		req, _ := http.NewRequest("GET", tb.url+path, nil)
		auth(req)
		for b.Loop() {
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != 200 {
				b.Fatalf("GET %s: %v %v", path, resp, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	withKey := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+key) }
	withSession := func(r *http.Request) { r.AddCookie(&http.Cookie{Name: console.SessionCookie, Value: v.session}) }
	b.Run("APIWithKey", func(b *testing.B) { get(b, "/v1/documents?order=desc", withKey) })
	b.Run("APIWithSession", func(b *testing.B) { get(b, "/v1/documents?order=desc", withSession) })
	b.Run("ConsolePage", func(b *testing.B) { get(b, "/console/documents", withSession) })
}

// BenchmarkIdentityProviderToken measures a read authenticated by the
// identity provider's JWT (signature check with the cached key, claims,
// the tenant by organisation) beside the same read with an API key.
func BenchmarkIdentityProviderToken(b *testing.B) {
	tb, iss := setupOIDC(b, apitest.Options{})
	tb.tenantWithOrg("bench", "org_bench")
	_, key := tb.tenantWithKey("bench-keys")
	jwt := member(iss, "user_1", "org_bench", "org:admin")
	for _, c := range []struct{ name, token string }{{"APIKey", key}, {"JWT", jwt}} {
		b.Run(c.name, func(b *testing.B) {
			req, _ := http.NewRequest("GET", tb.url+"/v1/agents", nil)
			req.Header.Set("Authorization", "Bearer "+c.token)
			for b.Loop() {
				resp, err := http.DefaultClient.Do(req)
				if err != nil || resp.StatusCode != 200 {
					b.Fatalf("GET: %v %v", resp, err)
				}
				resp.Body.Close()
			}
		})
	}
}
