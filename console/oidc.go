package console

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ragd/ragd/agents"
)

// OIDC is browser sign-in with the identity provider: the authorization
// code flow with PKCE (S256), a state and a nonce.
type OIDC struct {
	// Name is shown on the sign-in button ("Sign in with Name").
	Name     string
	Issuer   string
	ClientID string
	// ClientSecret is empty for a public client (PKCE alone).
	ClientSecret string
	// RedirectURL is this console's /console/callback as the provider knows
	// it; empty: derived from each request's Host (and https unless the
	// request came in plain http without X-Forwarded-Proto: https).
	RedirectURL string
	// Scopes to ask for besides openid (default: profile, email).
	Scopes []string
	// Identify maps the ID token's claims to the session to start (tenant,
	// subject, scopes), or fails: ErrNoTenant, ErrNoAccess, or another error.
	Identify func(ctx context.Context, claims map[string]any) (agents.Session, error)
	// HTTPClient talks to the provider (default: 10 s timeout).
	HTTPClient *http.Client

	mu       sync.Mutex
	provider *oidc.Provider
	tried    time.Time
}

// Errors Identify returns for people the console cannot let in.
var (
	ErrNoTenant = errors.New("the organisation has no tenant")
	ErrNoAccess = errors.New("the role gives no scopes")
)

// flowCookie carries a sign-in's state, nonce, PKCE verifier and next page
// from the redirect to the callback (ten minutes at most).
const flowCookie = "__Host-ragd_oidc"

func (o *OIDC) client() *http.Client {
	if o.HTTPClient != nil {
		return o.HTTPClient
	}
	return &http.Client{Timeout: 10 * time.Second}
}

// discover returns the provider, discovering it on first use: ragd starts
// even when the provider is down, and retries at most every 5 seconds.
func (o *OIDC) discover(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, nil
	}
	if time.Since(o.tried) < 5*time.Second {
		return nil, errors.New("oidc: discovery failed moments ago")
	}
	o.tried = time.Now()
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, o.client()), o.Issuer)
	if err != nil {
		return nil, err
	}
	o.provider = p
	return p, nil
}

func (o *OIDC) config(r *http.Request, p *oidc.Provider) *oauth2.Config {
	redirect := o.RedirectURL
	if redirect == "" {
		scheme := "https"
		if r.TLS == nil && !strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
			scheme = "http"
		}
		redirect = scheme + "://" + r.Host + "/console/callback"
	}
	scopes := o.Scopes
	if scopes == nil {
		scopes = []string{"profile", "email"}
	}
	return &oauth2.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: redirect, Scopes: append([]string{oidc.ScopeOpenID}, scopes...)}
}

func (c *Console) loginWithOIDC(w http.ResponseWriter, r *http.Request) {
	if c.OIDC == nil {
		http.NotFound(w, r)
		return
	}
	p, err := c.OIDC.discover(r.Context())
	if err != nil {
		c.Logger.WarnContext(r.Context(), "console: oidc discovery", "err", err)
		http.Redirect(w, r, "/console/login?error=provider", http.StatusSeeOther)
		return
	}
	state, nonce, verifier := randomToken(), randomToken(), oauth2.GenerateVerifier()
	next := safeNext(r.URL.Query().Get("next"))
	http.SetCookie(w, &http.Cookie{Name: flowCookie, Value: strings.Join([]string{state, nonce, verifier, next}, "|"),
		Path: "/", MaxAge: 600, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	url := c.OIDC.config(r, p).AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))
	http.Redirect(w, r, url, http.StatusFound)
}

func (c *Console) oidcCallback(w http.ResponseWriter, r *http.Request) {
	if c.OIDC == nil {
		http.NotFound(w, r)
		return
	}
	fail := func(reason string, err error) {
		if err != nil {
			c.Logger.WarnContext(r.Context(), "console: oidc sign-in", "reason", reason, "err", err)
		}
		http.Redirect(w, r, "/console/login?error="+reason, http.StatusSeeOther)
	}
	ck, err := r.Cookie(flowCookie)
	http.SetCookie(w, &http.Cookie{Name: flowCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	if err != nil {
		fail("state", nil)
		return
	}
	parts := strings.SplitN(ck.Value, "|", 4)
	q := r.URL.Query()
	if len(parts) != 4 || subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(parts[0])) != 1 {
		fail("state", nil)
		return
	}
	nonce, verifier, next := parts[1], parts[2], safeNext(parts[3])
	if e := q.Get("error"); e != "" {
		fail("oidc", errors.New("provider: "+e))
		return
	}
	p, err := c.OIDC.discover(r.Context())
	if err != nil {
		fail("provider", err)
		return
	}
	ctx := oidc.ClientContext(r.Context(), c.OIDC.client())
	tok, err := c.OIDC.config(r, p).Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		fail("oidc", err)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		fail("oidc", errors.New("no id_token in the token response"))
		return
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: c.OIDC.ClientID}).Verify(ctx, raw)
	if err != nil {
		fail("oidc", err)
		return
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		fail("oidc", errors.New("nonce mismatch"))
		return
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		fail("oidc", err)
		return
	}
	in, err := c.OIDC.Identify(r.Context(), claims)
	switch {
	case errors.Is(err, ErrNoTenant):
		fail("tenant", err)
		return
	case errors.Is(err, ErrNoAccess):
		fail("role", err)
		return
	case err != nil:
		fail("oidc", err)
		return
	}
	in.KeyID = nil
	c.startSession(w, r, in, next)
}
