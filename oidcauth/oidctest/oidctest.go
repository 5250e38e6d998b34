// Package oidctest runs an OpenID Connect issuer in process, for tests: a
// discovery document, a JWKS, and an authorization-code flow with PKCE that
// approves whoever SetLogin names. Its tokens are RS256, 2048-bit keys.
package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Issuer is a running test issuer. Its methods are safe for concurrent use.
type Issuer struct {
	t   testing.TB
	srv *httptest.Server

	mu      sync.Mutex
	keys    []signingKey // keys[len-1] signs; the JWKS serves published ones
	down    bool
	clients map[string]string // client id -> redirect URI
	login   map[string]any
	codes   map[string]grant
	fetches int
}

// tokenTTL is how long Sign's tokens last unless given an exp.
const tokenTTL = time.Hour

type signingKey struct {
	kid       string
	priv      *rsa.PrivateKey
	published bool
}

// grant is an authorization code's pending exchange.
type grant struct {
	clientID, redirectURI, challenge, nonce string
	claims                                  map[string]any
}

// New starts an issuer with one key; it stops when the test ends.
func New(t testing.TB) *Issuer {
	t.Helper()
	iss := &Issuer{
		t:       t,
		clients: map[string]string{},
		codes:   map[string]grant{},
	}
	iss.keys = []signingKey{iss.newKey()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", iss.handleDiscovery)
	mux.HandleFunc("GET /jwks", iss.handleJWKS)
	mux.HandleFunc("GET /authorize", iss.handleAuthorize)
	mux.HandleFunc("POST /token", iss.handleToken)
	iss.srv = httptest.NewServer(iss.unlessDown(mux))
	t.Cleanup(iss.srv.Close)
	return iss
}

// URL returns the issuer URL, the iss of its tokens.
func (iss *Issuer) URL() string { return iss.srv.URL }

// JWKSURL returns the URL of the key set.
func (iss *Issuer) JWKSURL() string { return iss.srv.URL + "/jwks" }

// JWKSFetches counts the requests for the key set so far.
func (iss *Issuer) JWKSFetches() int {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	return iss.fetches
}

// SetDown makes every endpoint answer 503 (down) or serve again.
func (iss *Issuer) SetDown(down bool) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.down = down
}

// Rotate makes a new key, with a new kid, the signing key. With keepOld the
// JWKS serves the old keys too (a provider's overlap period); without, it
// serves only the new one, so tokens signed before stop verifying.
func (iss *Issuer) Rotate(keepOld bool) {
	k := iss.newKey()
	iss.mu.Lock()
	defer iss.mu.Unlock()
	if !keepOld {
		for i := range iss.keys {
			iss.keys[i].published = false
		}
	}
	iss.keys = append(iss.keys, k)
}

// KeyID returns the kid of the current signing key.
func (iss *Issuer) KeyID() string {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	return iss.keys[len(iss.keys)-1].kid
}

// Sign returns an RS256 JWT with the current key and claims, to which it
// adds iss, iat and exp (an hour on) unless claims has them; a nil value
// leaves that claim out.
func (iss *Issuer) Sign(claims map[string]any) string {
	iss.mu.Lock()
	k := iss.keys[len(iss.keys)-1]
	iss.mu.Unlock()
	return iss.sign(k.priv, k.kid, jose.RS256, claims)
}

// SignWith signs like Sign but names kid in the header, which the JWKS need
// not serve. The key is the current one, so only the kid is wrong.
func (iss *Issuer) SignWith(kid string, claims map[string]any) string {
	iss.mu.Lock()
	k := iss.keys[len(iss.keys)-1]
	iss.mu.Unlock()
	return iss.sign(k.priv, kid, jose.RS256, claims)
}

// SignNone returns an unsigned token (alg "none", empty signature).
func (iss *Issuer) SignNone(claims map[string]any) string {
	enc := base64.RawURLEncoding.EncodeToString
	header, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT"})
	payload, err := json.Marshal(iss.fill(claims))
	if err != nil {
		iss.t.Fatalf("oidctest: marshal claims: %v", err)
	}
	return enc(header) + "." + enc(payload) + "."
}

// SignHS256WithPublicKey returns a token signed with HS256, the secret
// being the current public key in PEM, and naming its kid: the
// algorithm-confusion attack on verifiers that let the token pick alg.
func (iss *Issuer) SignHS256WithPublicKey(claims map[string]any) string {
	iss.mu.Lock()
	k := iss.keys[len(iss.keys)-1]
	iss.mu.Unlock()
	der, err := x509.MarshalPKIXPublicKey(&k.priv.PublicKey)
	if err != nil {
		iss.t.Fatalf("oidctest: marshal public key: %v", err)
	}
	secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	return iss.sign(secret, k.kid, jose.HS256, claims)
}

// RegisterClient lets clientID use the authorization flow with exactly
// redirectURI.
func (iss *Issuer) RegisterClient(clientID, redirectURI string) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.clients[clientID] = redirectURI
}

