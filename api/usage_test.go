package api_test

import "testing"

func TestUsage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	idA, keyA := b.tenantWithKey("a")
	_, keyB := b.tenantWithKey("b")
	text := "Usage counts documents, chunks, bytes and searches."
	id := b.must(202, "POST", "/v1/documents", keyA, map[string]any{"text": text}).json(t)["id"].(string)
	b.waitDocument(keyA, id)
	for range 3 {
		b.must(200, "POST", "/v1/search", keyA, map[string]any{"query": "usage"})
	}
	u := b.must(200, "GET", "/v1/usage", keyA, nil).json(t)
	if u["documents"] != 1.0 || u["chunks"] != 1.0 || u["stored_bytes"] != float64(len(text)) || u["searches"] != 3.0 ||
		u["documents_by_status"].(map[string]any)["ready"] != 1.0 || u["tenant_id"] != idA {
		t.Fatalf("usage of A = %v", u)
	}
	admin := b.must(200, "GET", "/v1/tenants/"+idA+"/usage", adminToken, nil).json(t)
	if admin["documents"] != 1.0 || admin["searches"] != 3.0 {
		t.Fatalf("admin view of A's usage = %v", admin)
	}
	if ub := b.must(200, "GET", "/v1/usage", keyB, nil).json(t); ub["documents"] != 0.0 || ub["searches"] != 0.0 {
		t.Fatalf("B's usage shows A's: %v", ub)
	}
	b.must(403, "GET", "/v1/tenants/"+idA+"/usage", keyA, nil)
	b.must(404, "GET", "/v1/tenants/0193c6a0-0000-7000-8000-000000000000/usage", adminToken, nil)
}
