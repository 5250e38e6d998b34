package api_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestUsage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	idA, keyA := b.TenantWithKey("a")
	_, keyB := b.TenantWithKey("b")
	text := "Usage counts documents, chunks, bytes and searches."
	id := b.Must(202, "POST", "/v1/documents", keyA, map[string]any{"text": text}).JSON(t)["id"].(string)
	b.WaitDocument(keyA, id)
	for range 3 {
		b.Must(200, "POST", "/v1/search", keyA, map[string]any{"query": "usage"})
	}
	u := b.Must(200, "GET", "/v1/usage", keyA, nil).JSON(t)
	if u["documents"] != 1.0 || u["chunks"] != 1.0 || u["stored_bytes"] != float64(len(text)) || u["searches"] != 3.0 ||
		u["documents_by_status"].(map[string]any)["ready"] != 1.0 || u["tenant_id"] != idA {
		t.Fatalf("usage of A = %v", u)
	}
	admin := b.Must(200, "GET", "/v1/tenants/"+idA+"/usage", adminToken, nil).JSON(t)
	if admin["documents"] != 1.0 || admin["searches"] != 3.0 {
		t.Fatalf("admin view of A's usage = %v", admin)
	}
	if ub := b.Must(200, "GET", "/v1/usage", keyB, nil).JSON(t); ub["documents"] != 0.0 || ub["searches"] != 0.0 {
		t.Fatalf("B's usage shows A's: %v", ub)
	}
	b.Must(403, "GET", "/v1/tenants/"+idA+"/usage", keyA, nil)
	b.Must(404, "GET", "/v1/tenants/0193c6a0-0000-7000-8000-000000000000/usage", adminToken, nil)
}

