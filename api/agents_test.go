package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/ragd/ragd/api/apitest"
)

func TestAgents(t *testing.T) {
	t.Parallel()

	t.Run("CreateReadWithETagUpdateDelete", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, key := b.TenantWithKey("acme")
		r := b.Must(201, "POST", "/v1/agents", key, apitest.FullAgent("support-bot"))
		a := r.JSON(t)
		if a["id"] != "support-bot" || a["version"] != 1.0 || r.Header.Get("ETag") != `"v1"` || r.Header.Get("Location") != "/v1/agents/support-bot" {
			t.Fatalf("created = %s, headers %v", r.Body, r.Header)
		}
		if ret := a["retrieval"].(map[string]any); ret["top_k"] != 5.0 || ret["mode"] != "dense" || ret["enabled"] != true {
			t.Fatalf("retrieval = %v (defaults should fill what was not given)", ret)
		}
		if lf := a["langfuse"].(map[string]any); lf["secret_key"] != "****2222" {
			t.Fatalf("langfuse secret shown as %v, want redacted ****2222", lf["secret_key"])
		}
		g := b.Must(200, "GET", "/v1/agents/support-bot", key, nil)
		if g.Header.Get("ETag") != `"v1"` || g.JSON(t)["system_prompt"] != "Be helpful." {
			t.Fatalf("get = %s", g.Body)
		}
		b.Must(304, "GET", "/v1/agents/support-bot", key, nil, "If-None-Match", `"v1"`)

		u := b.Must(200, "PATCH", "/v1/agents/support-bot", key, map[string]any{"temperature": nil, "retrieval": map[string]any{"top_k": 9}}, "If-Match", `"v1"`)
		ua := u.JSON(t)
		if u.Header.Get("ETag") != `"v2"` || ua["temperature"] != nil || ua["retrieval"].(map[string]any)["top_k"] != 9.0 || ua["retrieval"].(map[string]any)["mode"] != "dense" {
			t.Fatalf("patched = %s", u.Body)
		}
		if code := b.Must(412, "PATCH", "/v1/agents/support-bot", key, map[string]any{"name": "Stale"}, "If-Match", `"v1"`).Code(t); code != "precondition_failed" {
			t.Fatalf("stale If-Match: code %q", code)
		}
		b.Must(412, "PATCH", "/v1/agents/support-bot", key, map[string]any{"name": "Garbage"}, "If-Match", `garbage`)
		if got := b.Must(200, "GET", "/v1/agents/support-bot", key, nil).JSON(t)["name"]; got != "Support Bot" {
			t.Fatalf("a refused PATCH changed the name to %v", got)
		}
		b.Must(200, "PATCH", "/v1/agents/support-bot", key, map[string]any{"name": "Any"}, "If-Match", "*")
		b.Must(400, "PATCH", "/v1/agents/support-bot", key, map[string]any{"id": "renamed"})
		b.Must(204, "DELETE", "/v1/agents/support-bot", key, nil)
		b.Must(404, "GET", "/v1/agents/support-bot", key, nil)
	})

	t.Run("GeneratesUniqueIDs", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, key := b.TenantWithKey("acme")
		ids := map[string]bool{}
		for range 3 {
			id := b.Must(201, "POST", "/v1/agents", key, map[string]any{"name": "Sales Assistant!", "model": "m"}).JSON(t)["id"].(string)
			if !strings.HasPrefix(id, "sales-assistant-") || ids[id] {
				t.Fatalf("generated id %q", id)
			}
			ids[id] = true
		}
		list := b.Must(200, "GET", "/v1/agents?limit=2", key, nil).JSON(t)
		if len(list["data"].([]any)) != 2 || list["next_cursor"] == nil {
			t.Fatalf("first page = %v", list)
		}
		rest := b.Must(200, "GET", "/v1/agents?limit=2&cursor="+list["next_cursor"].(string), key, nil).JSON(t)
		if len(rest["data"].([]any)) != 1 || rest["next_cursor"] != nil {
			t.Fatalf("second page = %v", rest)
		}
	})

	t.Run("AgentIDsAreUniquePerTenant", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, keyA := b.TenantWithKey("a")
		_, keyB := b.TenantWithKey("b")
		b.Must(201, "POST", "/v1/agents", keyA, map[string]any{"id": "shared-name", "name": "A", "model": "m"})
		// B may take the id A uses: no 409 tells B that A has it.
		b.Must(201, "POST", "/v1/agents", keyB, map[string]any{"id": "shared-name", "name": "B", "model": "m"})
		for _, key := range []string{keyA, keyB} {
			r := b.Must(409, "POST", "/v1/agents", key, map[string]any{"id": "shared-name", "name": "again", "model": "m"})
			if r.Code(t) != "conflict" {
				t.Fatalf("duplicate id within a tenant: %s", r.Body)
			}
		}
		for key, name := range map[string]string{keyA: "A", keyB: "B"} {
			if got := b.Must(200, "GET", "/v1/agents/shared-name", key, nil).JSON(t)["name"]; got != name {
				t.Fatalf("tenant %s reads agent named %v", name, got)
			}
		}
	})

	t.Run("RejectsBadInput", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, key := b.TenantWithKey("acme")
		with := func(field string, v any) map[string]any {
			a := apitest.FullAgent("bad-input")
			a[field] = v
			return a
		}
		mcp := func(k string, v any) map[string]any {
			s := map[string]any{"name": "s", "url": "https://mcp.example.com"}
			s[k] = v
			return with("mcp_servers", []any{s})
		}
		cases := []struct {
			name  string
			body  any
			field string
		}{
			{"MissingName", with("name", ""), "name"},
			{"MissingModel", with("model", nil), "model"},
			{"BadID", with("id", "Bad ID"), "id"},
			{"TemperatureTooHigh", with("temperature", 3), "temperature"},
			{"TemperatureWrongType", with("temperature", "hot"), "temperature"},
			{"SchemaDoesNotCompile", with("output_schema", map[string]any{"type": "nonsense"}), "output_schema"},
			{"SchemaNotObject", with("output_schema", "a string"), "output_schema"},
			{"SchemaBadRegex", with("output_schema", map[string]any{"pattern": "("}), "output_schema"},
			{"SchemaOtherDraft", with("output_schema", map[string]any{"$schema": "http://json-schema.org/draft-07/schema#"}), "output_schema"},
			{"SchemaReadsLocalFile", with("output_schema", map[string]any{"$ref": "file:///etc/passwd"}), "output_schema"},
			{"SchemaFetchesURL", with("output_schema", map[string]any{"$ref": "http://127.0.0.1:1/schema.json"}), "output_schema"},
			{"MCPFileURL", mcp("url", "file:///etc/passwd"), "mcp_servers[0].url"},
			{"MCPNoScheme", mcp("url", "mcp.example.com"), "mcp_servers[0].url"},
			{"MCPJavascriptURL", mcp("url", "javascript:alert(1)"), "mcp_servers[0].url"},
			{"MCPCredentialsInURL", mcp("url", "https://user:pass@mcp.example.com"), "mcp_servers[0].url"},
			{"MCPBadTransport", mcp("transport", "carrier-pigeon"), "mcp_servers[0].transport"},
			{"MCPHeaderInjection", mcp("headers", map[string]string{"X-A": "v\r\nX-Evil: 1"}), "mcp_servers[0].headers.X-A"},
			{"MCPBadHeaderName", mcp("headers", map[string]string{"Bad Header": "v"}), "mcp_servers[0].headers"},
			{"MCPDuplicateNames", with("mcp_servers", []any{map[string]any{"name": "s", "url": "https://a.example"}, map[string]any{"name": "s", "url": "https://b.example"}}), "mcp_servers[1].name"},
			{"MCPNullHeaderOnCreate", mcp("headers", map[string]any{"X-A": nil}), "mcp_servers[0].headers.X-A"},
			{"LangfuseMissingSecret", with("langfuse", map[string]any{"public_key": "pk"}), "langfuse.secret_key"},
			{"LangfuseBadHost", with("langfuse", map[string]any{"public_key": "pk", "secret_key": "sk", "host": "ftp://x"}), "langfuse.host"},
			{"RetrievalTopK", with("retrieval", map[string]any{"top_k": 0}), "retrieval.top_k"},
			{"RetrievalMode", with("retrieval", map[string]any{"mode": "telepathy"}), "retrieval.mode"},
			{"RetrievalThreshold", with("retrieval", map[string]any{"score_threshold": -1}), "retrieval.score_threshold"},
			{"UnknownField", with("colour", "blue"), "colour"},
			{"SystemPromptTooLong", with("system_prompt", strings.Repeat("x", 100<<10+1)), "system_prompt"},
			// Postgres cannot store NUL: refused as a field error, not a 500.
			{"SystemPromptNUL", with("system_prompt", "a\u0000b"), "system_prompt"},
			{"SchemaNUL", with("output_schema", map[string]any{"properties": map[string]any{"a\u0000": map[string]any{}}}), "output_schema.properties"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := b.Must(400, "POST", "/v1/agents", key, tc.body)
				if r.Code(t) != "validation_failed" {
					t.Fatalf("code = %q: %s", r.Code(t), r.Body)
				}
				if _, ok := r.JSON(t)["errors"].(map[string]any)[tc.field]; !ok {
					t.Fatalf("errors do not name %q: %s", tc.field, r.Body)
				}
				if strings.Contains(string(r.Body), "root:") {
					t.Fatal("the response shows a local file's content")
				}
				// A dry run finds exactly what the real call does.
				dry := b.Must(400, "POST", "/v1/agents?dry_run=true", key, tc.body)
				if dry.Code(t) != "validation_failed" || !reflect.DeepEqual(dry.JSON(t)["errors"], r.JSON(t)["errors"]) {
					t.Fatalf("dry run errors = %s, want those of the real call: %s", dry.Body, r.Body)
				}
			})
		}
		for name, body := range map[string]string{
			"Malformed": `{"name": `, "Trailing": `{"name": "a", "model": "m"}x`, "Empty": ``, "DeepNesting": strings.Repeat("[", 20000),
		} {
			if code := b.Must(400, "POST", "/v1/agents", key, body).Code(t); code != "invalid_json" {
				t.Fatalf("%s: code %q", name, code)
			}
		}
		big := with("system_prompt", strings.Repeat("x", 2<<20))
		if code := b.Must(413, "POST", "/v1/agents", key, big).Code(t); code != "payload_too_large" {
			t.Fatalf("oversized: code %q", code)
		}
		if n := len(b.Must(200, "GET", "/v1/agents", key, nil).JSON(t)["data"].([]any)); n != 0 {
			t.Fatalf("bad input created %d agents", n)
		}
	})

	t.Run("AdminUsesRagdTenantHeader", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id, key := b.TenantWithKey("acme")
		b.Must(201, "POST", "/v1/agents", adminToken, map[string]any{"id": "admin-made", "name": "A", "model": "m"}, "Ragd-Tenant", id)
		b.Must(200, "GET", "/v1/agents/admin-made", key, nil)
		r := b.Must(400, "GET", "/v1/agents", adminToken, nil)
		if _, ok := r.JSON(t)["errors"].(map[string]any)["Ragd-Tenant"]; !ok {
			t.Fatalf("missing header: %s", r.Body)
		}
		b.Must(404, "GET", "/v1/agents", adminToken, nil, "Ragd-Tenant", "0193c6a0-0000-7000-8000-000000000000")
		b.Must(404, "GET", "/v1/agents", adminToken, nil, "Ragd-Tenant", "not-a-uuid")
	})

	t.Run("SecretsNeverLeaveInTheClear", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, key := b.TenantWithKey("acme")
		var bodies []string
		bodies = append(bodies, string(b.Must(201, "POST", "/v1/agents", key, apitest.FullAgent("secretive")).Body))
		bodies = append(bodies, string(b.Must(200, "GET", "/v1/agents/secretive", key, nil).Body))
		bodies = append(bodies, string(b.Must(200, "GET", "/v1/agents", key, nil).Body))
		// Sending back what was read (null for the MCP header) keeps the secrets.
		patched := b.Must(200, "PATCH", "/v1/agents/secretive", key, map[string]any{
			"mcp_servers": []any{map[string]any{"name": "tickets", "url": "https://mcp2.example.com", "headers": map[string]any{"Authorization": nil, "X-Extra": "extra-plaintext-secret-CCCC3333"}}},
			"langfuse":    map[string]any{"label": "staging"},
		})
		bodies = append(bodies, string(patched.Body))
		for _, body := range bodies {
			for _, s := range append(apitest.FullAgentSecrets, "extra-plaintext-secret") {
				if strings.Contains(body, s) {
					t.Fatalf("response contains secret %q: %s", s, body)
				}
			}
		}
		if !strings.Contains(bodies[1], "****1111") || !strings.Contains(bodies[3], "****3333") {
			t.Fatalf("redacted forms missing: %s", bodies[3])
		}

		// The store still has the real values after the PATCH.
		a, err := b.store.GetAgent(t.Context(), mustUUID(t, patched.JSON(t)["tenant_id"].(string)), "secretive")
		if err != nil {
			t.Fatal(err)
		}
		if got := a.MCPServers[0].Headers["Authorization"].Reveal(); got != "Bearer mcp-plaintext-secret-AAAA1111" {
			t.Fatalf("kept MCP header = %q", got)
		}
		if got := a.Langfuse.SecretKey.Reveal(); got != "sk-lf-plaintext-secret-BBBB2222" || a.Langfuse.Label != "staging" {
			t.Fatalf("langfuse after merge = %+v", a.Langfuse)
		}

		// Not in the row, in any encoding of the key, nor in the logs.
		var row string
		if err := b.pool.QueryRow(t.Context(), "SELECT row_to_json(a)::text FROM agents a WHERE id = 'secretive'").Scan(&row); err != nil {
			t.Fatal(err)
		}
		forbidden := append(apitest.FullAgentSecrets, "extra-plaintext-secret",
			base64.StdEncoding.EncodeToString(b.encKey), hex.EncodeToString(b.encKey))
		for _, s := range forbidden {
			if strings.Contains(row, s) {
				t.Fatalf("agent row contains %q", s)
			}
			if strings.Contains(b.logs.String(), s) {
				t.Fatalf("logs contain %q", s)
			}
		}
	})

	t.Run("SecretsSealedWithAnotherKey", func(t *testing.T) {
		// RAGD_ENCRYPTION_KEY changed without the old key as previous: the
		// agents read (with a flag), the sealed bytes are never replaced
		// by empty values, and the secrets can be given again.
		t.Parallel()
		b := setup(t)
		tenant, key := b.TenantWithKey("acme")
		b.Must(201, "POST", "/v1/agents", key, map[string]any{"id": "plain", "name": "P", "model": "m"})
		b.Must(201, "POST", "/v1/agents", key, apitest.FullAgent("locked"))
		sealedNow := func() []byte {
			t.Helper()
			var sealed []byte
			if err := b.pool.QueryRow(t.Context(), "SELECT secrets FROM agents WHERE id = 'locked'").Scan(&sealed); err != nil {
				t.Fatal(err)
			}
			return sealed
		}
		stored := b.srv.LoseAgentKey(t, tenant, "locked")

		list := b.Must(200, "GET", "/v1/agents", key, nil).JSON(t)["data"].([]any)
		if len(list) != 2 || list[0].(map[string]any)["secrets_unreadable"] != nil || list[1].(map[string]any)["secrets_unreadable"] != true {
			t.Fatalf("list = %v", list)
		}
		got := b.Must(200, "GET", "/v1/agents/locked", key, nil).JSON(t)
		if got["secrets_unreadable"] != true || got["system_prompt"] != "Be helpful." {
			t.Fatalf("get = %v", got)
		}

		// An update that touches no secret keeps the sealed bytes.
		b.Must(200, "PATCH", "/v1/agents/locked", key, map[string]any{"name": "Renamed"})
		if !bytes.Equal(sealedNow(), stored) {
			t.Fatal("an update that gave no secret replaced the sealed ones")
		}
		// Some given, some kept: refused, by the dry run as well.
		partial := map[string]any{"langfuse": map[string]any{"secret_key": "sk-lf-new-secret-value-1"}}
		for _, path := range []string{"/v1/agents/locked?dry_run=true", "/v1/agents/locked"} {
			r := b.Must(409, "PATCH", path, key, partial)
			if r.Code(t) != "conflict" || !strings.Contains(string(r.Body), "RAGD_ENCRYPTION_KEY_PREVIOUS") {
				t.Fatalf("PATCH %s = %s", path, r.Body)
			}
		}
		if !bytes.Equal(sealedNow(), stored) {
			t.Fatal("a refused update changed the sealed secrets")
		}
		// Every one given again: readable from then on.
		all := map[string]any{
			"mcp_servers": []any{map[string]any{"name": "tickets", "url": "https://mcp.example.com/mcp", "headers": map[string]any{"Authorization": "Bearer new-mcp-secret-9999"}}},
			"langfuse":    map[string]any{"secret_key": "sk-lf-new-secret-value-1"},
		}
		if r := b.Must(200, "PATCH", "/v1/agents/locked", key, all).JSON(t); r["secrets_unreadable"] != nil {
			t.Fatalf("after giving every secret: %v", r)
		}
		a, err := b.store.GetAgent(t.Context(), mustUUID(t, tenant), "locked")
		if err != nil || a.SecretsUnreadable || a.MCPServers[0].Headers["Authorization"].Reveal() != "Bearer new-mcp-secret-9999" ||
			a.Langfuse.SecretKey.Reveal() != "sk-lf-new-secret-value-1" || a.Name != "Renamed" {
			t.Fatalf("after giving every secret: %+v, %v", a, err)
		}
	})

	t.Run("DryRunWritesNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, key := b.TenantWithKey("acme")
		_, keyB := b.TenantWithKey("b")
		agentCount := func() int {
			t.Helper()
			return len(b.Must(200, "GET", "/v1/agents", key, nil).JSON(t)["data"].([]any))
		}

		r := b.Must(200, "POST", "/v1/agents?dry_run=true", key, apitest.FullAgent("support-bot"))
		a := r.JSON(t)
		if a["id"] != "support-bot" || a["version"] != 1.0 || a["name"] != "Support Bot" || a["retrieval"].(map[string]any)["enabled"] != true ||
			a["langfuse"].(map[string]any)["secret_key"] != "****2222" || r.Header.Get("ETag") != "" || r.Header.Get("Location") != "" {
			t.Fatalf("dry run = %s, headers %v", r.Body, r.Header)
		}
		if gen := b.Must(200, "POST", "/v1/agents?dry_run=true", key, map[string]any{"name": "Sales", "model": "m"}).JSON(t); !strings.HasPrefix(gen["id"].(string), "sales-") {
			t.Fatalf("dry run without id = %v", gen)
		}
		if n := agentCount(); n != 0 {
			t.Fatalf("dry runs created %d agents", n)
		}
		b.Must(404, "GET", "/v1/agents/support-bot", key, nil)

		made := b.Must(201, "POST", "/v1/agents?dry_run=false", key, apitest.FullAgent("support-bot")).JSON(t)
		delete(made, "created_at")
		delete(made, "updated_at")
		delete(a, "created_at")
		delete(a, "updated_at")
		if !reflect.DeepEqual(a, made) {
			t.Fatalf("dry run = %v, the real call made %v", a, made)
		}
		if code := b.Must(409, "POST", "/v1/agents?dry_run=true", key, apitest.FullAgent("support-bot")).Code(t); code != "conflict" {
			t.Fatalf("dry run of a taken id: code %q", code)
		}
		b.Must(200, "POST", "/v1/agents?dry_run=true", keyB, apitest.FullAgent("support-bot")) // another tenant's id is free

		patch := map[string]any{"name": "Renamed", "mcp_servers": []any{map[string]any{"name": "tickets", "url": "https://mcp2.example.com", "headers": map[string]any{"Authorization": nil}}}}
		p := b.Must(200, "PATCH", "/v1/agents/support-bot?dry_run=true", key, patch, "If-Match", `"v1"`)
		pa := p.JSON(t)
		if pa["name"] != "Renamed" || pa["version"] != 2.0 || pa["model"] != "gpt-4o-mini" || p.Header.Get("ETag") != "" ||
			pa["mcp_servers"].([]any)[0].(map[string]any)["headers"].(map[string]any)["Authorization"] != "****1111" {
			t.Fatalf("PATCH dry run = %s", p.Body)
		}
		for _, s := range apitest.FullAgentSecrets {
			if strings.Contains(string(r.Body)+string(p.Body), s) {
				t.Fatalf("a dry run shows secret %q", s)
			}
		}
		if g := b.Must(200, "GET", "/v1/agents/support-bot", key, nil); g.Header.Get("ETag") != `"v1"` || g.JSON(t)["name"] != "Support Bot" {
			t.Fatalf("after a PATCH dry run: %s %v", g.Body, g.Header)
		}
		if code := b.Must(412, "PATCH", "/v1/agents/support-bot?dry_run=true", key, patch, "If-Match", `"v7"`).Code(t); code != "precondition_failed" {
			t.Fatalf("stale If-Match in a dry run: code %q", code)
		}
		bad := map[string]any{"output_schema": map[string]any{"type": "nonsense"}}
		realBad := b.Must(400, "PATCH", "/v1/agents/support-bot", key, bad)
		dryBad := b.Must(400, "PATCH", "/v1/agents/support-bot?dry_run=true", key, bad)
		if _, ok := dryBad.JSON(t)["errors"].(map[string]any)["output_schema"]; !ok || !reflect.DeepEqual(dryBad.JSON(t)["errors"], realBad.JSON(t)["errors"]) {
			t.Fatalf("PATCH dry run errors = %s, want those of the real call: %s", dryBad.Body, realBad.Body)
		}
		b.Must(400, "PATCH", "/v1/agents/support-bot?dry_run=true", key, map[string]any{"id": "renamed"})
		b.Must(404, "PATCH", "/v1/agents/missing?dry_run=true", key, map[string]any{"name": "X"})
		b.Must(404, "PATCH", "/v1/agents/support-bot?dry_run=true", keyB, map[string]any{"name": "X"}, "If-Match", `"v1"`)

		for _, v := range []string{"", "yes", "1", "TRUE", "True", "false,true"} {
			for _, req := range []struct{ method, path string }{{"POST", "/v1/agents"}, {"PATCH", "/v1/agents/support-bot"}} {
				r := b.Must(400, req.method, req.path+"?dry_run="+v, key, map[string]any{"id": "support-bot", "name": "Changed", "model": "m"})
				if _, ok := r.JSON(t)["errors"].(map[string]any)["dry_run"]; !ok || r.Code(t) != "validation_failed" {
					t.Fatalf("%s dry_run=%q: %s", req.method, v, r.Body)
				}
			}
		}
		if g := b.Must(200, "GET", "/v1/agents/support-bot", key, nil); g.Header.Get("ETag") != `"v1"` || agentCount() != 1 {
			t.Fatalf("the dry runs changed something: %s %v", g.Body, g.Header)
		}
	})

	t.Run("NullHeaderNeedsAStoredValue", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, key := b.TenantWithKey("acme")
		b.Must(201, "POST", "/v1/agents", key, apitest.FullAgent("bot"))
		r := b.Must(400, "PATCH", "/v1/agents/bot", key, map[string]any{
			"mcp_servers": []any{map[string]any{"name": "renamed", "url": "https://mcp.example.com", "headers": map[string]any{"Authorization": nil}}},
		})
		if _, ok := r.JSON(t)["errors"].(map[string]any)["mcp_servers[0].headers.Authorization"]; !ok {
			t.Fatalf("body = %s", r.Body)
		}
	})
}

