package api_test

import (
	"fmt"
	"testing"

	"github.com/ragd/ragd/api/apitest"
	"github.com/ragd/ragd/search"
)

func TestReindexTenantJob(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id, key := b.TenantWithKey("acme")
	doc := b.Must(202, "POST", "/v1/documents", key, map[string]any{"text": "Points can be rebuilt from Postgres at any time."}).JSON(t)["id"].(string)
	d := b.WaitDocument(key, doc)
	tenant := mustUUID(t, id)
	if err := b.vectors.DeleteTenant(t.Context(), tenant); err != nil { // the points are lost
		t.Fatal(err)
	}
	r := b.Must(202, "POST", "/v1/tenants/"+id+"/reindex", adminToken, nil).JSON(t)
	if r["job"] != "reindex_tenant" {
		t.Fatalf("answer = %v", r)
	}
	want := int(d["chunk_count"].(float64))
	apitest.Eventually(t, fmt.Sprintf("the reindex job to write the %d points", want), func() bool {
		n, _ := b.vectors.Count(t.Context(), tenant, search.Filter{})
		return n == want
	})
	b.Must(403, "POST", "/v1/tenants/"+id+"/reindex", key, nil)
	b.Must(404, "POST", "/v1/tenants/0193c6a0-0000-7000-8000-000000000000/reindex", adminToken, nil)
}

// TestIdempotencyKeysExpire: the periodic expire_idempotency_keys job,
// run when the workers start, forgets keys older than a day.
func TestIdempotencyKeysExpire(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, key := b.TenantWithKey("acme")
	ct, body := apitest.MultipartBody(t, "a.txt", []byte("kept and forgotten keys"))
	b.Req("POST", "/v1/documents", key, body, "Content-Type", ct, "Idempotency-Key", "old-key")
	b.Req("POST", "/v1/documents?duplicate=allow", key, body, "Content-Type", ct, "Idempotency-Key", "fresh-key")
	if _, err := b.pool.Exec(t.Context(), "UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = 'old-key'"); err != nil {
		t.Fatal(err)
	}
	// Run the clean-up now rather than wait an hour for the next one.
	if _, err := b.pool.Exec(t.Context(), `INSERT INTO river_job (args, kind, max_attempts, queue, state, scheduled_at)
		VALUES ('{}', 'expire_idempotency_keys', 3, 'default', 'available', now())`); err != nil {
		t.Fatal(err)
	}
	apitest.Eventually(t, "only fresh-key left", func() bool {
		var keys []string
		rows, _ := b.pool.Query(t.Context(), "SELECT key FROM idempotency_keys ORDER BY key")
		for rows.Next() {
			var k string
			rows.Scan(&k)
			keys = append(keys, k)
		}
		return len(keys) == 1 && keys[0] == "fresh-key"
	})
}
