package oidcauth

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/ragd/ragd/agents"
)

// MaxTokenBytes bounds a token's length; longer ones are refused unparsed.
const MaxTokenBytes = 16 << 10

// The errors Verify returns wrap one of these, with a short reason meant for
// logs, not for the client.
var (
	// ErrInvalidToken: malformed, badly signed, of a refused algorithm, or
	// failing the iss, aud, exp or nbf checks (answer 401).
	ErrInvalidToken = errors.New("invalid token")
	// ErrNoOrganization: a valid token without the organization claim, as
	// when a user has no active organization (answer 403).
	ErrNoOrganization = errors.New("token names no organization")
	// ErrNoScopes: a valid token whose role is missing or grants no scopes
	// (answer 403).
	ErrNoScopes = errors.New("token's role grants no scopes")
	// ErrUnavailable: the issuer's discovery document or keys could not be
	// fetched, so the token could not be checked (answer 503).
	ErrUnavailable = errors.New("identity provider unavailable")
)

// Identity is what a verified token says about its bearer.
type Identity struct {
	Subject string         // sub
	OrgID   string         // the Config.OrgClaim claim
	Role    string         // the Config.RoleClaim claim
	Scopes  []agents.Scope // Config.RoleScopes[Role], sorted
	Expiry  time.Time      // exp
}

// Verifier checks bearer tokens from one issuer. It is safe for concurrent
// use.
type Verifier struct {
	cfg Config
	iv  atomic.Pointer[oidc.IDTokenVerifier] // nil until discovery succeeds

	// sem admits one discovery attempt at a time and guards the fields below.
	sem     chan struct{}
	lastTry time.Time
	lastErr error
}

// New validates c, fills in its defaults and returns a Verifier. Without
// c.JWKSURL it tries discovery once under ctx, but an unreachable issuer is
// not an error: Verify retries discovery (at most once per
// c.RefreshInterval) and until it succeeds fails with ErrUnavailable.
func New(ctx context.Context, c Config) (*Verifier, error) {
	c = c.withDefaults()
	c.Algorithms = slices.Clone(c.Algorithms)
	c.RoleScopes = maps.Clone(c.RoleScopes)
	for role, scopes := range c.RoleScopes {
		c.RoleScopes[role] = slices.Clone(scopes)
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("oidc config: %w", err)
	}
	v := &Verifier{cfg: c, sem: make(chan struct{}, 1)}
	if c.JWKSURL != "" {
		v.iv.Store(v.newIDTokenVerifier(c.JWKSURL, c.Algorithms))
		return v, nil
	}
	dctx, cancel := context.WithTimeout(ctx, httpTimeout)
	defer cancel()
	v.sem <- struct{}{}
	_, _ = v.discover(dctx)
	<-v.sem
	return v, nil
}