// TestTenantIsolation calls every tenant-scoped route with tenant B's
// credentials on tenant A's objects: each answers 404, exactly as it does
// once the object is gone, and changes nothing. B may then use the same
// agent id for an agent of its own, and each tenant reaches only its own.
// B's credentials are an API key, then an identity provider's token (an
// admin of the organisation mapped to B).
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	t.Run("APIKey", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, keyB := b.TenantWithKey("tenant-b", allScopes...)
		tenantIsolation(t, b, keyB)
	})
	t.Run("IdentityProviderToken", func(t *testing.T) {
		t.Parallel()
		b, iss := setupOIDC(t, apitest.Options{})
		b.TenantWithOrg("tenant-b", "org_b")
		tenantIsolation(t, b, apitest.Member(iss, "user_b", "org_b", "org:admin"))
	})
}

func tenantIsolation(t *testing.T, b *testBundle, keyB string) {
	idA, keyA := b.TenantWithKey("tenant-a", allScopes...)
	b.Must(201, "POST", "/v1/agents", keyA, apitest.FullAgent("agent-of-a"))
	otherKeyA := b.Must(201, "POST", "/v1/api-keys", keyA, map[string]any{"name": "a2"}).JSON(t)
	keyIDA := otherKeyA["id"].(string)
	before := b.Must(200, "GET", "/v1/agents/agent-of-a", keyA, nil)

	cases := []struct {
		method, path string
		body         any
		headers      []string
	}{
		{"GET", "/v1/agents/agent-of-a", nil, nil},
		{"GET", "/v1/agents/agent-of-a", nil, []string{"If-None-Match", `"v1"`}},
		{"PATCH", "/v1/agents/agent-of-a", map[string]any{"name": "hijacked"}, nil},
		{"PATCH", "/v1/agents/agent-of-a", map[string]any{"name": "hijacked"}, []string{"If-Match", `"v1"`}},
		{"PATCH", "/v1/agents/agent-of-a", map[string]any{"name": "hijacked"}, []string{"If-Match", `"v9"`}},
		{"DELETE", "/v1/agents/agent-of-a", nil, nil},
		{"POST", "/v1/agents/agent-of-a/search", map[string]any{"query": "secret plans"}, nil},
		{"DELETE", "/v1/api-keys/" + keyIDA, nil, nil},
		// B's key naming A in the header does not reach A either.
		{"GET", "/v1/agents/agent-of-a", nil, []string{"Ragd-Tenant", idA}},
		{"GET", "/v1/agents", nil, []string{"Ragd-Tenant", idA}},
		{"GET", "/v1/api-keys", nil, []string{"Ragd-Tenant", idA}},
		{"POST", "/v1/agents", map[string]any{"name": "planted", "model": "m"}, []string{"Ragd-Tenant", idA}},
	}
	whileAHasIt := make([]string, len(cases))
	for i, tc := range cases {
		r := b.Req(tc.method, tc.path, keyB, tc.body, tc.headers...)
		if r.Status != 404 || r.Code(t) != "not_found" {
			t.Errorf("%s %s %v with B's key: %d %s, want 404 not_found", tc.method, tc.path, tc.headers, r.Status, r.Body)
		}
		whileAHasIt[i] = sansRequestID(t, r)
	}
	// B's lists hold nothing of A's.
	for _, path := range []string{"/v1/agents", "/v1/api-keys"} {
		body := string(b.Must(200, "GET", path, keyB, nil).Body)
		if strings.Contains(body, "agent-of-a") || strings.Contains(body, idA) {
			t.Errorf("B's %s shows A's objects: %s", path, body)
		}
	}
	// Nothing of A's changed.
	unchanged := func(when string) {
		t.Helper()
		after := b.Must(200, "GET", "/v1/agents/agent-of-a", keyA, nil)
		if string(after.Body) != string(before.Body) {
			t.Errorf("A's agent changed %s:\nbefore %s\nafter  %s", when, before.Body, after.Body)
		}
	}
	unchanged("after B's requests")
	b.Must(200, "GET", "/v1/agents", otherKeyA["key"].(string), nil)
	if n := len(b.Must(200, "GET", "/v1/agents", keyA, nil).JSON(t)["data"].([]any)); n != 1 {
		t.Errorf("A has %d agents, want 1", n)
	}

	// B takes the same id; every route resolves it within the caller's
	// tenant. B's agent has retrieval off, A's on, so a search shows whose
	// settings it used.
	own := b.Must(201, "POST", "/v1/agents", keyB, map[string]any{"id": "agent-of-a", "name": "B's own", "model": "m",
		"langfuse": map[string]any{"public_key": "pk-b", "secret_key": "sk-lf-of-tenant-b-DDDD4444"}, "retrieval": map[string]any{"enabled": false}}).JSON(t)
	if own["tenant_id"] == idA {
		t.Fatalf("B's agent was made in A's tenant: %v", own)
	}
	if g := b.Must(200, "GET", "/v1/agents/agent-of-a", keyB, nil).JSON(t); g["name"] != "B's own" || g["langfuse"].(map[string]any)["secret_key"] != "****4444" {
		t.Errorf("B reads %v, want its own agent", g)
	}
	if code := b.Must(409, "POST", "/v1/agents/agent-of-a/search", keyB, map[string]any{"query": "x"}).Code(t); code != "retrieval_disabled" {
		t.Errorf("B's search with its own agent: code %q, want retrieval_disabled", code)
	}
	b.Must(200, "POST", "/v1/agents/agent-of-a/search", keyA, map[string]any{"query": "x"})
	b.Must(200, "PATCH", "/v1/agents/agent-of-a", keyB, map[string]any{"name": "B's renamed"}, "If-Match", `"v1"`)
	unchanged("after B changed its agent of the same id")
	b.Must(204, "DELETE", "/v1/agents/agent-of-a", keyB, nil)
	unchanged("after B deleted its agent of the same id")
	if list := b.Must(200, "GET", "/v1/agents", keyA, nil).JSON(t)["data"].([]any); len(list) != 1 {
		t.Errorf("A has %d agents after B deleted its own, want 1", len(list))
	}

	// Once A's agent is gone, B's requests get the very answers they got
	// while A had it: nothing tells "another tenant's" from "missing".
	b.Must(204, "DELETE", "/v1/agents/agent-of-a", keyA, nil)
	for i, tc := range cases {
		if got := sansRequestID(t, b.Req(tc.method, tc.path, keyB, tc.body, tc.headers...)); got != whileAHasIt[i] {
			t.Errorf("%s %s %v with B's key answers differently once A's object is gone:\nwhile A had it %s\nonce gone      %s",
				tc.method, tc.path, tc.headers, whileAHasIt[i], got)
		}
	}
}

// sansRequestID is a response as one string (status, headers, body)
// without what differs between any two requests: the request id, the date
// and the length, which follows the request id's.
func sansRequestID(t *testing.T, r response) string {
	t.Helper()
	var body map[string]any
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("not a JSON object: %s", r.Body)
	}
	delete(body, "request_id")
	h := r.Header.Clone()
	for _, k := range []string{"X-Request-Id", "Date", "Content-Length"} {
		h.Del(k)
	}
	out, err := json.Marshal(map[string]any{"status": r.Status, "headers": h, "body": body})
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func mustUUID(t *testing.T, s string) uuid.UUID {
	t.Helper()
	id, err := uuid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
