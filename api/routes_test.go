package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/console"
	"github.com/ragd/ragd/postgres/pgtest"
	"github.com/ragd/ragd/secret"
)

// public routes answer without credentials; every other route must not.
var public = map[string]bool{"GET /healthz": true, "GET /readyz": true, "GET /openapi.json": true, "GET /metrics": true,
	"GET /{$}": true} // a redirect to the console, which asks for a sign-in

// TestEveryRouteRefusesBadCredentials walks the route table, so a route
// added later is covered without touching this test: no credentials, a
// wrong token, an unknown key, a revoked key and an expired key all get 401
// (the console, which signs people in with a session of its own, sends
// them to its sign-in page instead).
func TestEveryRouteRefusesBadCredentials(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	box, _ := secret.NewBox(secret.NewKey())
	store := agents.NewControlPlane(pool, box, nil)
	tenant, err := store.CreateTenant(ctx, agents.TenantPatch{Name: ragd.Some("T")})
	if err != nil {
		t.Fatal(err)
	}
	allScopes := agents.KeyInput{Scopes: agents.AllScopes}
	revokedRec, revoked, err := store.CreateKey(ctx, tenant.ID, allScopes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.RevokeKey(ctx, tenant.ID, revokedRec.ID); err != nil {
		t.Fatal(err)
	}
	expiredRec, expired, err := store.CreateKey(ctx, tenant.ID, allScopes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "UPDATE api_keys SET expires_at = now() - interval '1 minute' WHERE id = $1", expiredRec.ID); err != nil {
		t.Fatal(err)
	}

	d := Deps{Logger: slog.New(slog.DiscardHandler), ControlPlane: store, AdminToken: "admin-token-for-this-test",
		Ready: func(context.Context) map[string]error { return nil }, Console: &console.Config{ControlPlane: store}}
	h := NewHandler(d)
	params := strings.NewReplacer("{tenant_id}", tenant.ID.String(), "{agent_id}", "some-agent", "{key_id}", revokedRec.ID.String())
	checked := 0
	for _, rt := range routes(d, newAuthenticator(d.AdminToken, store, nil)) {
		if public[rt.pattern] {
			continue
		}
		method, path, ok := strings.Cut(rt.pattern, " ")
		if !ok { // a page for every method: GET it
			method, path = "GET", rt.pattern
		}
		path = params.Replace(path)
		for name, auth := range map[string]string{
			"none": "", "wrong": "Bearer not-the-token", "unknown": "Bearer ragd_sk_unknownunknownunknown",
			"revoked": "Bearer " + revoked, "expired": "Bearer " + expired, "basic-revoked": "Basic " + basic("x", revoked),
		} {
			r := httptest.NewRequest(method, path, strings.NewReader(`{}`))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set(TenantHeader, tenant.ID.String())
			if auth != "" {
				r.Header.Set("Authorization", auth)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if strings.HasPrefix(path, "/console/") {
				if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/console/login") {
					t.Errorf("%s with %s credentials: %d to %q, want the sign-in page", rt.pattern, name, rec.Code, rec.Header().Get("Location"))
				}
				continue
			}
			if rec.Code != http.StatusUnauthorized || (!rt.ui && !strings.Contains(rec.Body.String(), `"code":"unauthorized"`)) {
				t.Errorf("%s with %s credentials: %d %s", rt.pattern, name, rec.Code, rec.Body)
			}
		}
		checked++
	}
	if checked < 14 {
		t.Fatalf("only %d routes checked", checked)
	}
}

func basic(user, pass string) string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, pass)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

// TestEveryRouteRefusesTextPostgresCannotStore walks the route table: a
// query parameter or a path value with a NUL or bytes that are not UTF-8
// is a 400 naming it on every route, public or not, for the admin (who
// may call them all), never a 500 from Postgres (SQLSTATE 22021).
func TestEveryRouteRefusesTextPostgresCannotStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	box, _ := secret.NewBox(secret.NewKey())
	store := agents.NewControlPlane(pool, box, nil)
	tenant, err := store.CreateTenant(ctx, agents.TenantPatch{Name: ragd.Some("T")})
	if err != nil {
		t.Fatal(err)
	}
	d := Deps{Logger: slog.New(slog.DiscardHandler), ControlPlane: store, AdminToken: "admin-token-for-this-test",
		Ready: func(context.Context) map[string]error { return nil }, Console: &console.Config{ControlPlane: store}}
	h := NewHandler(d)
	send := func(method, target string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, target, strings.NewReader(`{}`))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+d.AdminToken)
		r.Header.Set(TenantHeader, tenant.ID.String())
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	wildcard := regexp.MustCompile(`\{([a-z_]+)\}`)
	checked := 0
	for _, rt := range routes(d, newAuthenticator(d.AdminToken, store, nil)) {
		method, path, ok := strings.Cut(rt.pattern, " ")
		if !ok {
			method, path = "GET", rt.pattern
		}
		path = strings.TrimSuffix(path, "{$}")
		good := wildcard.ReplaceAllString(path, tenant.ID.String())
		for _, bad := range []string{"%00", "%FF", "%C3%28"} {
			rec := send(method, good+"?x="+bad)
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"errors":{"x":`) {
				t.Errorf("%s with ?x=%s: %d %s", rt.pattern, bad, rec.Code, rec.Body)
			}
			for _, m := range wildcard.FindAllStringSubmatch(path, -1) {
				target := strings.Replace(wildcard.ReplaceAllStringFunc(path, func(w string) string {
					if w == m[0] {
						return "BAD"
					}
					return tenant.ID.String()
				}), "BAD", "a"+bad, 1)
				rec := send(method, target)
				if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"errors":{"`+m[1]+`":`) {
					t.Errorf("%s with %s: %d %s", rt.pattern, target, rec.Code, rec.Body)
				}
			}
		}
		checked++
	}
	if checked < 40 {
		t.Fatalf("only %d routes checked", checked)
	}
}
