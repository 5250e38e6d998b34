package api_test

import (
	"testing"
	"time"

	"github.com/ragd/ragd/search"
)

func TestReindexTenantJob(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id, key := b.tenantWithKey("acme")
	doc := b.must(202, "POST", "/v1/documents", key, map[string]any{"text": "Points can be rebuilt from Postgres at any time."}).json(t)["id"].(string)
	d := b.waitDocument(key, doc)
	tenant := mustUUID(t, id)
	if err := b.vectors.DeleteTenant(t.Context(), tenant); err != nil { // the points are lost
		t.Fatal(err)
	}
	r := b.must(202, "POST", "/v1/tenants/"+id+"/reindex", adminToken, nil).json(t)
	if r["job"] != "reindex_tenant" {
		t.Fatalf("answer = %v", r)
	}
	want := int(d["chunk_count"].(float64))
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		n, _ := b.vectors.Count(t.Context(), tenant, search.Filter{})
		if n == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d points after the reindex job, want %d", n, want)
		}
	}
	b.must(403, "POST", "/v1/tenants/"+id+"/reindex", key, nil)
	b.must(404, "POST", "/v1/tenants/0193c6a0-0000-7000-8000-000000000000/reindex", adminToken, nil)
}

// TestIdempotencyKeysExpire: the periodic expire_idempotency_keys job,
// run when the workers start, forgets keys older than a day.
func TestIdempotencyKeysExpire(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, key := b.tenantWithKey("acme")
	ct, body := multipartBody(t, "a.txt", []byte("kept and forgotten keys"))
	b.req("POST", "/v1/documents", key, body, "Content-Type", ct, "Idempotency-Key", "old-key")
	b.req("POST", "/v1/documents?duplicate=allow", key, body, "Content-Type", ct, "Idempotency-Key", "fresh-key")
	if _, err := b.pool.Exec(t.Context(), "UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = 'old-key'"); err != nil {
		t.Fatal(err)
	}
	// Run the clean-up now rather than wait an hour for the next one.
	if _, err := b.pool.Exec(t.Context(), `INSERT INTO river_job (args, kind, max_attempts, queue, state, scheduled_at)
		VALUES ('{}', 'expire_idempotency_keys', 3, 'default', 'available', now())`); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var keys []string
		rows, _ := b.pool.Query(t.Context(), "SELECT key FROM idempotency_keys ORDER BY key")
		for rows.Next() {
			var k string
			rows.Scan(&k)
			keys = append(keys, k)
		}
		if len(keys) == 1 && keys[0] == "fresh-key" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("keys left: %v, want only fresh-key", keys)
		}
	}
}
