package api_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ragd/ragd/api/apitest"
	"github.com/ragd/ragd/search"
)

func TestTenants(t *testing.T) {
	t.Parallel()

	t.Run("CreateGetUpdateDelete", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		r := b.Must(201, "POST", "/v1/tenants", adminToken, map[string]any{
			"name": "Acme Corp", "clerk_org_id": "org_2abc", "settings": map[string]any{"plan": "pro"},
		})
		tn := r.JSON(t)
		id := tn["id"].(string)
		if tn["slug"] != "acme-corp" || tn["clerk_org_id"] != "org_2abc" || r.Header.Get("Location") != "/v1/tenants/"+id {
			t.Fatalf("created tenant = %s (Location %q)", r.Body, r.Header.Get("Location"))
		}
		got := b.Must(200, "GET", "/v1/tenants/"+id, adminToken, nil).JSON(t)
		if got["name"] != "Acme Corp" || got["settings"].(map[string]any)["plan"] != "pro" {
			t.Fatalf("get = %v", got)
		}
		upd := b.Must(200, "PATCH", "/v1/tenants/"+id, adminToken, map[string]any{"name": "Acme Inc", "clerk_org_id": nil}).JSON(t)
		if upd["name"] != "Acme Inc" || upd["slug"] != "acme-corp" || upd["clerk_org_id"] != nil {
			t.Fatalf("patched = %v", upd)
		}
		b.Must(204, "DELETE", "/v1/tenants/"+id, adminToken, nil)
		if code := b.Must(404, "GET", "/v1/tenants/"+id, adminToken, nil).Code(t); code != "not_found" {
			t.Fatalf("code = %q", code)
		}
		b.Must(404, "DELETE", "/v1/tenants/"+id, adminToken, nil)
	})

	t.Run("LookupByClerkOrgID", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.Must(201, "POST", "/v1/tenants", adminToken, map[string]any{"name": "One", "clerk_org_id": "org_one"})
		b.Must(201, "POST", "/v1/tenants", adminToken, map[string]any{"name": "Two", "clerk_org_id": "org_two"})
		data := b.Must(200, "GET", "/v1/tenants?clerk_org_id=org_two", adminToken, nil).JSON(t)["data"].([]any)
		if len(data) != 1 || data[0].(map[string]any)["name"] != "Two" {
			t.Fatalf("lookup = %v", data)
		}
		if data := b.Must(200, "GET", "/v1/tenants?clerk_org_id=org_none", adminToken, nil).JSON(t)["data"].([]any); len(data) != 0 {
			t.Fatalf("lookup of unknown org = %v", data)
		}
	})

	t.Run("PaginatesWithCursor", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for i := range 5 {
			b.Must(201, "POST", "/v1/tenants", adminToken, map[string]any{"name": fmt.Sprintf("T%d", i)})
		}
		var names []string
		path := "/v1/tenants?limit=2"
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatal("pagination does not end")
			}
			page := b.Must(200, "GET", path, adminToken, nil).JSON(t)
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
			if code := b.Must(400, "GET", "/v1/tenants?"+q, adminToken, nil).Code(t); code != "validation_failed" {
				t.Fatalf("%s: code %q", q, code)
			}
		}
	})

	t.Run("RejectsBadInput", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.Must(201, "POST", "/v1/tenants", adminToken, map[string]any{"name": "Taken", "slug": "taken", "clerk_org_id": "org_taken"})
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
				r := b.Must(tc.status, "POST", "/v1/tenants", adminToken, tc.body)
				p := r.JSON(t)
				if got := r.Code(t); got != tc.code {
					t.Fatalf("code = %q, want %q: %s", got, tc.code, r.Body)
				}
				if tc.field != "" {
					if _, ok := p["errors"].(map[string]any)[tc.field]; !ok {
						t.Fatalf("errors do not name %q: %s", tc.field, r.Body)
					}
				}
			})
		}
		list := b.Must(200, "GET", "/v1/tenants", adminToken, nil).JSON(t)["data"].([]any)
		if len(list) != 1 {
			t.Fatalf("bad input created tenants: %v", list)
		}
	})

	t.Run("WrongContentType", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		r := b.Must(415, "POST", "/v1/tenants", adminToken, map[string]any{"name": "A"}, "Content-Type", "text/plain")
		if r.Code(t) != "unsupported_media_type" {
			t.Fatalf("body = %s", r.Body)
		}
	})

	t.Run("AdminOnly", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id, key := b.TenantWithKey("acme", allScopes...)
		for _, rt := range []struct{ method, path string }{
			{"POST", "/v1/tenants"}, {"GET", "/v1/tenants"}, {"GET", "/v1/tenants/" + id},
			{"PATCH", "/v1/tenants/" + id}, {"DELETE", "/v1/tenants/" + id}, {"POST", "/v1/tenants/" + id + "/api-keys"},
		} {
			if code := b.Must(403, rt.method, rt.path, key, map[string]any{"name": "x"}).Code(t); code != "forbidden_scope" {
				t.Fatalf("%s %s with a tenant key: code %q", rt.method, rt.path, code)
			}
			for _, token := range []string{"", "wrong-token", "ragd_sk_unknown"} {
				r := b.Must(401, rt.method, rt.path, token, map[string]any{"name": "x"})
				if r.Code(t) != "unauthorized" || r.Header.Get("WWW-Authenticate") == "" {
					t.Fatalf("%s %s with %q: %s", rt.method, rt.path, token, r.Body)
				}
			}
		}
		b.Must(200, "GET", "/v1/tenants/"+id, adminToken, nil)
	})

	t.Run("NotFoundForUnknownOrMalformedID", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, id := range []string{"0193c6a0-0000-7000-8000-000000000000", "not-a-uuid", "1%27%20OR%201=1"} {
			b.Must(404, "GET", "/v1/tenants/"+id, adminToken, nil)
			b.Must(404, "PATCH", "/v1/tenants/"+id, adminToken, map[string]any{"name": "x"})
			b.Must(404, "POST", "/v1/tenants/"+id+"/api-keys", adminToken, map[string]any{})
		}
	})

	t.Run("DeleteRemovesEverythingItOwns", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id, key := b.TenantWithKey("doomed")
		b.Must(201, "POST", "/v1/agents", key, map[string]any{"name": "Bot", "model": "gpt-4o-mini"})
		doc := b.Upload(key, "", "t.txt", []byte("text of a tenant about to go")).JSON(t)["id"].(string)
		b.WaitDocument(key, doc)
		tenant := mustUUID(t, id)
		if n, _ := b.vectors.Count(t.Context(), tenant, search.Filter{}); n == 0 {
			t.Fatal("no points before the delete")
		}
		b.Must(204, "DELETE", "/v1/tenants/"+id, adminToken, nil)
		apitest.Eventually(t, "the deleted tenant's points to be gone", func() bool {
			n, _ := b.vectors.Count(t.Context(), tenant, search.Filter{})
			return n == 0
		})
		b.Must(401, "GET", "/v1/agents", key, nil)
		var n int
		if err := b.pool.QueryRow(t.Context(), "SELECT (SELECT count(*) FROM agents) + (SELECT count(*) FROM api_keys) + (SELECT count(*) FROM documents)").Scan(&n); err != nil || n != 0 {
			t.Fatalf("rows left after tenant delete: %d (%v)", n, err)
		}
	})
}
