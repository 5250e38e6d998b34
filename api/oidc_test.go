package api_test

import (
	"testing"
	"time"

	"github.com/ragd/ragd/api/apitest"
	"github.com/ragd/ragd/oidcauth/oidctest"
)

// setupOIDC starts a server that accepts the bearer tokens of an
// in-process issuer (besides API keys), with o's other options; with
// withConsole, the console signs in with it too.
func setupOIDC(t testing.TB, o apitest.Options, withConsole ...bool) (*testBundle, *oidctest.Issuer) {
	t.Helper()
	iss := apitest.WithIssuer(t, &o, len(withConsole) > 0 && withConsole[0])
	b := setupWith(t, o)
	apitest.RegisterConsole(iss, b.url)
	return b, iss
}

// TestIdentityProviderTokens: the API takes the issuer's JWTs as bearer
// tokens, with the organisation as the tenant and the role as the scopes,
// and refuses every token it must not trust.
func TestIdentityProviderTokens(t *testing.T) {
	t.Parallel()
	b, iss := setupOIDC(t, apitest.Options{})
	tenant := b.TenantWithOrg("idp-acme", "org_acme")
	_, key := b.TenantWithKey("idp-keys")
	now := time.Now()
	claims := func(extra ...any) map[string]any {
		c := map[string]any{"sub": "user_1", "org_id": "org_acme", "org_role": "org:admin", "aud": apitest.Audience}
		for i := 0; i+1 < len(extra); i += 2 {
			c[extra[i].(string)] = extra[i+1]
		}
		return c
	}

	cases := []struct {
		name   string
		token  string
		status int
		code   string
	}{
		{"Admin", iss.Sign(claims()), 200, ""},
		{"ExpiredWithinSkew", iss.Sign(claims("exp", now.Add(-10*time.Second).Unix())), 200, ""},
		{"Expired", iss.Sign(claims("exp", now.Add(-time.Hour).Unix())), 401, "unauthorized"},
		{"NotYetValid", iss.Sign(claims("nbf", now.Add(time.Hour).Unix())), 401, "unauthorized"},
		{"WrongIssuer", iss.Sign(claims("iss", "https://evil.example")), 401, "unauthorized"},
		{"WrongAudience", iss.Sign(claims("aud", "another-api")), 401, "unauthorized"},
		{"NoAudience", iss.Sign(claims("aud", nil)), 401, "unauthorized"},
		{"UnknownKeyID", iss.SignWith("no-such-kid", claims()), 401, "unauthorized"},
		{"AlgNone", iss.SignNone(claims()), 401, "unauthorized"},
		{"HS256WithThePublicKey", iss.SignHS256WithPublicKey(claims()), 401, "unauthorized"},
		{"Garbage", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.AAAA", 401, "unauthorized"},
		{"OrganisationWithoutTenant", iss.Sign(claims("org_id", "org_nobody")), 403, "unknown_organization"},
		{"NoOrganisation", iss.Sign(claims("org_id", nil)), 403, "unknown_organization"},
		{"UnknownRole", iss.Sign(claims("org_role", "org:guest")), 403, "forbidden_scope"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := b.Req("GET", "/v1/documents", tc.token, nil)
			if r.Status != tc.status || (tc.code != "" && r.Code(t) != tc.code) {
				t.Fatalf("status %d %s, want %d %s", r.Status, r.Body, tc.status, tc.code)
			}
		})
	}

	t.Run("MemberReadsAndSearchesButCannotWrite", func(t *testing.T) {
		tok := apitest.Member(iss, "user_2", "org_acme", "org:member")
		b.Must(200, "GET", "/v1/documents", tok, nil)
		b.Must(200, "GET", "/v1/agents", tok, nil)
		b.Must(200, "POST", "/v1/search", tok, map[string]any{"query": "anything"})
		for _, w := range []struct{ method, path string }{{"POST", "/v1/agents"}, {"POST", "/v1/api-keys"}, {"GET", "/v1/api-keys"}} {
			if r := b.Req(w.method, w.path, tok, map[string]any{"name": "x", "model": "m"}); r.Status != 403 || r.Code(t) != "forbidden_scope" {
				t.Errorf("a member's %s %s: %d %s", w.method, w.path, r.Status, r.Body)
			}
		}
		if r := b.Upload(tok, "", "a.txt", []byte("a member's upload")); r.Status != 403 {
			t.Errorf("a member's upload: %d", r.Status)
		}
	})

	t.Run("AdminActsInItsTenant", func(t *testing.T) {
		tok := apitest.Member(iss, "user_3", "org_acme", "org:admin")
		a := b.Must(201, "POST", "/v1/agents", tok, map[string]any{"name": "Made with a token", "model": "m"}).JSON(t)
		if a["tenant_id"] != tenant {
			t.Fatalf("the agent went to tenant %v, want %s", a["tenant_id"], tenant)
		}
		// Naming another tenant in Ragd-Tenant reaches nothing.
		other := b.Must(200, "GET", "/v1/usage", key, nil).JSON(t)["tenant_id"].(string)
		if r := b.Req("GET", "/v1/agents", tok, nil, "Ragd-Tenant", other); r.Status != 404 {
			t.Fatalf("a token naming another tenant: %d", r.Status)
		}
	})

	t.Run("KeyRotation", func(t *testing.T) {
		old := iss.Sign(claims())
		b.Must(200, "GET", "/v1/documents", old, nil)
		iss.Rotate(false)
		// A token of the new key names a kid the verifier has not seen: it
		// fetches the key set again and accepts it; the old key is gone.
		b.Must(200, "GET", "/v1/documents", iss.Sign(claims()), nil)
		if r := b.Req("GET", "/v1/documents", old, nil); r.Status != 401 {
			t.Fatalf("a token of the removed key: %d", r.Status)
		}
	})

	t.Run("APIKeysStillWork", func(t *testing.T) {
		b.Must(200, "GET", "/v1/documents", key, nil)
	})
}

// TestIdentityProviderDown: while the issuer's keys cannot be fetched, a
// token that needs them is answered 503 (retry), not 401 (which would sign
// people out); API keys keep working.
func TestIdentityProviderDown(t *testing.T) {
	t.Parallel()
	b, iss := setupOIDC(t, apitest.Options{})
	b.TenantWithOrg("down-acme", "org_acme")
	_, key := b.TenantWithKey("down-keys")
	iss.Rotate(false)
	iss.SetDown(true)
	tok := apitest.Member(iss, "user_1", "org_acme", "org:admin")
	r := b.Req("GET", "/v1/documents", tok, nil)
	if r.Status != 503 || r.Code(t) != "identity_provider_unavailable" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("while the issuer is down: %d %s %v", r.Status, r.Body, r.Header)
	}
	b.Must(200, "GET", "/v1/documents", key, nil)
	iss.SetDown(false)
	b.Must(200, "GET", "/v1/documents", tok, nil)
}
