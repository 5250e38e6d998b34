package api_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ragd/ragd/api/apitest"
	"github.com/ragd/ragd/extract"
	"github.com/ragd/ragd/ingest"
)

func TestQuotas(t *testing.T) {
	t.Parallel()

	t.Run("DocumentsRefusedUpFrontUntilOneIsDeleted", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id, key := b.TenantWithKey("docs-quota")
		_, other := b.TenantWithKey("no-quota")
		got := b.Must(200, "PATCH", "/v1/tenants/"+id, adminToken, map[string]any{"quotas": map[string]any{"documents": 2}}).JSON(t)
		if q := got["quotas"].(map[string]any); q["documents"] != 2.0 || q["stored_bytes"] != nil {
			t.Fatalf("quotas after PATCH: %v", q)
		}
		first := b.Upload(key, "", "a.txt", []byte("first")).JSON(t)["id"].(string)
		b.Upload(key, "", "b.txt", []byte("second"))
		r := b.Upload(key, "", "c.txt", []byte("third"))
		if r.Status != 429 || r.Code(t) != "quota_exceeded" || r.Header.Get("Retry-After") != "" {
			t.Fatalf("third upload: %d %s (Retry-After %q), want 429 quota_exceeded without Retry-After", r.Status, r.Body, r.Header.Get("Retry-After"))
		}
		if !strings.Contains(r.JSON(t)["detail"].(string), "documents") {
			t.Errorf("the refusal does not name the quota: %s", r.Body)
		}
		var n int
		if err := b.pool.QueryRow(t.Context(), "SELECT count(*) FROM documents WHERE tenant_id = $1", id).Scan(&n); err != nil || n != 2 {
			t.Fatalf("%d documents stored, want the refused one not stored", n)
		}
		// Another tenant is not limited by it.
		for i := range 3 {
			if r := b.Upload(other, "", fmt.Sprintf("o%d.txt", i), []byte(fmt.Sprint("other ", i))); r.Status != 202 {
				t.Fatalf("another tenant's upload: %d %s", r.Status, r.Body)
			}
		}
		b.WaitDocument(key, first)
		b.Must(202, "DELETE", "/v1/documents/"+first, key, nil)
		if r := b.Upload(key, "", "c.txt", []byte("third")); r.Status != 202 {
			t.Fatalf("after a delete: %d %s", r.Status, r.Body)
		}
		// Back to the default (unlimited here).
		got = b.Must(200, "PATCH", "/v1/tenants/"+id, adminToken, map[string]any{"quotas": map[string]any{"documents": nil}}).JSON(t)
		if q := got["quotas"].(map[string]any); q["documents"] != nil {
			t.Fatalf("quotas after null: %v", q)
		}
		if r := b.Upload(key, "", "d.txt", []byte("fourth")); r.Status != 202 {
			t.Fatalf("with the default: %d %s", r.Status, r.Body)
		}
	})

	t.Run("StoredBytes", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id, key := b.TenantWithKey("bytes-quota")
		b.Must(200, "PATCH", "/v1/tenants/"+id, adminToken, map[string]any{"quotas": map[string]any{"stored_bytes": 100}})
		if r := b.Upload(key, "", "a.txt", []byte(strings.Repeat("a", 60))); r.Status != 202 {
			t.Fatalf("first: %d %s", r.Status, r.Body)
		}
		r := b.Upload(key, "", "b.txt", []byte(strings.Repeat("b", 60)))
		if r.Status != 429 || r.Code(t) != "quota_exceeded" {
			t.Fatalf("second: %d %s", r.Status, r.Body)
		}
		u := b.Must(200, "GET", "/v1/usage", key, nil).JSON(t)["quotas"].(map[string]any)["stored_bytes"].(map[string]any)
		if u["limit"] != 100.0 || u["used"] != 60.0 {
			t.Fatalf("usage of the stored-bytes quota: %v", u)
		}
	})

	t.Run("MonthlyEmbeddingTokensWithRetryAfter", func(t *testing.T) {
		t.Parallel()
		b := setupOpenAI(t)
		id, key := b.TenantWithKey("token-quota")
		// A document that needs more tokens than are left fails before
		// the provider is called, saying what it needs.
		b.Must(200, "PATCH", "/v1/tenants/"+id, adminToken, map[string]any{"quotas": map[string]any{"embedding_tokens_per_month": 5}})
		text := []byte("Some words that cost more than five tokens to embed, surely.")
		d := b.WaitDocument(key, b.Upload(key, "", "a.txt", text).JSON(t)["id"].(string))
		if e, _ := d["error"].(map[string]any); d["status"] != "failed" || e["code"] != "quota_exceeded" || !strings.Contains(e["message"].(string), "needs about") {
			t.Fatalf("a document over the quota: %v %v", d["status"], d["error"])
		}
		usedNow := func() float64 {
			return b.Must(200, "GET", "/v1/tenants/"+id+"/usage", adminToken, nil).JSON(t)["quotas"].(map[string]any)["embedding_tokens_per_month"].(map[string]any)["used"].(float64)
		}
		if u := usedNow(); u != 0 {
			t.Fatalf("the refused document billed %v tokens", u)
		}
		// One that fits is ready; the quota is then set to what it cost.
		b.Must(200, "PATCH", "/v1/tenants/"+id, adminToken, map[string]any{"quotas": map[string]any{"embedding_tokens_per_month": 1000}})
		d = b.WaitDocument(key, b.Upload(key, "", "a2.txt", append(text, " Twice."...)).JSON(t)["id"].(string))
		if d["status"] != "ready" {
			t.Fatalf("a document within the quota: %v %v", d["status"], d["error"])
		}
		b.Must(200, "PATCH", "/v1/tenants/"+id, adminToken, map[string]any{"quotas": map[string]any{"embedding_tokens_per_month": usedNow()}})
		r := b.Upload(key, "", "b.txt", []byte("another text"))
		if r.Status != 429 || r.Code(t) != "quota_exceeded" {
			t.Fatalf("over the monthly tokens: %d %s", r.Status, r.Body)
		}
		secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
		if err != nil || secs < 1 || time.Duration(secs)*time.Second > 31*24*time.Hour {
			t.Fatalf("Retry-After %q: want the seconds until the month resets", r.Header.Get("Retry-After"))
		}
		u := b.Must(200, "GET", "/v1/tenants/"+id+"/usage", adminToken, nil).JSON(t)["quotas"].(map[string]any)
		tk := u["embedding_tokens_per_month"].(map[string]any)
		if tk["limit"] != tk["used"] || tk["used"].(float64) < 5 {
			t.Fatalf("usage of the token quota: %v", tk)
		}
		// Reported under the name it is set by; the first name stays, the same.
		if old, _ := u["embedding_tokens_this_month"].(map[string]any); fmt.Sprint(old) != fmt.Sprint(tk) {
			t.Fatalf("embedding_tokens_this_month %v, embedding_tokens_per_month %v", old, tk)
		}
		// Queries bill the same quota: with it spent, a search that would
		// embed its query, and an evaluation that would, are refused with
		// the month's Retry-After and cost nothing; a sparse search embeds
		// nothing and goes on.
		for _, body := range []map[string]any{{"query": "words"}, {"query": "words", "mode": "dense"}} {
			r := b.Req("POST", "/v1/search", key, body)
			if r.Status != 429 || r.Code(t) != "quota_exceeded" || r.Header.Get("Retry-After") == "" {
				t.Fatalf("search %v over the monthly tokens: %d %s", body, r.Status, r.Body)
			}
		}
		if r := b.Req("POST", "/v1/evaluations", key, map[string]any{"queries": []any{map[string]any{"query": "words", "relevant": []any{}}}}); r.Status != 429 || r.Code(t) != "quota_exceeded" {
			t.Fatalf("an evaluation over the monthly tokens: %d %s", r.Status, r.Body)
		}
		if r := b.Must(200, "POST", "/v1/search", key, map[string]any{"query": "words", "mode": "sparse"}).JSON(t); len(r["data"].([]any)) == 0 {
			t.Fatalf("a sparse search over the monthly tokens found nothing: %v", r)
		}
		b.Must(202, "POST", "/v1/evaluations", key, map[string]any{"queries": []any{map[string]any{"query": "words", "relevant": []any{}}}, "configs": []any{map[string]any{"mode": "sparse"}}})
		after := b.Must(200, "GET", "/v1/tenants/"+id+"/usage", adminToken, nil).JSON(t)["quotas"].(map[string]any)["embedding_tokens_per_month"].(map[string]any)
		if after["used"] != tk["used"] {
			t.Fatalf("refused queries billed tokens: %v, then %v", tk["used"], after["used"])
		}
	})

	t.Run("AnEvaluationStopsWhenTheTokensRunOut", func(t *testing.T) {
		t.Parallel()
		b := setupOpenAI(t)
		id, key := b.TenantWithKey("token-quota-eval")
		b.WaitDocument(key, b.Upload(key, "", "a.txt", []byte("Otters live by the weir and eat fish.")).JSON(t)["id"].(string))
		used := b.Must(200, "GET", "/v1/tenants/"+id+"/usage", adminToken, nil).JSON(t)["quotas"].(map[string]any)["embedding_tokens_per_month"].(map[string]any)["used"].(float64)
		// A few tokens are left: the evaluation is accepted, and its run
		// stops once it has spent them, instead of embedding 40 queries.
		limit := used + 4
		b.Must(200, "PATCH", "/v1/tenants/"+id, adminToken, map[string]any{"quotas": map[string]any{"embedding_tokens_per_month": limit}})
		var queries []any
		for i := range 40 {
			queries = append(queries, map[string]any{"query": fmt.Sprintf("where do the otters of river %d live", i), "relevant": []any{}})
		}
		e := b.Must(202, "POST", "/v1/evaluations", key, map[string]any{"queries": queries, "configs": []any{map[string]any{"mode": "dense"}}}).JSON(t)
		e = b.waitEvaluation(key, e["id"].(string))
		msg, _ := e["error"].(string)
		if e["status"] != "failed" || !strings.Contains(msg, "ran out") || !strings.Contains(msg, "sparse") {
			t.Fatalf("an evaluation past the quota: %v %q", e["status"], msg)
		}
		after := b.Must(200, "GET", "/v1/tenants/"+id+"/usage", adminToken, nil).JSON(t)["quotas"].(map[string]any)["embedding_tokens_per_month"].(map[string]any)["used"].(float64)
		// At most one query past the quota: each costs 8 tokens here.
		if after > limit+8 {
			t.Fatalf("the evaluation took the month to %v tokens of %v", after, limit)
		}
	})

	t.Run("BadQuotasAreRefused", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id, _ := b.TenantWithKey("bad-quota")
		for _, q := range []any{map[string]any{"documents": -1}, map[string]any{"stored_bytes": "many"}, map[string]any{"documents": 1.5}} {
			if r := b.Req("PATCH", "/v1/tenants/"+id, adminToken, map[string]any{"quotas": q}); r.Status != 400 {
				t.Errorf("quotas %v: %d %s", q, r.Status, r.Body)
			}
		}
	})

	t.Run("TenantsCannotSetTheirOwn", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id, key := b.TenantWithKey("self-quota")
		if r := b.Req("PATCH", "/v1/tenants/"+id, key, map[string]any{"quotas": map[string]any{"documents": 1000000}}); r.Status != 401 && r.Status != 403 && r.Status != 404 {
			t.Fatalf("a tenant key changed its own quota: %d %s", r.Status, r.Body)
		}
	})

	t.Run("DocumentTokensBound", func(t *testing.T) {
		t.Parallel()
		b := setupWith(t, apitest.Options{Limits: ingest.Limits{Limits: extract.Limits{MaxTextBytes: 4 << 20, Timeout: 30 * time.Second}, MaxTokens: 2000}})
		_, key := b.TenantWithKey("token-bound")
		d := b.WaitDocument(key, b.Upload(key, "", "long.txt", []byte(strings.Repeat("many different words here ", 2000))).JSON(t)["id"].(string))
		e, _ := d["error"].(map[string]any)
		if d["status"] != "failed" || e["code"] != "too_large" || !strings.Contains(e["message"].(string), "tokens") {
			t.Fatalf("a document over the token bound: %v %v", d["status"], e)
		}
		if n, _ := d["chunk_count"].(float64); n > 0 {
			t.Fatalf("%v chunks stored for a refused document", n)
		}
	})
}