// SetLogin sets the claims (sub, org_id, ...) that /authorize approves
// without asking; nil makes it refuse.
func (iss *Issuer) SetLogin(claims map[string]any) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.login = maps.Clone(claims)
}

func (iss *Issuer) newKey() signingKey {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		iss.t.Fatalf("oidctest: generate key: %v", err)
	}
	return signingKey{kid: randomString(8), priv: priv, published: true}
}

// fill copies claims and adds iss, iat and exp where absent, then drops
// the claims set to nil.
func (iss *Issuer) fill(claims map[string]any) map[string]any {
	c := maps.Clone(claims)
	if c == nil {
		c = map[string]any{}
	}
	now := time.Now()
	defaults := map[string]any{"iss": iss.URL(), "iat": now.Unix(), "exp": now.Add(tokenTTL).Unix()}
	for k, v := range defaults {
		if _, ok := c[k]; !ok {
			c[k] = v
		}
	}
	maps.DeleteFunc(c, func(_ string, v any) bool { return v == nil })
	return c
}

func (iss *Issuer) sign(key any, kid string, alg jose.SignatureAlgorithm, claims map[string]any) string {
	payload, err := json.Marshal(iss.fill(claims))
	if err != nil {
		iss.t.Fatalf("oidctest: marshal claims: %v", err)
	}
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), kid)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		iss.t.Fatalf("oidctest: signer: %v", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		iss.t.Fatalf("oidctest: sign: %v", err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		iss.t.Fatalf("oidctest: serialize: %v", err)
	}
	return s
}

func (iss *Issuer) unlessDown(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		iss.mu.Lock()
		down := iss.down
		iss.mu.Unlock()
		if down {
			http.Error(w, "down for the test", http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (iss *Issuer) handleDiscovery(w http.ResponseWriter, _ *http.Request) {
	u := iss.URL()
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                u,
		"jwks_uri":                              u + "/jwks",
		"authorization_endpoint":                u + "/authorize",
		"token_endpoint":                        u + "/token",
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"authorization_code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"none"},
		"scopes_supported":                      []string{"openid", "profile", "email"},
	})
}

func (iss *Issuer) handleJWKS(w http.ResponseWriter, _ *http.Request) {
	iss.mu.Lock()
	iss.fetches++
	var set jose.JSONWebKeySet
	for _, k := range iss.keys {
		if k.published {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.priv.PublicKey, KeyID: k.kid, Algorithm: string(jose.RS256), Use: "sig"})
		}
	}
	iss.mu.Unlock()
	writeJSON(w, http.StatusOK, set)
}

// handleAuthorize approves the SetLogin claims at once and redirects back
// with a one-time code. Errors are shown, not redirected, as OAuth asks
// when the client or redirect URI is in doubt.
func (iss *Issuer) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	clientID, redirectURI := q.Get("client_id"), q.Get("redirect_uri")
	iss.mu.Lock()
	registered, known := iss.clients[clientID]
	login := maps.Clone(iss.login)
	iss.mu.Unlock()
	switch {
	case !known:
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	case redirectURI != registered:
		http.Error(w, "redirect_uri is not the registered one", http.StatusBadRequest)
		return
	case q.Get("response_type") != "code":
		http.Error(w, "response_type must be code", http.StatusBadRequest)
		return
	case q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256":
		http.Error(w, "PKCE with code_challenge_method=S256 is required", http.StatusBadRequest)
		return
	case login == nil:
		http.Error(w, "no login set (oidctest.Issuer.SetLogin)", http.StatusForbidden)
		return
	}
	code := randomString(16)
	iss.mu.Lock()
	iss.codes[code] = grant{clientID: clientID, redirectURI: redirectURI, challenge: q.Get("code_challenge"), nonce: q.Get("nonce"), claims: login}
	iss.mu.Unlock()
	back, err := url.Parse(redirectURI)
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	bq := back.Query()
	bq.Set("code", code)
	if s := q.Get("state"); s != "" {
		bq.Set("state", s)
	}
	back.RawQuery = bq.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// handleToken exchanges a code once, for a client proving PKCE; a failed
// exchange spends the code too.
func (iss *Issuer) handleToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	if r.PostForm.Get("grant_type") != "authorization_code" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	// Clients send their id in the form or, as golang.org/x/oauth2 tries
	// first, as the user of HTTP Basic authentication (form-encoded).
	clientID := r.PostForm.Get("client_id")
	if user, _, ok := r.BasicAuth(); ok {
		clientID, _ = url.QueryUnescape(user)
	}
	code := r.PostForm.Get("code")
	iss.mu.Lock()
	g, ok := iss.codes[code]
	delete(iss.codes, code)
	iss.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if !ok || g.clientID != clientID || g.redirectURI != r.PostForm.Get("redirect_uri") ||
		base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
		return
	}
	idClaims := maps.Clone(g.claims)
	idClaims["aud"] = g.clientID
	if g.nonce != "" {
		idClaims["nonce"] = g.nonce
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": iss.Sign(g.claims),
		"id_token":     iss.Sign(idClaims),
		"token_type":   "Bearer",
		"expires_in":   int(tokenTTL.Seconds()),
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}