// Verify checks raw (without "Bearer ") and returns its bearer's Identity.
// Errors wrap ErrInvalidToken, ErrNoOrganization, ErrNoScopes or
// ErrUnavailable. With ErrNoOrganization and ErrNoScopes the token itself
// is valid, and the Identity holds what it carries, for logging.
func (v *Verifier) Verify(ctx context.Context, raw string) (Identity, error) {
	if len(raw) > MaxTokenBytes {
		return Identity{}, fmt.Errorf("%w: over %d bytes", ErrInvalidToken, MaxTokenBytes)
	}
	if !LooksLikeJWT(raw) {
		return Identity{}, fmt.Errorf("%w: not a compact JWS", ErrInvalidToken)
	}
	iv, err := v.idTokenVerifier(ctx)
	if err != nil {
		return Identity{}, err
	}
	var sigErr error
	tok, err := iv.Verify(context.WithValue(ctx, sigErrKey{}, &sigErr), raw)
	if err != nil {
		var expired *oidc.TokenExpiredError
		switch {
		case sigErr != nil:
			return Identity{}, sigErr
		case errors.As(err, &expired):
			return Identity{}, fmt.Errorf("%w: expired at %s", ErrInvalidToken, expired.Expiry.UTC().Format(time.RFC3339))
		}
		return Identity{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return Identity{}, fmt.Errorf("%w: claims: %v", ErrInvalidToken, err)
	}
	// go-oidc allows nbf five minutes early, whatever the config says.
	if nbf, ok := claims["nbf"]; ok {
		n, isNum := nbf.(float64)
		if !isNum {
			return Identity{}, fmt.Errorf("%w: nbf is not a number", ErrInvalidToken)
		}
		// Compared as floats: int64(1e300) would be far in the past.
		if n > float64(time.Now().Add(v.cfg.ClockSkew).Unix()) {
			return Identity{}, fmt.Errorf("%w: not valid before %.0f", ErrInvalidToken, n)
		}
	}
	if len(v.cfg.AuthorizedParties) > 0 {
		azp, _ := claims["azp"].(string)
		if !slices.Contains(v.cfg.AuthorizedParties, azp) {
			return Identity{}, fmt.Errorf("%w: azp %q is not an authorized party", ErrInvalidToken, azp)
		}
	}
	id, err := v.Identify(claims)
	id.Expiry = tok.Expiry
	return id, err
}

// Identify reads the bearer's Identity from claims whose token is already
// verified (by Verify, or by the console's sign-in, which checks an ID
// token's audience and nonce itself): the subject, the organisation and
// role claims, and the role's scopes. It fails as Verify does, with
// ErrInvalidToken (no subject), ErrNoOrganization or ErrNoScopes.
func (v *Verifier) Identify(claims map[string]any) (Identity, error) {
	c := v.cfg
	var id Identity
	id.Subject, _ = claims["sub"].(string)
	if id.Subject == "" {
		return Identity{}, fmt.Errorf("%w: no subject", ErrInvalidToken)
	}
	id.OrgID, _ = lookup(claims, c.OrgClaim).(string)
	id.Role, _ = lookup(claims, c.RoleClaim).(string)
	if id.OrgID == "" {
		return id, fmt.Errorf("%w: no string claim %q", ErrNoOrganization, c.OrgClaim)
	}
	if id.Role == "" {
		return id, fmt.Errorf("%w: no string claim %q", ErrNoScopes, c.RoleClaim)
	}
	scopes := c.RoleScopes[id.Role]
	if len(scopes) == 0 {
		return id, fmt.Errorf("%w: role %q is not configured", ErrNoScopes, id.Role)
	}
	id.Scopes = slices.Compact(slices.Sorted(slices.Values(scopes)))
	return id, nil
}

// lookup follows a dotted path through nested JSON objects; nil if absent.
func lookup(claims map[string]any, path string) any {
	var cur any = claims
	for part := range strings.SplitSeq(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = obj[part]
	}
	return cur
}

// LooksLikeJWT reports whether token has the shape of a compact JWS: three
// dot-separated base64url parts, the last of which may be empty (an unsigned
// token, which Verify refuses). API keys (agents.KeyPrefix) never do.
func LooksLikeJWT(token string) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return false
	}
	for _, p := range parts {
		for i := 0; i < len(p); i++ {
			c := p[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// idTokenVerifier returns the go-oidc verifier, discovering the issuer
// first if that has not yet succeeded.
func (v *Verifier) idTokenVerifier(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	if iv := v.iv.Load(); iv != nil {
		return iv, nil
	}
	select {
	case v.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	}
	defer func() { <-v.sem }()
	if iv := v.iv.Load(); iv != nil {
		return iv, nil
	}
	if time.Since(v.lastTry) < v.cfg.RefreshInterval {
		return nil, v.lastErr
	}
	// The attempt's outcome holds for every caller until the next one, so
	// this caller's cancellation must not decide it.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), httpTimeout)
	defer cancel()
	return v.discover(dctx)
}

// discover fetches the discovery document; v.sem must be held.
func (v *Verifier) discover(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	v.lastTry = time.Now()
	iv, err := v.tryDiscover(ctx)
	if err != nil {
		v.lastErr = fmt.Errorf("%w: discovery: %w", ErrUnavailable, err)
		return nil, v.lastErr
	}
	v.iv.Store(iv)
	return iv, nil
}

func (v *Verifier) tryDiscover(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, v.cfg.HTTPClient), v.cfg.Issuer)
	if err != nil {
		return nil, err
	}
	var doc struct {
		JWKSURL    string   `json:"jwks_uri"`
		Algorithms []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := p.Claims(&doc); err != nil {
		return nil, err
	}
	if err := checkURL(doc.JWKSURL); err != nil {
		return nil, fmt.Errorf("jwks_uri: %w", err)
	}
	algs := v.cfg.Algorithms
	if len(algs) == 0 {
		for _, a := range doc.Algorithms {
			if slices.Contains(signingAlgs, a) {
				algs = append(algs, a)
			}
		}
	}
	return v.newIDTokenVerifier(doc.JWKSURL, algs), nil
}

func (v *Verifier) newIDTokenVerifier(jwksURL string, algs []string) *oidc.IDTokenVerifier {
	if len(algs) == 0 {
		algs = []string{oidc.RS256}
	}
	skew := v.cfg.ClockSkew
	ks := newKeySet(jwksURL, v.cfg.HTTPClient, algs, v.cfg.RefreshInterval)
	return oidc.NewVerifier(v.cfg.Issuer, ks, &oidc.Config{
		ClientID:             v.cfg.Audience,
		SkipClientIDCheck:    v.cfg.Audience == "",
		SupportedSigningAlgs: algs,
		// go-oidc allows no skew on exp: move its clock back by ours.
		Now: func() time.Time { return time.Now().Add(-skew) },
	})
}
