package console_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/ragd/ragd/api/apitest"
	"github.com/ragd/ragd/console"
)

// visitor is a browser without a browser: it keeps the console's session
// cookie by hand (Go's cookie jar will not send a Secure cookie over the
// tests' plain http, which browsers allow on localhost) and follows no
// redirect, so that tests see each one.
type visitor struct {
	b       *testBundle
	session string
	// cookies are the others the console set (the sign-in flow's).
	cookies map[string]string
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (v *visitor) do(method, path string, body io.Reader, headers ...string) response {
	v.b.t.Helper()
	r, err := http.NewRequest(method, v.b.url+path, body)
	if err != nil {
		v.b.t.Fatal(err)
	}
	if v.session != "" {
		r.AddCookie(&http.Cookie{Name: console.SessionCookie, Value: v.session})
	}
	for name, value := range v.cookies {
		r.AddCookie(&http.Cookie{Name: name, Value: value})
	}
	if body != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	resp, err := noRedirect.Do(r)
	if err != nil {
		v.b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	for _, c := range resp.Cookies() {
		switch {
		case c.Name == console.SessionCookie:
			v.session = c.Value
		case v.cookies == nil:
			v.cookies = map[string]string{c.Name: c.Value}
		default:
			v.cookies[c.Name] = c.Value
		}
		if c.MaxAge < 0 {
			delete(v.cookies, c.Name)
		}
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

func (v *visitor) get(path string) response { v.b.t.Helper(); return v.do("GET", path, nil) }

// post sends a console form from the console's own page.
func (v *visitor) post(path string, form url.Values, headers ...string) response {
	v.b.t.Helper()
	return v.do("POST", path, strings.NewReader(form.Encode()), append([]string{"Sec-Fetch-Site", "same-origin"}, headers...)...)
}

var csrfRE = regexp.MustCompile(`name="csrf-token" content="([^"]+)"`)

// csrf reads the CSRF token a console page carries.
func (v *visitor) csrf() string {
	v.b.t.Helper()
	m := csrfRE.FindSubmatch(v.get("/console/documents").Body)
	if m == nil {
		v.b.t.Fatal("no CSRF token on the documents page")
	}
	return string(m[1])
}

// signIn signs in to the console with an API key.
func (b *testBundle) signIn(key string) *visitor {
	b.t.Helper()
	v := &visitor{b: b}
	r := v.post("/console/login", url.Values{"api_key": {key}, "next": {"/console/documents"}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/console/documents" {
		b.t.Fatalf("sign in: %d %s: %.300s", r.Status, r.Header.Get("Location"), r.Body)
	}
	if v.session == "" {
		b.t.Fatalf("sign in set no session cookie: %v", r.Header["Set-Cookie"])
	}
	return v
}

func TestConsole(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, keyA := b.TenantWithKey("console-a", allScopes...)
	_, keyB := b.TenantWithKey("console-b")
	docA := b.Upload(keyA, "", "alpha.txt", []byte("the alpha handbook says vacation is 25 days")).JSON(t)["id"].(string)
	b.WaitDocument(keyA, docA)

	t.Run("RedirectsToSignIn", func(t *testing.T) {
		v := &visitor{b: b}
		for _, path := range []string{"/", "/console/", "/console/documents?status=ready"} {
			r := v.get(path)
			if r.Status != http.StatusSeeOther {
				t.Fatalf("GET %s signed out: %d", path, r.Status)
			}
		}
		if loc := v.get("/console/documents?status=ready").Header.Get("Location"); loc != "/console/login?next="+url.QueryEscape("/console/documents?status=ready") {
			t.Fatalf("redirect to %q", loc)
		}
		if r := v.get("/console/login"); r.Status != 200 || !strings.Contains(string(r.Body), `name="api_key"`) {
			t.Fatalf("sign-in page: %d", r.Status)
		}
	})

	t.Run("SessionCookieIsHostOnlySecureHttpOnlyLax", func(t *testing.T) {
		v := &visitor{b: b}
		r := v.post("/console/login", url.Values{"api_key": {keyA}})
		set := strings.Join(r.Header["Set-Cookie"], "\n")
		for _, want := range []string{console.SessionCookie + "=ragd_ss_", "Path=/", "HttpOnly", "Secure", "SameSite=Lax"} {
			if !strings.Contains(set, want) {
				t.Errorf("Set-Cookie %q lacks %q", set, want)
			}
		}
		if strings.Contains(set, "Domain=") {
			t.Errorf("a __Host- cookie must not name a domain: %q", set)
		}
	})

	t.Run("RefusesBadKeys", func(t *testing.T) {
		v := &visitor{b: b}
		for _, key := range []string{"", "ragd_sk_unknown", strings.Repeat("x", 100000), adminToken, "<script>alert(1)</script>"} {
			r := v.post("/console/login", url.Values{"api_key": {key}})
			if r.Status != http.StatusUnauthorized || len(r.Header["Set-Cookie"]) != 0 {
				t.Fatalf("key %.20q: %d %v", key, r.Status, r.Header["Set-Cookie"])
			}
			if strings.Contains(string(r.Body), "<script>alert") {
				t.Fatal("the sign-in page echoes the key unescaped")
			}
		}
	})

	t.Run("RefusesCrossSiteSignIn", func(t *testing.T) {
		v := &visitor{b: b}
		r := v.do("POST", "/console/login", strings.NewReader(url.Values{"api_key": {keyA}}.Encode()), "Sec-Fetch-Site", "cross-site")
		if r.Status != http.StatusForbidden || len(r.Header["Set-Cookie"]) != 0 {
			t.Fatalf("cross-site sign-in: %d", r.Status)
		}
	})

	t.Run("NoOpenRedirect", func(t *testing.T) {
		v := &visitor{b: b}
		for _, next := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example", "/console/../v1/x", "javascript:alert(1)"} {
			r := v.post("/console/login", url.Values{"api_key": {keyA}, "next": {next}})
			loc := r.Header.Get("Location")
			if r.Status != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/") || strings.HasPrefix(loc, "//") {
				t.Fatalf("next %q: %d to %q", next, r.Status, loc)
			}
		}
	})

	t.Run("PagesShowOnlyTheTenantsOwn", func(t *testing.T) {
		a, bv := b.signIn(keyA), b.signIn(keyB)
		for _, path := range []string{"/console/documents", "/console/search?q=vacation", "/console/agents", "/console/keys", "/console/usage"} {
			r := a.get(path)
			if r.Status != 200 {
				t.Fatalf("GET %s: %d %.300s", path, r.Status, r.Body)
			}
			for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options"} {
				if r.Header.Get(h) == "" {
					t.Errorf("GET %s lacks %s", path, h)
				}
			}
			if !strings.Contains(r.Header.Get("Content-Security-Policy"), "script-src 'self'") {
				t.Errorf("CSP %q", r.Header.Get("Content-Security-Policy"))
			}
			other := bv.get(path)
			if other.Status != 200 || strings.Contains(string(other.Body), docA) || strings.Contains(string(other.Body), "alpha") {
				t.Fatalf("tenant B's %s shows tenant A's document: %d", path, other.Status)
			}
		}
		if r := a.get("/console/documents"); !strings.Contains(string(r.Body), docA) {
			t.Fatal("the documents page does not list the tenant's document")
		}
		if r := a.get("/console/search?q=vacation+days"); !strings.Contains(string(r.Body), "alpha") {
			t.Fatalf("the search page does not find the document: %.500s", r.Body)
		}
		// A question the documents do not answer says so plainly; with
		// the relevance needed at 0, the nearest passage shows.
		if r := a.get("/console/search?q=who+won+the+football+final"); !strings.Contains(string(r.Body), "No relevant passages") || strings.Contains(string(r.Body), "alpha") {
			t.Fatalf("an unrelated question: %.2000s", r.Body)
		}
		if r := a.get("/console/search?q=who+won+the+football+final&threshold=0"); !strings.Contains(string(r.Body), "alpha") {
			t.Fatalf("threshold 0 does not show the nearest passage: %.2000s", r.Body)
		}
		for _, bad := range []string{"NaN", "Inf", "-1", "2", "x"} {
			if r := a.get("/console/search?q=vacation&threshold=" + bad); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "between 0 and 1") {
				t.Fatalf("threshold %s: %d %.500s", bad, r.Status, r.Body)
			}
		}
		// B cannot act on A's document through the console either.
		r := bv.post("/console/documents/"+docA+"/delete", url.Values{"csrf_token": {bv.csrf()}})
		if r.Status != http.StatusNotFound {
			t.Fatalf("B deleting A's document: %d", r.Status)
		}
		b.Must(200, "GET", "/v1/documents/"+docA, keyA, nil)
	})

	t.Run("ChangesNeedTheCSRFToken", func(t *testing.T) {
		v := b.signIn(keyA)
		token := v.csrf()
		for name, form := range map[string]url.Values{"missing": {}, "wrong": {"csrf_token": {"x" + token}}} {
			if r := v.post("/console/documents/"+docA+"/reindex", form); r.Status != http.StatusForbidden {
				t.Fatalf("%s token: %d", name, r.Status)
			}
		}
		r := v.do("POST", "/console/documents/"+docA+"/reindex", strings.NewReader(url.Values{"csrf_token": {token}}.Encode()), "Sec-Fetch-Site", "cross-site")
		if r.Status != http.StatusForbidden {
			t.Fatalf("cross-site form with the token: %d", r.Status)
		}
		// The API takes the session cookie too, with the same rules.
		if r := v.do("POST", "/v1/documents/"+docA+"/reindex", nil); r.Status != http.StatusForbidden || r.Code(t) != "csrf_failed" {
			t.Fatalf("API change with the cookie and no token: %d %s", r.Status, r.Body)
		}
		if r := v.do("GET", "/v1/documents/"+docA, nil); r.Status != 200 {
			t.Fatalf("API read with the cookie: %d", r.Status)
		}
		if r := v.post("/console/documents/"+docA+"/reindex", url.Values{"csrf_token": {token}}); r.Status != http.StatusSeeOther {
			t.Fatalf("reindex with the token: %d %.300s", r.Status, r.Body)
		}
		b.WaitDocument(keyA, docA)
	})

	t.Run("JobDashboardStillAsksForTheAdminToken", func(t *testing.T) {
		// The session cookie (path /) reaches /jobs/ too; the browser must
		// still get the prompt for the admin token, not a dead end.
		r := b.signIn(keyA).get("/jobs/")
		if r.Status != http.StatusUnauthorized || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic") {
			t.Fatalf("/jobs/ with a console session: %d %v", r.Status, r.Header)
		}
	})

	t.Run("SearchLinksFromElsewhereWork", func(t *testing.T) {
		// A search page opened from a link in a chat or a mail arrives
		// cross-site; it only reads, and must show its results.
		v := b.signIn(keyA)
		r := v.do("GET", "/console/search?q=vacation+days", nil, "Sec-Fetch-Site", "cross-site")
		if r.Status != 200 || !strings.Contains(string(r.Body), "alpha") {
			t.Fatalf("a linked search: %d %.500s", r.Status, r.Body)
		}
	})

	t.Run("RevokingTheKeyEndsItsSessions", func(t *testing.T) {
		_, key := b.TenantWithKey("console-revoke", allScopes...)
		v := b.signIn(key)
		id := b.Must(200, "GET", "/v1/api-keys", key, nil).JSON(t)["data"].([]any)[0].(map[string]any)["id"].(string)
		b.Must(204, "DELETE", "/v1/api-keys/"+id, key, nil)
		if r := v.get("/console/documents"); r.Status != http.StatusSeeOther {
			t.Fatalf("a revoked key's session still reads pages: %d", r.Status)
		}
		if r := v.do("GET", "/v1/documents", nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("a revoked key's session still reads the API: %d", r.Status)
		}
	})

	t.Run("SigningInAgainEndsTheOldSession", func(t *testing.T) {
		v := b.signIn(keyA)
		old := v.session
		if r := v.post("/console/login", url.Values{"api_key": {keyB}}); r.Status != http.StatusSeeOther || v.session == old {
			t.Fatalf("second sign-in: %d", r.Status)
		}
		stale := &visitor{b: b, session: old}
		if r := stale.get("/console/documents"); r.Status != http.StatusSeeOther {
			t.Fatalf("the replaced session still works: %d", r.Status)
		}
	})

	t.Run("SignOutEndsTheSession", func(t *testing.T) {
		v := b.signIn(keyA)
		if r := v.post("/console/logout", url.Values{"csrf_token": {v.csrf()}}); r.Status != http.StatusSeeOther {
			t.Fatalf("sign out: %d", r.Status)
		}
		if r := v.get("/console/documents"); r.Status != http.StatusSeeOther {
			t.Fatalf("after sign out: %d", r.Status)
		}
	})

	t.Run("HostileForms", func(t *testing.T) {
		v := b.signIn(keyA)
		token := v.csrf()
		huge := strings.Repeat("x", 2<<20)
		if r := v.post("/console/agents/new", url.Values{"csrf_token": {token}, "name": {huge}}); r.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("a 2 MiB agent form: %d", r.Status)
		}
		if r := v.post("/console/login", url.Values{"api_key": {huge}}); r.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("a 2 MiB sign-in form: %d", r.Status)
		}
		// Text areas that are not JSON are caught before the API.
		r := v.post("/console/agents/new", url.Values{"csrf_token": {token}, "name": {"n"}, "model": {"m"}, "output_schema": {`{"type": `}})
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "is not JSON") {
			t.Errorf("a schema that is not JSON: %d %.300s", r.Status, r.Body)
		}
		// The as-you-type check answers the API's field errors as JSON and
		// saves nothing.
		r = v.post("/console/agents/validate", url.Values{"csrf_token": {token}, "name": {""}, "model": {"m"}, "output_schema": {`{"type": 7}`}})
		var check struct {
			OK     bool              `json:"ok"`
			Errors map[string]string `json:"errors"`
		}
		if err := json.Unmarshal(r.Body, &check); err != nil || check.OK || check.Errors["output_schema"] == "" || check.Errors["name"] == "" {
			t.Errorf("validate: %d %s", r.Status, r.Body)
		}
		// Markup in names is shown as text.
		name := `<script>alert("x")</script><img src=x onerror=alert(1)>`
		if r := v.post("/console/agents/new", url.Values{"csrf_token": {token}, "name": {name}, "model": {"m"}}); r.Status != http.StatusSeeOther {
			t.Fatalf("an agent named with markup: %d %.300s", r.Status, r.Body)
		}
		page := string(v.get("/console/agents").Body)
		if strings.Contains(page, "<script>alert") || strings.Contains(page, "<img src=x") || !strings.Contains(page, "&lt;script&gt;") {
			t.Errorf("the agents page does not escape names: %.2000s", page)
		}
		if n := len(b.Must(200, "GET", "/v1/agents", keyA, nil).JSON(t)["data"].([]any)); n != 1 {
			t.Errorf("%d agents after one save and failed or dry runs, want 1", n)
		}
	})

	t.Run("AMemberKeyCannotWrite", func(t *testing.T) {
		_, key := b.TenantWithKey("console-reader", "documents:read", "agents:read", "search")
		v := b.signIn(key)
		page := string(v.get("/console/documents").Body)
		if strings.Contains(page, `id="upload"`) {
			t.Fatal("a read-only session is offered the upload form")
		}
		if r := v.post("/console/keys", url.Values{"csrf_token": {v.csrf()}, "name": {"x"}}); r.Status != http.StatusForbidden {
			t.Fatalf("a read-only session created a key: %d", r.Status)
		}
	})
}

