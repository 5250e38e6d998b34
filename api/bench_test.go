package api_test

import (
	"net/http"
	"testing"

	"github.com/ragd/ragd/api/apitest"
)

// BenchmarkGetAgent measures one authenticated read through the whole
// stack on loopback: HTTP, key lookup by hash, the agent query, unsealing
// its secrets and JSON encoding. The baseline in the same run is /healthz,
// which costs the HTTP round trip alone.
func BenchmarkGetAgent(b *testing.B) {
	tb := setup(b)
	_, key := tb.TenantWithKey("bench")
	tb.Must(201, "POST", "/v1/agents", key, apitest.FullAgent("bench-agent"))
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
		req.Header.Set("Ragd-Tenant", tb.Must(200, "GET", "/v1/tenants", adminToken, nil).JSON(b)["data"].([]any)[0].(map[string]any)["id"].(string))
		for b.Loop() {
			resp, err := client.Do(req)
			if err != nil || resp.StatusCode != 200 {
				b.Fatalf("GET: %v %v", resp, err)
			}
			resp.Body.Close()
		}
	})
}

// BenchmarkIdentityProviderToken measures a read authenticated by the
// identity provider's JWT (signature check with the cached key, claims,
// the tenant by organisation) beside the same read with an API key.
func BenchmarkIdentityProviderToken(b *testing.B) {
	tb, iss := setupOIDC(b, apitest.Options{})
	tb.TenantWithOrg("bench", "org_bench")
	_, key := tb.TenantWithKey("bench-keys")
	jwt := apitest.Member(iss, "user_1", "org_bench", "org:admin")
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
