package api_test

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestAPIKeys(t *testing.T) {
	t.Parallel()

	t.Run("MintedOnceHashedWithDefaultScopes", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id, _ := b.TenantWithKey("acme")
		r := b.Must(201, "POST", "/v1/tenants/"+id+"/api-keys", adminToken, map[string]any{"name": "ci"})
		k := r.JSON(t)
		key := k["key"].(string)
		if !strings.HasPrefix(key, "ragd_sk_") || len(key) < 40 || k["id"] == nil {
			t.Fatalf("minted key = %s", r.Body)
		}
		if !strings.HasPrefix(key, k["display"].(string)) || len(k["display"].(string)) >= len(key)/2 {
			t.Fatalf("display %q is not a short prefix of the key", k["display"])
		}
		var scopes []string
		for _, s := range k["scopes"].([]any) {
			scopes = append(scopes, s.(string))
		}
		if slices.Contains(scopes, "keys:write") || len(scopes) != 5 {
			t.Fatalf("default scopes = %v, want all but keys:write", scopes)
		}
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Fatal("the response carrying a key may be cached")
		}
		// Only the hash is stored.
		var n int
		if err := b.pool.QueryRow(t.Context(), `SELECT count(*) FROM api_keys k WHERE row_to_json(k)::text LIKE '%' || $1 || '%'`, key[len("ragd_sk_"):]).Scan(&n); err != nil || n != 0 {
			t.Fatalf("the key is stored in the clear (%d rows, %v)", n, err)
		}
		// The key works, and never comes back.
		b.Must(200, "GET", "/v1/agents", key, nil)
		list := b.Must(200, "GET", "/v1/api-keys", "", nil, "Authorization", "Bearer "+adminToken, "Ragd-Tenant", id)
		if strings.Contains(string(list.Body), key[len("ragd_sk_")+4:]) {
			t.Fatal("a key listing contains the key")
		}
	})

	t.Run("LastUsedAtIsRecorded", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id, key := b.TenantWithKey("acme")
		b.Must(200, "GET", "/v1/agents", key, nil)
		b.Must(200, "GET", "/v1/agents", key, nil)
		var used *time.Time
		if err := b.pool.QueryRow(t.Context(), "SELECT last_used_at FROM api_keys WHERE tenant_id = $1", id).Scan(&used); err != nil || used == nil {
			t.Fatalf("last_used_at = %v, %v", used, err)
		}
		if time.Since(*used) > time.Minute {
			t.Fatalf("last_used_at = %v, too old", used)
		}
	})

	t.Run("RevokedKeyIsRefusedAtOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, manager := b.TenantWithKey("acme", allScopes...)
		k := b.Must(201, "POST", "/v1/api-keys", manager, map[string]any{"name": "short-lived", "scopes": []string{"agents:read"}}).JSON(t)
		key, keyID := k["key"].(string), k["id"].(string)
		b.Must(200, "GET", "/v1/agents", key, nil)
		b.Must(204, "DELETE", "/v1/api-keys/"+keyID, manager, nil)
		if code := b.Must(401, "GET", "/v1/agents", key, nil).Code(t); code != "unauthorized" {
			t.Fatalf("code = %q", code)
		}
		// Revoking again is harmless; the listing shows when it happened.
		b.Must(204, "DELETE", "/v1/api-keys/"+keyID, manager, nil)
		for _, item := range b.Must(200, "GET", "/v1/api-keys", manager, nil).JSON(t)["data"].([]any) {
			m := item.(map[string]any)
			if m["id"] == keyID && m["revoked_at"] == nil {
				t.Fatal("revoked key lists without revoked_at")
			}
		}
	})

	t.Run("ExpiredKeyIsRefused", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id, key := b.TenantWithKey("acme")
		b.Must(200, "GET", "/v1/agents", key, nil)
		if _, err := b.pool.Exec(t.Context(), "UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE tenant_id = $1", id); err != nil {
			t.Fatal(err)
		}
		b.Must(401, "GET", "/v1/agents", key, nil)
	})

	t.Run("ExpiryAndScopesAreValidated", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id, _ := b.TenantWithKey("acme")
		for field, body := range map[string]map[string]any{
			"expires_at": {"expires_at": time.Now().Add(-time.Hour).Format(time.RFC3339)},
			"scopes":     {"scopes": []string{"agents:read", "root"}},
			"name":       {"name": strings.Repeat("n", 201)},
		} {
			r := b.Must(400, "POST", "/v1/tenants/"+id+"/api-keys", adminToken, body)
			if _, ok := r.JSON(t)["errors"].(map[string]any)[field]; !ok || r.Code(t) != "validation_failed" {
				t.Fatalf("%s: %s", field, r.Body)
			}
		}
		r := b.Must(400, "POST", "/v1/tenants/"+id+"/api-keys", adminToken, map[string]any{"scopes": []string{}})
		if r.Code(t) != "validation_failed" {
			t.Fatalf("empty scopes: %s", r.Body)
		}
		exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
		k := b.Must(201, "POST", "/v1/tenants/"+id+"/api-keys", adminToken, map[string]any{"expires_at": exp}).JSON(t)
		if got, _ := time.Parse(time.RFC3339, k["expires_at"].(string)); !got.Equal(exp) {
			t.Fatalf("expires_at = %v, want %v", k["expires_at"], exp)
		}
	})

	t.Run("ScopesAreEnforced", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, readOnly := b.TenantWithKey("acme", "agents:read")
		for _, rt := range []struct{ method, path string }{
			{"GET", "/v1/api-keys"}, {"POST", "/v1/api-keys"}, {"DELETE", "/v1/api-keys/0193c6a0-0000-7000-8000-000000000000"},
			{"POST", "/v1/agents"}, {"PATCH", "/v1/agents/some-agent"}, {"DELETE", "/v1/agents/some-agent"},
		} {
			if code := b.Must(403, rt.method, rt.path, readOnly, map[string]any{}).Code(t); code != "forbidden_scope" {
				t.Fatalf("%s %s: code %q", rt.method, rt.path, code)
			}
		}
		b.Must(200, "GET", "/v1/agents", readOnly, nil)
	})

	t.Run("KeyCannotGrantScopesItLacks", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, manager := b.TenantWithKey("acme", "keys:write", "agents:read")
		b.Must(403, "POST", "/v1/api-keys", manager, map[string]any{"scopes": []string{"agents:write"}})
		b.Must(403, "POST", "/v1/api-keys", manager, map[string]any{}) // the defaults include scopes it lacks
		b.Must(201, "POST", "/v1/api-keys", manager, map[string]any{"scopes": []string{"agents:read"}})
	})
}