// oidcSignIn walks the console's sign-in with the identity provider as a
// browser would: the console sends it to the issuer, which approves
// (oidctest) and sends it back with a code. It returns the callback's
// answer; tamper may change the callback URL first.
func (v *visitor) oidcSignIn(next string, tamper func(*url.URL)) response {
	v.b.t.Helper()
	r := v.get("/console/login/oidc?next=" + url.QueryEscape(next))
	if r.Status != http.StatusFound {
		v.b.t.Fatalf("start: %d %.300s", r.Status, r.Body)
	}
	resp, err := noRedirect.Get(r.Header.Get("Location"))
	if err != nil {
		v.b.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		v.b.t.Fatalf("the issuer answered %d", resp.StatusCode)
	}
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		v.b.t.Fatal(err)
	}
	if tamper != nil {
		tamper(back)
	}
	return v.get(back.RequestURI())
}

// TestConsoleSignInWithIdentityProvider: the authorization code flow with
// PKCE signs a person in to the tenant of their organisation with the
// scopes of their role, and every way it can go wrong ends on the sign-in
// page with a reason and no session.
func TestConsoleSignInWithIdentityProvider(t *testing.T) {
	t.Parallel()
	b, iss := setupOIDC(t, apitest.Options{}, true)
	b.TenantWithOrg("sso-acme", "org_acme")
	login := func(role, org string) {
		iss.SetLogin(map[string]any{"sub": "user_" + role, "email": role + "@acme.example", "org_id": org, "org_role": role})
	}

	t.Run("AdminSignsIn", func(t *testing.T) {
		login("org:admin", "org_acme")
		v := &visitor{b: b}
		if page := string(v.get("/console/login").Body); !strings.Contains(page, "Sign in with Test IdP") {
			t.Fatal("the sign-in page offers no identity provider")
		}
		r := v.oidcSignIn("/console/search", nil)
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/console/search" || v.session == "" {
			t.Fatalf("callback: %d to %q, session %t", r.Status, r.Header.Get("Location"), v.session != "")
		}
		if _, ok := v.cookies["__Host-ragd_oidc"]; ok {
			t.Error("the sign-in flow's cookie outlives the callback")
		}
		page := string(v.get("/console/documents").Body)
		if !strings.Contains(page, "org:admin@acme.example") || !strings.Contains(page, `id="upload"`) {
			t.Fatalf("an admin's documents page: %.600s", page)
		}
	})

	t.Run("RemappingTheTenantEndsTheSession", func(t *testing.T) {
		tenant := b.TenantWithOrg("sso-remap", "org_remap")
		login("org:admin", "org_remap")
		v := &visitor{b: b}
		if r := v.oidcSignIn("/console/documents", nil); v.session == "" {
			t.Fatalf("sign in: %d", r.Status)
		}
		if r := v.get("/console/documents"); r.Status != 200 {
			t.Fatalf("before: %d", r.Status)
		}
		b.Must(200, "PATCH", "/v1/tenants/"+tenant, adminToken, map[string]any{"clerk_org_id": "org_elsewhere"})
		if r := v.get("/console/documents"); r.Status != http.StatusSeeOther {
			t.Fatalf("a session from an organisation the tenant no longer maps: %d", r.Status)
		}
	})

	t.Run("MemberSignsInReadOnly", func(t *testing.T) {
		login("org:member", "org_acme")
		v := &visitor{b: b}
		if r := v.oidcSignIn("/console/documents", nil); r.Status != http.StatusSeeOther || v.session == "" {
			t.Fatalf("callback: %d", r.Status)
		}
		if page := string(v.get("/console/documents").Body); strings.Contains(page, `id="upload"`) {
			t.Fatal("a member is offered the upload form")
		}
		if r := v.post("/console/keys", url.Values{"csrf_token": {v.csrf()}, "name": {"x"}}); r.Status != http.StatusForbidden {
			t.Fatalf("a member created a key: %d", r.Status)
		}
	})

	refused := []struct {
		name   string
		role   string
		org    string
		tamper func(*url.URL)
		reason string
	}{
		{"OrganisationWithoutTenant", "org:admin", "org_other", nil, "tenant"},
		{"RoleWithoutScopes", "org:guest", "org_acme", nil, "role"},
		{"StateMismatch", "org:admin", "org_acme", func(u *url.URL) {
			q := u.Query()
			q.Set("state", "forged")
			u.RawQuery = q.Encode()
		}, "state"},
		{"CodeTamperedWith", "org:admin", "org_acme", func(u *url.URL) {
			q := u.Query()
			q.Set("code", q.Get("code")+"x")
			u.RawQuery = q.Encode()
		}, "oidc"},
		{"ProviderError", "org:admin", "org_acme", func(u *url.URL) {
			q := u.Query()
			q.Del("code")
			q.Set("error", "access_denied")
			u.RawQuery = q.Encode()
		}, "oidc"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			login(tc.role, tc.org)
			v := &visitor{b: b}
			r := v.oidcSignIn("/console/documents", tc.tamper)
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/console/login?error="+tc.reason || v.session != "" {
				t.Fatalf("callback: %d to %q, session %t", r.Status, r.Header.Get("Location"), v.session != "")
			}
		})
	}

	t.Run("CallbackWithoutTheFlowCookie", func(t *testing.T) {
		login("org:admin", "org_acme")
		v := &visitor{b: b}
		r := v.oidcSignIn("/console/documents", func(*url.URL) { v.cookies = nil })
		if r.Header.Get("Location") != "/console/login?error=state" || v.session != "" {
			t.Fatalf("callback without the cookie: %d to %q", r.Status, r.Header.Get("Location"))
		}
	})

	t.Run("CodeUsedTwice", func(t *testing.T) {
		login("org:admin", "org_acme")
		v := &visitor{b: b}
		var callback string
		if r := v.oidcSignIn("/console/documents", func(u *url.URL) { callback = u.RequestURI() }); v.session == "" {
			t.Fatalf("first use: %d", r.Status)
		}
		// Replayed by someone who saw the URL, with a flow of their own.
		w := &visitor{b: b}
		w.get("/console/login/oidc")
		if r := w.get(callback); r.Header.Get("Location") != "/console/login?error=state" || w.session != "" {
			t.Fatalf("replay: %d to %q", r.Status, r.Header.Get("Location"))
		}
	})
}

