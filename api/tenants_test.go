package api_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ragd/ragd/search"
)

func TestTenants(t *testing.T) {
	t.Parallel()

	t.Run("CreateGetUpdateDelete", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		r := b.must(201, "POST", "/v1/tenants", adminToken, map[string]any{
			"name": "Acme Corp", "clerk_org_id": "org_2abc", "settings": map[string]any{"plan": "pro"},
		})
		tn := r.json(t)
		id := tn["id"].(string)
		if tn["slug"] != "acme-corp" || tn["clerk_org_id"] != "org_2abc" || r.Header.Get("Location") != "/v1/tenants/"+id {
			t.Fatalf("created tenant = %s (Location %q)", r.Body, r.Header.Get("Location"))
		}
		got := b.must(200, "GET", "/v1/tenants/"+id, adminToken, nil).json(t)
		if got["name"] != "Acme Corp" || got["settings"].(map[string]any)["plan"] != "pro" {
			t.Fatalf("get = %v", got)
		}
		upd := b.must(200, "PATCH", "/v1/tenants/"+id, adminToken, map[string]any{"name": "Acme Inc", "clerk_org_id": nil}).json(t)
		if upd["name"] != "Acme Inc" || upd["slug"] != "acme-corp" || upd["clerk_org_id"] != nil {
			t.Fatalf("patched = %v", upd)
		}
		b.must(204, "DELETE", "/v1/tenants/"+id, adminToken, nil)
		if code := b.must(404, "GET", "/v1/tenants/"+id, adminToken, nil).code(t); code != "not_found" {
			t.Fatalf("code = %q", code)
		}
		b.must(404, "DELETE", "/v1/tenants/"+id, adminToken, nil)
	})

	t.Run("LookupByClerkOrgID", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.must(201, "POST", "/v1/tenants", adminToken, map[string]any{"name": "One", "clerk_org_id": "org_one"})
		b.must(201, "POST", "/v1/tenants", adminToken, map[string]any{"name": "Two", "clerk_org_id": "org_two"})
		data := b.must(200, "GET", "/v1/tenants?clerk_org_id=org_two", adminToken, nil).json(t)["data"].([]any)
		if len(data) != 1 || data[0].(map[string]any)["name"] != "Two" {
			t.Fatalf("lookup = %v", data)
		}
		if data := b.must(200, "GET", "/v1/tenants?clerk_org_id=org_none", adminToken, nil).json(t)["data"].([]any); len(data) != 0 {
			t.Fatalf("lookup of unknown org = %v", data)
		}
	})

	t.Run("PaginatesWithCursor", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for i := range 5 {
			b.must(201, "POST", "/v1/tenants", adminToken, map[string]any{"name": fmt.Sprintf("T%d", i)})
		}
		var names []string
		path := "/v1/tenants?limit=2"
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatal("pagination does not end")
			}
			page := b.must(200, "GET", path, adminToken, nil).json(t)
			for _, d := range page["data"].([]any) {
				names = append(names, d.(map[string]any)["name"].(string))
			}
			next, _ := page["next_cursor"].(string)
			if next == "" {
				break
			}
			path = "/v1/tenants?limit=2&cursor=" + next
		}
		if strings.Join(names, ",") != "T0,T1,T2,T3,T4" {
			t.Fatalf("paged names = %v", names)
		}
		for _, q := range []string{"limit=0", "limit=201", "limit=x", "cursor=garbage!", "cursor=YWJj"} {
			if code := b.must(400, "GET", "/v1/tenants?"+q, adminToken, nil).code(t); code != "validation_failed" {
				t.Fatalf("%s: code %q", q, code)
			}
		}
	})

	t.Run("RejectsBadInput", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.must(201, "POST", "/v1/tenants", adminToken, map[string]any{"name": "Taken", "slug": "taken", "clerk_org_id": "org_taken"})
		cases := []struct {
			name   string
			body   any
			status int
			code   string
			field  string
		}{
			{"MissingName", map[string]any{"slug": "x"}, 400, "validation_failed", "name"},
			{"BadSlug", map[string]any{"name": "A", "slug": "Not A Slug"}, 400, "validation_failed", "slug"},
			{"SettingsNotObject", map[string]any{"name": "A", "settings": []int{1}}, 400, "validation_failed", "settings"},
			{"BadClerkOrg", map[string]any{"name": "A", "clerk_org_id": "org with spaces"}, 400, "validation_failed", "clerk_org_id"},
			{"NameWrongType", map[string]any{"name": 5}, 400, "validation_failed", "name"},
			{"UnknownField", map[string]any{"name": "A", "plan": "pro"}, 400, "validation_failed", "plan"},
			{"DuplicateSlug", map[string]any{"name": "B", "slug": "taken"}, 409, "conflict", "slug"},
			{"DuplicateClerkOrg", map[string]any{"name": "B", "clerk_org_id": "org_taken"}, 409, "conflict", "clerk_org_id"},
			{"Malformed", `{"name": "A"`, 400, "invalid_json", ""},
			{"NotJSON", `name=A`, 400, "invalid_json", ""},
			{"TrailingData", `{"name": "A"} {"name": "B"}`, 400, "invalid_json", ""},
			{"Empty", ``, 400, "invalid_json", ""},
			{"Array", `[{"name": "A"}]`, 400, "invalid_json", ""},
			{"Oversized", `{"name": "A", "settings": {"x": "` + strings.Repeat("a", 2<<20) + `"}}`, 413, "payload_too_large", ""},
			{"NulInName", map[string]any{"name": "A\x00B"}, 400, "validation_failed", "name"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := b.must(tc.status, "POST", "/v1/tenants", adminToken, tc.body)
				p := r.json(t)
				if got := r.code(t); got != tc.code {
					t.Fatalf("code = %q, want %q: %s", got, tc.code, r.Body)
				}
				if tc.field != "" {
					if _, ok := p["errors"].(map[string]any)[tc.field]; !ok {
						t.Fatalf("errors do not name %q: %s", tc.field, r.Body)
					}
				}
			})
		}
		list := b.must(200, "GET", "/v1/tenants", adminToken, nil).json(t)["data"].([]any)
		if len(list) != 1 {
			t.Fatalf("bad input created tenants: %v", list)
		}
	})

	t.Run("WrongContentType", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		r := b.must(415, "POST", "/v1/tenants", adminToken, map[string]any{"name": "A"}, "Content-Type", "text/plain")
		if r.code(t) != "unsupported_media_type" {
			t.Fatalf("body = %s", r.Body)
		}
	})

	t.Run("AdminOnly", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id, key := b.tenantWithKey("acme", allScopes...)
		for _, rt := range []struct{ method, path string }{
			{"POST", "/v1/tenants"}, {"GET", "/v1/tenants"}, {"GET", "/v1/tenants/" + id},
			{"PATCH", "/v1/tenants/" + id}, {"DELETE", "/v1/tenants/" + id}, {"POST", "/v1/tenants/" + id + "/api-keys"},
		} {
			if code := b.must(403, rt.method, rt.path, key, map[string]any{"name": "x"}).code(t); code != "forbidden_scope" {
				t.Fatalf("%s %s with a tenant key: code %q", rt.method, rt.path, code)
			}
			for _, token := range []string{"", "wrong-token", "ragd_sk_unknown"} {
				r := b.must(401, rt.method, rt.path, token, map[string]any{"name": "x"})
				if r.code(t) != "unauthorized" || r.Header.Get("WWW-Authenticate") == "" {
					t.Fatalf("%s %s with %q: %s", rt.method, rt.path, token, r.Body)
				}
			}
		}
		b.must(200, "GET", "/v1/tenants/"+id, adminToken, nil)
	})

	t.Run("NotFoundForUnknownOrMalformedID", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, id := range []string{"0193c6a0-0000-7000-8000-000000000000", "not-a-uuid", "1%27%20OR%201=1"} {
			b.must(404, "GET", "/v1/tenants/"+id, adminToken, nil)
			b.must(404, "PATCH", "/v1/tenants/"+id, adminToken, map[string]any{"name": "x"})
			b.must(404, "POST", "/v1/tenants/"+id+"/api-keys", adminToken, map[string]any{})
		}
	})

	t.Run("DeleteRemovesEverythingItOwns", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id, key := b.tenantWithKey("doomed")
		b.must(201, "POST", "/v1/agents", key, map[string]any{"name": "Bot", "model": "gpt-4o-mini"})
		doc := b.upload(key, "", "t.txt", []byte("text of a tenant about to go")).json(t)["id"].(string)
		b.waitDocument(key, doc)
		tenant := mustUUID(t, id)
		if n, _ := b.vectors.Count(t.Context(), tenant, search.Filter{}); n == 0 {
			t.Fatal("no points before the delete")
		}
		b.must(204, "DELETE", "/v1/tenants/"+id, adminToken, nil)
		deadline := time.Now().Add(30 * time.Second)
		for n, _ := b.vectors.Count(t.Context(), tenant, search.Filter{}); n != 0; n, _ = b.vectors.Count(t.Context(), tenant, search.Filter{}) {
			if time.Now().After(deadline) {
				t.Fatalf("%d points left 30s after the tenant was deleted", n)
			}
			time.Sleep(50 * time.Millisecond)
		}
		b.must(401, "GET", "/v1/agents", key, nil)
		var n int
		if err := b.pool.QueryRow(t.Context(), "SELECT (SELECT count(*) FROM agents) + (SELECT count(*) FROM api_keys) + (SELECT count(*) FROM documents)").Scan(&n); err != nil || n != 0 {
			t.Fatalf("rows left after tenant delete: %d (%v)", n, err)
		}
	})
}
