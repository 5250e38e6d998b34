package api_test

import "testing"

// TestOwnTenant: any key of a tenant, whatever its scopes, reads its own
// tenant at GET /v1/tenant (the console's header names it so), never
// another's; the admin names the tenant.
func TestOwnTenant(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id, key := b.TenantWithKey("own-tenant", "search")
	other, _ := b.TenantWithKey("own-tenant-other")
	got := b.Must(200, "GET", "/v1/tenant", key, nil).JSON(t)
	if got["id"] != id || got["name"] != "Tenant own-tenant" {
		t.Fatalf("a search-only key's own tenant: %v", got)
	}
	if r := b.Req("GET", "/v1/tenant", key, nil, "Ragd-Tenant", other); r.Status != 404 {
		t.Fatalf("a key naming another tenant: %d %s", r.Status, r.Body)
	}
	if got := b.Must(200, "GET", "/v1/tenant", adminToken, nil, "Ragd-Tenant", other).JSON(t); got["id"] != other {
		t.Fatalf("the admin naming a tenant: %v", got)
	}
	if r := b.Req("GET", "/v1/tenant", "", nil); r.Status != 401 {
		t.Fatalf("no credentials: %d", r.Status)
	}
}