// formValues reads what a browser would submit from the form with id in
// page: its inputs (checked boxes only), text areas and selects.
func formValues(t *testing.T, page []byte, id string) url.Values {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	attr := func(n *html.Node, name string) (string, bool) {
		for _, a := range n.Attr {
			if a.Key == name {
				return a.Val, true
			}
		}
		return "", false
	}
	var form *html.Node
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && n.Data == "form" {
			if v, _ := attr(n, "id"); v == id {
				form = n
			}
		}
	}
	if form == nil {
		t.Fatalf("no form %q in the page", id)
	}
	out := url.Values{}
	for n := range form.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		name, ok := attr(n, "name")
		if !ok {
			continue
		}
		switch n.Data {
		case "input":
			typ, _ := attr(n, "type")
			if _, checked := attr(n, "checked"); (typ == "checkbox" || typ == "radio") && !checked {
				continue
			}
			v, _ := attr(n, "value")
			out.Add(name, v)
		case "textarea":
			var text strings.Builder
			for c := range n.Descendants() {
				if c.Type == html.TextNode {
					text.WriteString(c.Data)
				}
			}
			// Browsers submit a text area's line breaks as CRLF (and the
			// parser, like theirs, dropped a newline right after the tag).
			out.Add(name, strings.ReplaceAll(text.String(), "\n", "\r\n"))
		case "select":
			for o := range n.Descendants() {
				if _, sel := attr(o, "selected"); o.Type == html.ElementNode && o.Data == "option" && sel {
					v, _ := attr(o, "value")
					out.Add(name, v)
				}
			}
		}
	}
	return out
}

