package api_test

import (
	"net/url"
	"testing"

	"github.com/ragd/ragd/api/apitest"
)

// TestTextInputs: NUL and bytes that are not UTF-8 are refused with a 400
// that names the parameter, in a JSON body however deep, in the headers
// ragd stores and in an upload's form fields (Postgres would refuse them
// with SQLSTATE 22021, and the request end in a 500), while text in any
// script passes. TestTextInURLs does the same for query and path.
func TestTextInputs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tenantID, key := b.TenantWithKey("texts", allScopes...)

	t.Run("JSONBodyFields", func(t *testing.T) {
		t.Parallel()
		b := &apitest.Client{T: t, URL: b.url, SpoolDir: b.spoolDir}
		for _, tc := range []struct{ method, path, token, body, field string }{
			{"POST", "/v1/tenants", adminToken, `{"name":"a\u0000b"}`, "name"},
			{"POST", "/v1/tenants", adminToken, "{\"name\":\"caf\xe9\"}", "name"},
			{"POST", "/v1/tenants", adminToken, `{"name":"N","clerk_org_id":"\u0000"}`, "clerk_org_id"},
			{"POST", "/v1/search", key, `{"query":"what\u0000"}`, "query"},
			{"POST", "/v1/tenants/" + tenantID + "/api-keys", adminToken, "{\"name\":\"\xc3\x28\"}", "name"},
			{"POST", "/v1/webhooks", key, `{"url":"https://example.com/\u0000"}`, "url"},
		} {
			refused(t, b.Req(tc.method, tc.path, tc.token, tc.body), tc.field)
		}
	})

	t.Run("NestedJSONFields", func(t *testing.T) {
		t.Parallel()
		b := &apitest.Client{T: t, URL: b.url, SpoolDir: b.spoolDir}
		for _, tc := range []struct{ method, path, token, body, field string }{
			{"POST", "/v1/documents", key, `{"text":"hi","metadata":{"lang":"e\u0000n"}}`, "metadata.lang"},
			{"POST", "/v1/documents", key, "{\"text\":\"hi\",\"tags\":[\"ok\",\"\xff\"]}", "tags[1]"},
			{"POST", "/v1/documents", key, `{"text":"hi","metadata":{"k\u0000":"v"}}`, "metadata"},
			{"POST", "/v1/documents", key, `{"text":"a\u0000"}`, "text"},
			{"PATCH", "/v1/tenants/" + tenantID, adminToken, `{"settings":{"plan":{"name":"\u0000"}}}`, "settings.plan.name"},
			{"POST", "/v1/evaluations", key, `{"queries":[{"query":"q","relevant":[]},{"query":"q","relevant":[{"external_id":"\u0000"}]}]}`, "queries[1].relevant[0].external_id"},
		} {
			refused(t, b.Req(tc.method, tc.path, tc.token, tc.body), tc.field)
		}
	})

	t.Run("Headers", func(t *testing.T) {
		t.Parallel()
		// Idempotency-Key is the one header ragd stores as it came. (A NUL
		// in a header never reaches a handler: net/http refuses it.)
		b := &apitest.Client{T: t, URL: b.url}
		for _, v := range []string{"k\xffk", "caf\xc3\xa9"} {
			r := b.Req("POST", "/v1/documents", key, `{"text":"hi"}`, "Idempotency-Key", v)
			refused(t, r, "Idempotency-Key")
		}
	})

	t.Run("MultipartFields", func(t *testing.T) {
		t.Parallel()
		b := &apitest.Client{T: t, URL: b.url, SpoolDir: b.spoolDir}
		for _, tc := range []struct {
			fields []string
			field  string
		}{
			{[]string{"title", "caf\xe9"}, "title"},
			{[]string{"title", "a\x00b"}, "title"},
			{[]string{"external_id", "\xc3\x28"}, "external_id"},
			{[]string{"tags", "\xff"}, "tags[0]"},
			{[]string{"tags", `["ok","\u0000"]`}, "tags[1]"},
			{[]string{"metadata", `{"lang":"\u0000"}`}, "metadata.lang"},
		} {
			r := b.Upload(key, "", "a.txt", []byte("hello"), tc.fields...)
			if r.Status != 400 || r.Code(t) != "validation_failed" {
				t.Fatalf("%q: status %d: %s", tc.fields, r.Status, r.Body)
			}
			if _, ok := r.JSON(t)["errors"].(map[string]any)[tc.field]; !ok {
				t.Fatalf("%q: the problem does not name %q: %s", tc.fields, tc.field, r.Body)
			}
		}
		// A file name is the client's platform's: cleaned, not refused
		// (ingest.BaseName); a NUL in the part's header is a malformed body.
		r := b.Upload(key, "", "caf\xe9.txt", []byte("hello"))
		if name, _ := r.JSON(t)["filename"].(string); r.Status != 202 || name != "caf\uFFFD.txt" {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
		if r := b.Upload(key, "", "a\x00.txt", []byte("hello")); r.Status != 400 {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
	})

	t.Run("TextInAnyScriptPasses", func(t *testing.T) {
		t.Parallel()
		b := &apitest.Client{T: t, URL: b.url}
		_, key := b.TenantWithKey("scripts")
		for _, tag := range []string{"café", "日本語", "Ελληνικά", "🙂"} {
			b.Must(202, "POST", "/v1/documents", key, map[string]any{"text": "text tagged " + tag, "tags": []string{tag}, "title": tag + " 文書"})
			got := b.Must(200, "GET", "/v1/documents?tag="+url.QueryEscape(tag), key, nil).JSON(t)["data"].([]any)
			if len(got) != 1 || got[0].(map[string]any)["title"] != tag+" 文書" {
				t.Fatalf("?tag=%s found %v", tag, got)
			}
		}
		b.Must(201, "POST", "/v1/tenants", adminToken, map[string]any{"name": "株式会社", "slug": "kabushiki"})
		b.Must(200, "GET", "/v1/tenants?clerk_org_id="+url.QueryEscape("org_日本"), adminToken, nil)
		b.Must(404, "GET", "/v1/agents/"+url.PathEscape("エージェント"), key, nil)
		// U+FFFD sent as such is text like any other.
		b.Must(202, "POST", "/v1/documents", key, map[string]any{"text": "replacement \uFFFD", "tags": []string{"\uFFFD"}})
	})
}

// refused checks a 400 validation_failed whose errors name field.
func refused(t *testing.T, r response, field string) {
	t.Helper()
	if r.Status != 400 || r.Code(t) != "validation_failed" {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	errs, _ := r.JSON(t)["errors"].(map[string]any)
	if _, ok := errs[field]; !ok {
		t.Fatalf("the problem does not name %q: %s", field, r.Body)
	}
}
