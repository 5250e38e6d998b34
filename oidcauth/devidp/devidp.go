// Package devidp is an OpenID Connect issuer for development and tests: a
// discovery document, a JWKS, and an authorization-code flow with PKCE
// that approves whoever SetLogin names or, without one, whoever signs in
// on its form (any user id, organisation and role: there are no
// passwords). Its tokens are RS256, 2048-bit keys made at start and kept
// in memory. `ragd dev-idp` serves one (never with RAGD_ENV=production);
// package oidctest starts one per test.
package devidp

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Issuer is an issuer; Handler serves it at URL. Its methods are safe for
// concurrent use.
type Issuer struct {
	url  string
	fail func(format string, args ...any) // a signing failure: a bug

	mu      sync.Mutex
	keys    []signingKey // keys[len-1] signs; the JWKS serves published ones
	down    bool
	clients map[string]string // client id -> redirect URI
	login   map[string]any
	codes   map[string]grant
	fetches int
	form    bool // EnableSignInForm
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

// New makes an issuer whose URL (the iss of its tokens) is url, with one
// key; fail reports a failure to sign, which only a bug causes (nil:
// panic).
func New(url string, fail func(format string, args ...any)) *Issuer {
	if fail == nil {
		fail = func(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
	}
	iss := &Issuer{url: url, fail: fail, clients: map[string]string{}, codes: map[string]grant{}}
	iss.keys = []signingKey{iss.newKey()}
	return iss
}

// Handler serves the issuer: discovery, the JWKS, /authorize (and its
// sign-in form) and /token.
func (iss *Issuer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", iss.handleDiscovery)
	mux.HandleFunc("GET /jwks", iss.handleJWKS)
	mux.HandleFunc("GET /authorize", iss.handleAuthorize)
	mux.HandleFunc("POST /authorize", iss.handleSignIn)
	mux.HandleFunc("POST /token", iss.handleToken)
	return iss.unlessDown(mux)
}

// SetURL sets the issuer's URL, once its server listens.
func (iss *Issuer) SetURL(url string) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.url = url
}

// URL returns the issuer URL, the iss of its tokens.
func (iss *Issuer) URL() string {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	return iss.url
}

// JWKSURL returns the URL of the key set.
func (iss *Issuer) JWKSURL() string { return iss.URL() + "/jwks" }

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
		iss.fail("devidp: marshal claims: %v", err)
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
		iss.fail("devidp: marshal public key: %v", err)
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
		iss.fail("devidp: generate key: %v", err)
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
		iss.fail("devidp: marshal claims: %v", err)
	}
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), kid)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		iss.fail("devidp: signer: %v", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		iss.fail("devidp: sign: %v", err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		iss.fail("devidp: serialize: %v", err)
	}
	return s
}

func (iss *Issuer) unlessDown(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		iss.mu.Lock()
		down := iss.down
		iss.mu.Unlock()
		if down {
			http.Error(w, "down (SetDown)", http.StatusServiceUnavailable)
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
// with a one-time code; without them it shows the sign-in form (when
// EnableSignInForm was called) or refuses. Errors are shown, not
// redirected, as OAuth asks when the client or redirect URI is in doubt.
func (iss *Issuer) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !iss.validAuthorize(w, q) {
		return
	}
	iss.mu.Lock()
	login, form := maps.Clone(iss.login), iss.form
	iss.mu.Unlock()
	switch {
	case login != nil:
		iss.redirectWithCode(w, r, q, login)
	case form:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := signInForm.Execute(w, q); err != nil {
			http.Error(w, "the sign-in form: "+err.Error(), http.StatusInternalServerError)
		}
	default:
		http.Error(w, "no login set (SetLogin)", http.StatusForbidden)
	}
}

// handleSignIn takes the sign-in form: the authorization request again
// (its hidden fields) and who signs in.
func (iss *Issuer) handleSignIn(w http.ResponseWriter, r *http.Request) {
	iss.mu.Lock()
	form := iss.form
	iss.mu.Unlock()
	if !form {
		http.Error(w, "no sign-in form here", http.StatusNotFound)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "the form could not be read", http.StatusBadRequest)
		return
	}
	q := r.PostForm
	if !iss.validAuthorize(w, q) {
		return
	}
	claims := map[string]any{}
	for _, f := range []string{"sub", "email", "name", "org_id", "org_role"} {
		if v := strings.TrimSpace(q.Get(f)); v != "" {
			claims[f] = v
		}
	}
	if claims["sub"] == nil {
		http.Error(w, "a user id (sub) is required", http.StatusBadRequest)
		return
	}
	iss.redirectWithCode(w, r, q, claims)
}