// TestConsoleEditsAgent: the editor never shows an agent's secrets, and
// saving it as read (a new name only) keeps every secret and field; an
// edit of a version someone else has changed since is refused.
func TestConsoleEditsAgent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, key := b.TenantWithKey("editor", allScopes...)
	agent := apitest.FullAgent("support-bot")
	// A prompt of several lines that starts with one, and a schema with an
	// integer beyond float64's exact range: both must come back as they were.
	agent["system_prompt"] = "\nYou answer from the handbook.\n\nCite the page."
	agent["output_schema"] = map[string]any{"type": "object", "properties": map[string]any{"n": map[string]any{"type": "integer", "maximum": json.Number("9007199254740993")}}}
	b.Must(201, "POST", "/v1/agents", key, agent)
	before := b.Must(200, "GET", "/v1/agents/support-bot", key, nil).JSON(t)
	v := b.signIn(key)

	page := v.get("/console/agents/support-bot/edit")
	if page.Status != 200 {
		t.Fatalf("edit page: %d", page.Status)
	}
	for _, s := range apitest.FullAgentSecrets {
		if strings.Contains(string(page.Body), s) {
			t.Fatalf("the editor shows the secret %q", s)
		}
	}
	form := formValues(t, page.Body, "agent-form")
	if !strings.Contains(form.Get("mcp_servers"), `"Authorization": null`) || form.Get("langfuse_secret_key") != "" || form.Get("langfuse_secret_shown") != "****2222" {
		t.Fatalf("editor form: %v", form)
	}
	form.Set("name", "Support Bot, renamed")
	if r := v.post("/console/agents/support-bot/edit", form); r.Status != http.StatusSeeOther {
		t.Fatalf("save: %d %.800s", r.Status, r.Body)
	}
	after := b.Must(200, "GET", "/v1/agents/support-bot", key, nil).JSON(t)
	if after["name"] != "Support Bot, renamed" || after["version"].(float64) != 2 {
		t.Fatalf("after saving: %v", after)
	}
	if !strings.Contains(string(b.Must(200, "GET", "/v1/agents/support-bot", key, nil).Body), "9007199254740993") {
		t.Error("the schema's large integer changed on the way through the editor")
	}
	for _, field := range []string{"langfuse", "mcp_servers", "retrieval", "output_schema", "temperature", "system_prompt", "model"} {
		if fmt.Sprint(after[field]) != fmt.Sprint(before[field]) {
			t.Errorf("%s changed: %v, was %v", field, after[field], before[field])
		}
	}
	// The agent keeps its secrets for real, not only their redacted form:
	// a secret cleared would read back as absent or empty.
	if lf := after["langfuse"].(map[string]any); lf["secret_key"] != "****2222" {
		t.Errorf("langfuse after saving: %v", lf)
	}

	// The same form again names version 1, which is gone.
	r := v.post("/console/agents/support-bot/edit", form)
	if r.Status != http.StatusPreconditionFailed || !strings.Contains(string(r.Body), "has changed since") {
		t.Fatalf("a stale edit: %d %.500s", r.Status, r.Body)
	}
	if strings.Contains(string(r.Body), "sk-lf") {
		t.Fatal("a refused edit echoes a secret")
	}
}

