package oidctest_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ragd/ragd/oidcauth"
	"github.com/ragd/ragd/oidcauth/oidctest"
)

const (
	clientID    = "ragd-web"
	redirectURI = "http://127.0.0.1:9/callback"
)

// noRedirects stops at /authorize's answer, as a browser leaving for the
// app's callback would.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func setup(t *testing.T) (*oidctest.Issuer, *oauth2.Config) {
	t.Helper()
	iss := oidctest.New(t)
	iss.RegisterClient(clientID, redirectURI)
	iss.SetLogin(map[string]any{"sub": "user_1", "org_id": "org_1", "org_role": "org:member"})
	p, err := oidc.NewProvider(t.Context(), iss.URL())
	if err != nil {
		t.Fatal(err)
	}
	return iss, &oauth2.Config{ClientID: clientID, RedirectURL: redirectURI, Endpoint: p.Endpoint(), Scopes: []string{oidc.ScopeOpenID}}
}

// authorize follows the authorization URL and returns the redirect's query.
func authorize(t *testing.T, authURL string) (int, url.Values) {
	t.Helper()
	resp, err := noRedirects.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return resp.StatusCode, nil
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(loc.String(), redirectURI+"?") {
		t.Fatalf("redirected to %s", loc)
	}
	return resp.StatusCode, loc.Query()
}

func TestAuthorizationCodeFlow(t *testing.T) {
	t.Parallel()

	t.Run("IssuesTokensForTheLogin", func(t *testing.T) {
		t.Parallel()
		iss, conf := setup(t)
		verifier := oauth2.GenerateVerifier()
		_, q := authorize(t, conf.AuthCodeURL("st4te", oauth2.S256ChallengeOption(verifier), oidc.Nonce("n0nce")))
		if q.Get("state") != "st4te" || q.Get("code") == "" {
			t.Fatalf("callback query = %v", q)
		}
		tok, err := conf.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		rawID, _ := tok.Extra("id_token").(string)
		idTok, err := oidcauth.New(t.Context(), oidcauth.Config{Issuer: iss.URL(), Audience: clientID})
		if err != nil {
			t.Fatal(err)
		}
		id, err := idTok.Verify(t.Context(), rawID)
		if err != nil || id.Subject != "user_1" || id.OrgID != "org_1" {
			t.Fatalf("id token: %+v, %v", id, err)
		}
		p, err := oidc.NewProvider(t.Context(), iss.URL())
		if err != nil {
			t.Fatal(err)
		}
		checked, err := p.Verifier(&oidc.Config{ClientID: clientID}).Verify(t.Context(), rawID)
		if err != nil || checked.Nonce != "n0nce" {
			t.Fatalf("nonce = %q, err = %v", checked.Nonce, err)
		}
		access, err := oidcauth.New(t.Context(), oidcauth.Config{Issuer: iss.URL()})
		if err != nil {
			t.Fatal(err)
		}
		if id, err := access.Verify(t.Context(), tok.AccessToken); err != nil || id.Role != "org:member" {
			t.Fatalf("access token: %+v, %v", id, err)
		}
	})

	t.Run("RefusesWrongVerifierAndReusedCode", func(t *testing.T) {
		t.Parallel()
		_, conf := setup(t)
		verifier := oauth2.GenerateVerifier()
		_, q := authorize(t, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
		if _, err := conf.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
			t.Fatal("exchange with the wrong verifier succeeded")
		}
		// The failed attempt spent the code, as a stolen one should be.
		if _, err := conf.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(verifier)); err == nil {
			t.Fatal("exchange of a used code succeeded")
		}
		_, q = authorize(t, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
		if _, err := conf.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(verifier)); err != nil {
			t.Fatal(err)
		}
		if _, err := conf.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(verifier)); err == nil {
			t.Fatal("second exchange of a code succeeded")
		}
	})

	t.Run("RefusesBadAuthorizeRequests", func(t *testing.T) {
		t.Parallel()
		_, conf := setup(t)
		challenge := oauth2.S256ChallengeOption(oauth2.GenerateVerifier())
		other := *conf
		other.ClientID = "unknown"
		elsewhere := *conf
		elsewhere.RedirectURL = "http://127.0.0.1:9/evil"
		for name, authURL := range map[string]string{
			"WithoutPKCE":     conf.AuthCodeURL("s"),
			"PlainPKCE":       conf.AuthCodeURL("s", oauth2.SetAuthURLParam("code_challenge", "abc"), oauth2.SetAuthURLParam("code_challenge_method", "plain")),
			"UnknownClient":   other.AuthCodeURL("s", challenge),
			"OtherRedirect":   elsewhere.AuthCodeURL("s", challenge),
			"NotResponseCode": strings.Replace(conf.AuthCodeURL("s", challenge), "response_type=code", "response_type=token", 1),
		} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				if status, _ := authorize(t, authURL); status != http.StatusBadRequest {
					t.Fatalf("status = %d, want 400", status)
				}
			})
		}
	})

	t.Run("RefusesWithoutLogin", func(t *testing.T) {
		t.Parallel()
		iss, conf := setup(t)
		iss.SetLogin(nil)
		if status, _ := authorize(t, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))); status != http.StatusForbidden {
			t.Fatalf("status = %d, want 403", status)
		}
	})
}

// TestSignInForm: with the sign-in form on and no login set (what `ragd
// dev-idp` serves), /authorize asks who signs in, carrying the request in
// hidden fields; the form's answer gets a code whose tokens hold what was
// typed; a forged request in the form is refused as in the query.
func TestSignInForm(t *testing.T) {
	t.Parallel()
	iss, conf := setup(t)
	iss.SetLogin(nil)
	iss.EnableSignInForm()
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("st4te", oauth2.S256ChallengeOption(verifier))
	resp, err := http.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), `name="org_id"`) || !strings.Contains(string(page), `name="state" value="st4te"`) {
		t.Fatalf("the form: %d %s", resp.StatusCode, page)
	}
	u, _ := url.Parse(authURL)
	form := u.Query()
	form.Set("sub", "user_typed")
	form.Set("org_id", "org_typed")
	form.Set("org_role", "org:admin")
	resp, err = noRedirects.PostForm(iss.URL()+"/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc.Query().Get("state") != "st4te" {
		t.Fatalf("sign-in: %d to %s", resp.StatusCode, loc)
	}
	tok, err := conf.Exchange(t.Context(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	v, err := oidcauth.New(t.Context(), oidcauth.Config{Issuer: iss.URL(), Audience: clientID})
	if err != nil {
		t.Fatal(err)
	}
	if id, err := v.Verify(t.Context(), tok.Extra("id_token").(string)); err != nil || id.Subject != "user_typed" || id.OrgID != "org_typed" || id.Role != "org:admin" {
		t.Fatalf("id token: %+v, %v", id, err)
	}
	for name, change := range map[string][2]string{"OtherRedirect": {"redirect_uri", "http://evil.example/cb"}, "NoPKCE": {"code_challenge", ""}, "NoUser": {"sub", ""}} {
		f := url.Values{}
		for k, v := range form {
			f[k] = v
		}
		f.Set(change[0], change[1])
		resp, err := noRedirects.PostForm(iss.URL()+"/authorize", f)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", name, resp.StatusCode)
		}
	}
}