// validAuthorize checks an authorization request's client, redirect URI,
// response type and PKCE, and answers when they are wrong.
func (iss *Issuer) validAuthorize(w http.ResponseWriter, q url.Values) bool {
	clientID, redirectURI := q.Get("client_id"), q.Get("redirect_uri")
	iss.mu.Lock()
	registered, known := iss.clients[clientID]
	iss.mu.Unlock()
	switch {
	case !known:
		http.Error(w, "unknown client_id", http.StatusBadRequest)
	case redirectURI != registered:
		http.Error(w, "redirect_uri is not the registered one", http.StatusBadRequest)
	case q.Get("response_type") != "code":
		http.Error(w, "response_type must be code", http.StatusBadRequest)
	case q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256":
		http.Error(w, "PKCE with code_challenge_method=S256 is required", http.StatusBadRequest)
	default:
		return true
	}
	return false
}

// redirectWithCode grants claims a one-time code and sends the browser
// back to the client with it.
func (iss *Issuer) redirectWithCode(w http.ResponseWriter, r *http.Request, q url.Values, claims map[string]any) {
	redirectURI := q.Get("redirect_uri")
	back, err := url.Parse(redirectURI)
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	code := randomString(16)
	iss.mu.Lock()
	iss.codes[code] = grant{clientID: q.Get("client_id"), redirectURI: redirectURI, challenge: q.Get("code_challenge"), nonce: q.Get("nonce"), claims: claims}
	iss.mu.Unlock()
	bq := back.Query()
	bq.Set("code", code)
	if s := q.Get("state"); s != "" {
		bq.Set("state", s)
	}
	back.RawQuery = bq.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// EnableSignInForm makes /authorize, without a SetLogin, ask who signs in
// instead of refusing.
func (iss *Issuer) EnableSignInForm() {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.form = true
}

// signInForm asks for the claims of whoever signs in, carrying the
// authorization request in hidden fields.
var signInForm = template.Must(template.New("signin").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in: ragd development identity provider</title>
<style>body{font:16px system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem}label{display:block;margin:.8rem 0 .2rem}input,select{width:100%;padding:.4rem;font:inherit;box-sizing:border-box}button{margin-top:1.2rem;padding:.5rem 1rem;font:inherit}</style>
</head><body><main>
<h1>Sign in</h1>
<p>The development identity provider of ragd: anyone may be anyone here. Never use it in production.</p>
<form method="post" action="/authorize">
{{range $k, $v := .}}{{if not (or (eq $k "sub") (eq $k "email") (eq $k "name") (eq $k "org_id") (eq $k "org_role"))}}<input type="hidden" name="{{$k}}" value="{{index $v 0}}">
{{end}}{{end}}<label for="sub">User id</label><input id="sub" name="sub" value="user_dev" required>
<label for="email">E-mail</label><input id="email" name="email" type="email" value="dev@example.com">
<label for="org_id">Organisation id (a tenant's clerk_org_id)</label><input id="org_id" name="org_id" value="org_demo_acme">
<label for="org_role">Role</label><select id="org_role" name="org_role"><option>org:admin</option><option>org:member</option></select>
<button type="submit">Sign in</button>
</form></main></body></html>
`))

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