// TestConsoleAgentWithUnreadableSecrets: after the encryption key changed
// without the old one kept, the agents' pages still open, say so, and a
// save that gives no secret keeps the stored ones as they are.
func TestConsoleAgentWithUnreadableSecrets(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tenant, key := b.TenantWithKey("rotated", allScopes...)
	b.Must(201, "POST", "/v1/agents", key, apitest.FullAgent("support-bot"))
	sealed := b.srv.LoseAgentKey(t, tenant, "support-bot")
	v := b.signIn(key)

	if list := v.get("/console/agents"); list.Status != 200 || !strings.Contains(string(list.Body), "secrets unreadable") {
		t.Fatalf("agents page: %d %.800s", list.Status, list.Body)
	}
	page := v.get("/console/agents/support-bot/edit")
	if page.Status != 200 || !strings.Contains(string(page.Body), "cannot be opened with the server") {
		t.Fatalf("edit page: %d %.800s", page.Status, page.Body)
	}
	form := formValues(t, page.Body, "agent-form")
	form.Set("name", "Renamed")
	if r := v.post("/console/agents/support-bot/edit", form); r.Status != http.StatusSeeOther {
		t.Fatalf("save: %d %s", r.Status, r.Body)
	}
	var now []byte
	if err := b.srv.Pool.QueryRow(t.Context(), "SELECT secrets FROM agents WHERE id = 'support-bot'").Scan(&now); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(now, sealed) {
		t.Fatal("saving the agent replaced its unreadable secrets")
	}
	if got := b.Must(200, "GET", "/v1/agents/support-bot", key, nil).JSON(t); got["name"] != "Renamed" || got["secrets_unreadable"] != true {
		t.Fatalf("after saving: %v", got)
	}
}

