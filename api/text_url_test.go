package api_test

import (
	"testing"

	"github.com/ragd/ragd/api/apitest"
)

// TestTextInURLs: a query parameter (its name or value) or a path value
// with a NUL or bytes that are not UTF-8 is a 400 naming it, on tenant and
// admin routes, before a handler passes it to Postgres.
func TestTextInURLs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, key := b.TenantWithKey("urls", allScopes...)

	t.Run("QueryParameters", func(t *testing.T) {
		t.Parallel()
		b := &apitest.Client{T: t, URL: b.url, SpoolDir: b.spoolDir}
		for _, tc := range []struct{ path, token, field string }{
			{"/v1/documents?tag=%00", key, "tag"},
			{"/v1/documents?tag=%FF", key, "tag"},
			{"/v1/documents?external_id=%C3%28", key, "external_id"},
			{"/v1/documents?status=ready&tag=a%00b", key, "tag"},
			{"/v1/tenants?clerk_org_id=%00", adminToken, "clerk_org_id"},
			{"/v1/tenants?clerk_org_id=%FE", adminToken, "clerk_org_id"},
			{"/v1/agents?limit=5&cursor=%00", key, "cursor"},
			{"/v1/usage/daily?days=%00", key, "days"},
		} {
			refused(t, b.Req("GET", tc.path, tc.token, nil), tc.field)
		}
		// The detail names the parameter, and a bad name is named quoted.
		r := b.Req("GET", "/v1/documents?tag=%FF", key, nil)
		if d := r.JSON(t)["detail"]; d != `the query parameter "tag" must be valid UTF-8` {
			t.Fatalf("detail %q", d)
		}
		refused(t, b.Req("GET", "/v1/documents?ta%00g=x", key, nil), `"ta\x00g"`)
	})

	t.Run("PathValues", func(t *testing.T) {
		t.Parallel()
		b := &apitest.Client{T: t, URL: b.url}
		refused(t, b.Req("GET", "/v1/agents/%00", key, nil), "agent_id")
		refused(t, b.Req("PATCH", "/v1/agents/a%FFb", key, map[string]any{"name": "x"}), "agent_id")
		refused(t, b.Req("DELETE", "/v1/agents/%C3%28", key, nil), "agent_id")
		refused(t, b.Req("GET", "/v1/documents/%00/chunks", key, nil), "document_id")
		refused(t, b.Req("GET", "/v1/tenants/%FF/usage", adminToken, nil), "tenant_id")
	})

}
