package api_test

import (
	"strings"
	"testing"
)

// TestNullBodyIsRefused: null is JSON, but not the object a request is;
// it used to decode into the zero request (POST /v1/api-keys made a key
// with the default scopes).
func TestNullBodyIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id, key := b.TenantWithKey("nulls", allScopes...)
	for _, rt := range []struct{ method, path, token string }{
		{"POST", "/v1/api-keys", key},
		{"POST", "/v1/tenants/" + id + "/api-keys", adminToken},
		{"POST", "/v1/tenants", adminToken},
		{"PATCH", "/v1/tenants/" + id, adminToken},
		{"POST", "/v1/agents", key},
		{"POST", "/v1/webhooks", key},
		{"POST", "/v1/search", key},
		{"POST", "/v1/documents", key},
		{"POST", "/v1/evaluations", key},
		{"POST", "/v1/embedding-migrations", key},
	} {
		for _, body := range []string{"null", " \n null "} {
			r := b.Req(rt.method, rt.path, rt.token, body)
			if r.Status != 400 || r.Code(t) != "invalid_json" || !strings.Contains(string(r.Body), "must be a JSON object") {
				t.Errorf("%s %s with %q: %d %s", rt.method, rt.path, body, r.Status, r.Body)
			}
		}
	}
	keys := b.Must(200, "GET", "/v1/api-keys", key, nil).JSON(t)["data"].([]any)
	if len(keys) != 1 {
		t.Fatalf("%d keys after the null bodies, want the test's one", len(keys))
	}
}