// TestConsoleHeaderNamesTheTenant: every page says whose data it shows.
func TestConsoleHeaderNamesTheTenant(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, key := b.TenantWithKey("header", allScopes...)
	v := b.signIn(key)
	for _, path := range []string{"/console/documents", "/console/usage", "/console/no-such-page"} {
		page := string(v.get(path).Body)
		if !strings.Contains(page, `<p class="tenant">Tenant <strong>Tenant header</strong></p>`) {
			t.Errorf("%s does not name the tenant: %.1500s", path, page)
		}
	}
}

// TestConsoleUsageShowsQuotas: the usage page shows each quota with what
// is used of it (or "no limit") and when the month starts again, draws
// each status in its own colour, and says so when a chart has nothing to
// draw instead of showing an empty box.
func TestConsoleUsageShowsQuotas(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tenant, key := b.TenantWithKey("usage-quotas", allScopes...)
	b.Must(200, "PATCH", "/v1/tenants/"+tenant, adminToken, map[string]any{"quotas": map[string]any{"documents": 5, "stored_bytes": 1 << 20}})
	ready := b.Upload(key, "", "notes.txt", []byte("the notes say vacation is 25 days")).JSON(t)["id"].(string)
	failed := b.Upload(key, "", "blank.html", []byte("<html><body><script>x</script></body></html>")).JSON(t)["id"].(string)
	b.WaitDocument(key, ready)
	if d := b.WaitDocument(key, failed); d["status"] != "failed" {
		t.Fatalf("blank.html: %v", d["status"])
	}
	b.Must(200, "POST", "/v1/search", key, map[string]any{"query": "vacation"})
	v := b.signIn(key)

	r := v.get("/console/usage")
	page := string(r.Body)
	if r.Status != 200 {
		t.Fatalf("usage: %d %.500s", r.Status, page)
	}
	for _, want := range []string{
		`data-quota="documents"`, "2 of 5 (40%)", `max="5" value="2"`,
		`data-quota="stored_bytes"`, "of 1.0 MiB",
		`data-quota="embedding_tokens_this_month"`, "0, no limit",
		"count again from 0 on " + time.Now().UTC().AddDate(0, 1, 0).Format("2006-01") + "-01 00:00 UTC",
		`class="ready"`, `class="failed"`,
		// The local embedder bills no tokens: the chart says so.
		"No embedding tokens were billed in the last 30 days",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the usage page lacks %q", want)
		}
	}
	// A series with something to draw is drawn.
	if strings.Contains(page, "No searches in the last 30 days") || !strings.Contains(page, `aria-label="Searches a day"`) {
		t.Error("the searches chart is not drawn after a search")
	}

	// A full quota says so.
	b.Must(200, "PATCH", "/v1/tenants/"+tenant, adminToken, map[string]any{"quotas": map[string]any{"documents": 2}})
	if page := string(v.get("/console/usage").Body); !strings.Contains(page, "2 of 2 (100%): full") {
		t.Errorf("a full quota: %.3000s", page)
	}
}