// TestUsageDaily: a tenant's uploads, searches and embedding tokens show
// in today's entry of /v1/usage/daily, after zeros for the days before;
// a tenant sees only its own days; days out of range are refused.
func TestUsageDaily(t *testing.T) {
	t.Parallel()
	b := setupOpenAI(t)
	idA, keyA := b.TenantWithKey("a")
	idB, keyB := b.TenantWithKey("b")
	today := func() string { return time.Now().UTC().Format(time.DateOnly) }
	first := today()

	textA := "Daily usage shows what a tenant did today."
	docA := b.Must(202, "POST", "/v1/documents", keyA, map[string]any{"text": textA}).JSON(t)["id"].(string)
	b.WaitDocument(keyA, docA)
	for range 2 {
		b.Must(200, "POST", "/v1/search", keyA, map[string]any{"query": "daily usage"})
	}
	b.Must(202, "POST", "/v1/documents", keyB, map[string]any{"text": "Tenant B's own, longer document text."})
	for range 5 {
		b.Must(200, "POST", "/v1/search", keyB, map[string]any{"query": "own"})
	}

	// days reads the entries of a daily usage answer, checking that they
	// are consecutive days ending today and that only the last has usage.
	days := func(r response, want int) []map[string]any {
		t.Helper()
		var out struct{ Data []map[string]any }
		if err := json.Unmarshal(r.Body, &out); err != nil {
			t.Fatal(err)
		}
		if len(out.Data) != want {
			t.Fatalf("%d days, want %d: %s", len(out.Data), want, r.Body)
		}
		last, err := time.Parse(time.DateOnly, out.Data[want-1]["day"].(string))
		if err != nil || (last.Format(time.DateOnly) != first && last.Format(time.DateOnly) != today()) {
			t.Fatalf("the last day is %v, want today (%s)", out.Data[want-1]["day"], first)
		}
		for i, d := range out.Data {
			if day := last.AddDate(0, 0, i-want+1).Format(time.DateOnly); d["day"] != day {
				t.Fatalf("entry %d is %v, want %s (oldest first, one a day): %s", i, d["day"], day, r.Body)
			}
			zero := d["embedding_tokens"] == 0.0 && d["searches"] == 0.0 && d["documents_uploaded"] == 0.0 && d["bytes_uploaded"] == 0.0
			if i < want-1 && !zero && first == today() {
				t.Fatalf("entry %d (%v) has usage, want zeros: %v", i, d["day"], d)
			}
		}
		return out.Data
	}

	a := days(b.Must(200, "GET", "/v1/usage/daily", keyA, nil), 30)
	usageA := b.Must(200, "GET", "/v1/usage", keyA, nil).JSON(t)
	if todayA := a[29]; first == today() && (todayA["searches"] != 2.0 || todayA["documents_uploaded"] != 1.0 ||
		todayA["bytes_uploaded"] != float64(len(textA)) || todayA["embedding_tokens"] == 0.0 ||
		todayA["embedding_tokens"] != usageA["embedding_tokens"]) {
		t.Fatalf("A's today = %v, want 2 searches, 1 upload of %d bytes and all of A's %v embedding tokens", todayA, len(textA), usageA["embedding_tokens"])
	}
	bDays := days(b.Must(200, "GET", "/v1/usage/daily?days=1", keyB, nil), 1)
	if todayB := bDays[0]; first == today() && (todayB["searches"] != 5.0 || todayB["documents_uploaded"] != 1.0 ||
		todayB["bytes_uploaded"] == float64(len(textA))) {
		t.Fatalf("B's today = %v, want only B's own usage", todayB)
	}

	t.Run("Admin", func(t *testing.T) {
		t.Parallel()
		week := days(b.Must(200, "GET", "/v1/tenants/"+idA+"/usage/daily?days=7", adminToken, nil), 7)
		if !reflect.DeepEqual(week, a[23:]) {
			t.Fatalf("the admin's week of A = %v, want %v", week, a[23:])
		}
		asA := days(b.Must(200, "GET", "/v1/usage/daily?days=7", adminToken, nil, "Ragd-Tenant", idA), 7)
		if !reflect.DeepEqual(asA, week) {
			t.Fatalf("the admin acting for A = %v, want %v", asA, week)
		}
		days(b.Must(200, "GET", "/v1/tenants/"+idB+"/usage/daily?days=366", adminToken, nil), 366)
		b.Must(404, "GET", "/v1/tenants/0193c6a0-0000-7000-8000-000000000000/usage/daily", adminToken, nil)
	})

	t.Run("OtherTenantsAreHidden", func(t *testing.T) {
		t.Parallel()
		if r := b.Req("GET", "/v1/tenants/"+idB+"/usage/daily", keyA, nil); r.Status != 403 || r.Code(t) != "forbidden_scope" {
			t.Fatalf("A's key on B's daily usage: %d %s", r.Status, r.Body)
		}
		if r := b.Req("GET", "/v1/usage/daily", keyA, nil, "Ragd-Tenant", idB); r.Status != 404 {
			t.Fatalf("A's key naming B: %d %s", r.Status, r.Body)
		}
		_, searchOnly := b.TenantWithKey("c", "search")
		if r := b.Req("GET", "/v1/usage/daily", searchOnly, nil); r.Status != 403 || r.Code(t) != "forbidden_scope" {
			t.Fatalf("a key without documents:read: %d %s", r.Status, r.Body)
		}
	})

	t.Run("RejectsBadDays", func(t *testing.T) {
		t.Parallel()
		for _, v := range []string{"0", "367", "-1", "abc", "1e3", "", "1.5", "%20"} {
			for _, path := range []string{"/v1/usage/daily?days=" + v, "/v1/tenants/" + idA + "/usage/daily?days=" + v} {
				token := keyA
				if strings.HasPrefix(path, "/v1/tenants/") {
					token = adminToken
				}
				r := b.Req("GET", path, token, nil)
				if r.Status != 400 || r.Code(t) != "validation_failed" {
					t.Fatalf("GET %s: %d %s, want 400 validation_failed", path, r.Status, r.Body)
				}
				if msg, _ := r.JSON(t)["errors"].(map[string]any)["days"].(string); msg == "" {
					t.Fatalf("GET %s: no error for days: %s", path, r.Body)
				}
			}
		}
	})
}