// TestConsoleKeys: the keys page shows each key's expiry, and revoking the
// key the session signed in with asks first (a page, no script needed);
// confirmed, it revokes the key and ends the session.
func TestConsoleKeys(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, key := b.TenantWithKey("keys-page", allScopes...)
	expires := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Minute)
	other := b.Must(201, "POST", "/v1/api-keys", key, map[string]any{"name": "widget", "scopes": []string{"search"}, "expires_at": expires.Format(time.RFC3339)}).JSON(t)
	v := b.signIn(key)
	token := v.csrf()
	var ownID string
	for _, k := range b.Must(200, "GET", "/v1/api-keys", key, nil).JSON(t)["data"].([]any) {
		if k := k.(map[string]any); k["name"] == "test" {
			ownID = k["id"].(string)
		}
	}

	page := string(v.get("/console/keys").Body)
	for _, want := range []string{expires.Format("2006-01-02 15:04 UTC"), `<th scope="col">Expires</th>`, `data-current="true"`, "this session",
		`aria-label="Revoke test (the key you are signed in with)"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the keys page lacks %q", want)
		}
	}
	if !strings.Contains(page, ">never<") {
		t.Error("a key without expiry does not say never")
	}

	t.Run("AnotherKeyIsRevokedAtOnce", func(t *testing.T) {
		r := v.post("/console/keys/"+other["id"].(string)+"/revoke", url.Values{"csrf_token": {token}})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/console/keys?done=revoked" {
			t.Fatalf("revoke another key: %d %s", r.Status, r.Header.Get("Location"))
		}
		if r := b.Req("POST", "/v1/search", other["key"].(string), map[string]any{"query": "x"}); r.Status != http.StatusUnauthorized {
			t.Error("the revoked key still works")
		}
	})

	t.Run("TheOwnKeyAsksFirst", func(t *testing.T) {
		r := v.post("/console/keys/"+ownID+"/revoke", url.Values{"csrf_token": {token}})
		if r.Status != http.StatusOK || !strings.Contains(string(r.Body), "signs you out of the console") {
			t.Fatalf("revoke the own key, unconfirmed: %d %.800s", r.Status, r.Body)
		}
		b.Must(200, "GET", "/v1/documents", key, nil)
		if r := v.get("/console/keys"); r.Status != 200 {
			t.Fatalf("the session ended without a confirmation: %d", r.Status)
		}
		form := formValues(t, r.Body, "confirm-form")
		if form.Get("confirm") != "yes" || form.Get("csrf_token") != token {
			t.Fatalf("confirmation form: %v", form)
		}
		// The confirmation still needs the CSRF token.
		if r := v.post("/console/keys/"+ownID+"/revoke", url.Values{"confirm": {"yes"}}); r.Status != http.StatusForbidden {
			t.Fatalf("confirmed without the CSRF token: %d", r.Status)
		}
		r = v.post("/console/keys/"+ownID+"/revoke", form)
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/console/login?done=revoked-own" {
			t.Fatalf("revoke the own key, confirmed: %d %s %.300s", r.Status, r.Header.Get("Location"), r.Body)
		}
		if b.Req("GET", "/v1/documents", key, nil).Status != http.StatusUnauthorized {
			t.Error("the revoked key still works")
		}
		if r := v.get("/console/documents"); r.Status != http.StatusSeeOther {
			t.Errorf("the session outlived its key: %d", r.Status)
		}
		if page := string(v.get("/console/login?done=revoked-own").Body); !strings.Contains(page, "sign in with another key") {
			t.Errorf("the sign-in page does not say why: %.1000s", page)
		}
	})
}

// TestConsoleDeletesAgent: an agent is deleted after a confirmation page;
// another tenant's agent cannot be deleted (or even asked about) through
// the console, and a session without agents:write is refused.
func TestConsoleDeletesAgent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, keyA := b.TenantWithKey("delete-agent-a", allScopes...)
	_, keyB := b.TenantWithKey("delete-agent-b", allScopes...)
	b.Must(201, "POST", "/v1/agents", keyA, map[string]any{"id": "bot-a", "name": "Bot A", "model": "gpt-4o-mini"})

	t.Run("RejectsOtherTenantsAgent", func(t *testing.T) {
		bv := b.signIn(keyB)
		if r := bv.get("/console/agents/bot-a/delete"); r.Status != http.StatusNotFound || strings.Contains(string(r.Body), "Bot A") {
			t.Fatalf("B's confirmation page for A's agent: %d %.300s", r.Status, r.Body)
		}
		if r := bv.post("/console/agents/bot-a/delete", url.Values{"csrf_token": {bv.csrf()}, "confirm": {"yes"}}); r.Status != http.StatusNotFound {
			t.Fatalf("B deleting A's agent: %d %.300s", r.Status, r.Body)
		}
		b.Must(200, "GET", "/v1/agents/bot-a", keyA, nil)
	})

	t.Run("NeedsAgentsWrite", func(t *testing.T) {
		readerTenant, reader := b.TenantWithKey("delete-agent-reader", "agents:read", "documents:read")
		b.Must(201, "POST", "/v1/agents", adminToken, map[string]any{"id": "bot-r", "name": "Bot R", "model": "m"}, "Ragd-Tenant", readerTenant)
		rv := b.signIn(reader)
		if page := string(rv.get("/console/agents").Body); strings.Contains(page, "/delete") {
			t.Error("a read-only session is offered Delete")
		}
		if r := rv.post("/console/agents/bot-r/delete", url.Values{"csrf_token": {rv.csrf()}, "confirm": {"yes"}}); r.Status != http.StatusForbidden {
			t.Fatalf("a read-only session deleting: %d", r.Status)
		}
	})

	t.Run("AsksThenDeletes", func(t *testing.T) {
		v := b.signIn(keyA)
		if page := string(v.get("/console/agents").Body); !strings.Contains(page, `href="/console/agents/bot-a/delete" aria-label="Delete Bot A"`) {
			t.Fatalf("the agents page offers no Delete: %.2000s", page)
		}
		r := v.get("/console/agents/bot-a/delete")
		if r.Status != 200 || !strings.Contains(string(r.Body), "Delete the agent “Bot A” (bot-a)?") {
			t.Fatalf("confirmation page: %d %.800s", r.Status, r.Body)
		}
		form := formValues(t, r.Body, "confirm-form")
		// Without the confirmation (a form from elsewhere in the console),
		// the question comes first.
		if r := v.post("/console/agents/bot-a/delete", url.Values{"csrf_token": {form.Get("csrf_token")}}); r.Status != http.StatusOK {
			t.Fatalf("unconfirmed: %d", r.Status)
		}
		if r := v.post("/console/agents/bot-a/delete", url.Values{"confirm": {"yes"}}); r.Status != http.StatusForbidden {
			t.Fatalf("without the CSRF token: %d", r.Status)
		}
		b.Must(200, "GET", "/v1/agents/bot-a", keyA, nil)
		r = v.post("/console/agents/bot-a/delete", form)
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/console/agents?done=agent-deleted" {
			t.Fatalf("confirmed: %d %s %.300s", r.Status, r.Header.Get("Location"), r.Body)
		}
		b.Must(404, "GET", "/v1/agents/bot-a", keyA, nil)
		if page := string(v.get("/console/agents?done=agent-deleted").Body); !strings.Contains(page, "The agent is deleted") || strings.Contains(page, "Bot A") {
			t.Errorf("after deleting: %.1500s", page)
		}
		// Gone: the confirmation page says so.
		if r := v.get("/console/agents/bot-a/delete"); r.Status != http.StatusNotFound {
			t.Errorf("the confirmation page of a deleted agent: %d", r.Status)
		}
	})
}
