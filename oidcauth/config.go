package oidcauth

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ragd/ragd/agents"
)

// The defaults of Config, and the bound on ClockSkew.
const (
	defaultOrgClaim        = "org_id"
	defaultRoleClaim       = "org_role"
	defaultRoleScopes      = "org:admin=*;org:member=agents:read,documents:read,search"
	defaultClockSkew       = 30 * time.Second
	defaultRefreshInterval = 10 * time.Second
	httpTimeout            = 10 * time.Second // also bounds each fetch, whatever the client
	maxClockSkew           = 5 * time.Minute  // more would make exp meaningless
)

// signingAlgs are the algorithms a token may be signed with: asymmetric ones
// only. "none" and HS* are refused even when configured, since with HS* the
// public key (which anyone can fetch) would serve as the HMAC secret.
var signingAlgs = []string{
	"RS256", "RS384", "RS512",
	"PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512",
	"EdDSA",
}

// Config says which issuer to trust and how a token's claims become a
// tenant and scopes. The zero value of each field but Issuer means its default.
type Config struct {
	// Issuer is the issuer URL, compared exactly with the iss claim
	// (RAGD_OIDC_ISSUER; required, and setting it enables OIDC). It must be
	// https, or http on a loopback host (tests and local development).
	Issuer string

	// Audience, when set, must be one of the token's aud values
	// (RAGD_OIDC_AUDIENCE). Empty: aud is not checked, since Clerk session
	// tokens carry azp and no aud; then set Issuer to an instance that
	// issues tokens for this service only.
	Audience string

	// AuthorizedParties, when set, must name the token's azp claim
	// (RAGD_OIDC_AUTHORIZED_PARTIES, a comma list; Clerk puts the origin of
	// the app that got the token there, and recommends this check). With
	// neither Audience nor AuthorizedParties, any client of the issuer
	// could present its tokens here.
	AuthorizedParties []string

	// JWKSURL is where the signing keys are served (RAGD_OIDC_JWKS_URL).
	// Empty: the jwks_uri of Issuer/.well-known/openid-configuration.
	JWKSURL string

	// Algorithms are the signature algorithms accepted
	// (RAGD_OIDC_ALGORITHMS, a comma list). Empty: the asymmetric ones of the
	// discovery document's id_token_signing_alg_values_supported, or RS256
	// when JWKSURL is set or discovery names none. "none" and HS* are
	// refused.
	Algorithms []string

	// OrgClaim names the claim holding the organization id, which becomes
	// Identity.OrgID (RAGD_OIDC_ORG_CLAIM, default "org_id"). A dotted path
	// reaches a nested claim: "o.id" for Clerk's v2 session tokens.
	OrgClaim string

	// RoleClaim names the claim holding the member's role in that
	// organization (RAGD_OIDC_ROLE_CLAIM, default "org_role"; dotted paths
	// as for OrgClaim: "o.rol" for Clerk v2, whose roles lack the "org:"
	// prefix, so RoleScopes must then name "admin" and "member").
	RoleClaim string

	// RoleScopes gives each role its scopes (RAGD_OIDC_ROLE_SCOPES, as
	// "role=scope,scope;role=*", where * means agents.AllScopes; default
	// "org:admin=*;org:member=agents:read,documents:read,search"). A role
	// not listed grants nothing.
	RoleScopes map[string][]agents.Scope

	// ClockSkew is allowed on exp and nbf (RAGD_OIDC_CLOCK_SKEW, a Go
	// duration, default 30s, at most 5m; "0s" in the environment
	// means none).
	ClockSkew time.Duration

	// RefreshInterval is the least time between two fetches of the key set,
	// and between two discovery attempts while the issuer is unreachable
	// (default 10s). Tokens naming an unknown key fetch the key set at most
	// this often.
	RefreshInterval time.Duration

	// HTTPClient fetches discovery and keys (default: a client with a 10s
	// timeout).
	HTTPClient *http.Client
}

// ConfigFromEnv reads the RAGD_OIDC_* variables documented on Config.
// enabled is false, with no error, when none of them is set; setting any of
// them without RAGD_OIDC_ISSUER is an error. The result has its defaults
// filled in and is validated as New would.
func ConfigFromEnv(getenv func(string) string) (c Config, enabled bool, err error) {
	vars := []string{"RAGD_OIDC_ISSUER", "RAGD_OIDC_AUDIENCE", "RAGD_OIDC_AUTHORIZED_PARTIES", "RAGD_OIDC_JWKS_URL", "RAGD_OIDC_ALGORITHMS",
		"RAGD_OIDC_ORG_CLAIM", "RAGD_OIDC_ROLE_CLAIM", "RAGD_OIDC_ROLE_SCOPES", "RAGD_OIDC_CLOCK_SKEW"}
	c.Issuer = strings.TrimSpace(getenv("RAGD_OIDC_ISSUER"))
	if c.Issuer == "" {
		for _, v := range vars[1:] {
			if getenv(v) != "" {
				return Config{}, false, fmt.Errorf("%s is set but RAGD_OIDC_ISSUER is not", v)
			}
		}
		return Config{}, false, nil
	}
	c.Audience = strings.TrimSpace(getenv("RAGD_OIDC_AUDIENCE"))
	for p := range strings.SplitSeq(getenv("RAGD_OIDC_AUTHORIZED_PARTIES"), ",") {
		if p = strings.TrimSpace(p); p != "" {
			c.AuthorizedParties = append(c.AuthorizedParties, p)
		}
	}
	c.JWKSURL = strings.TrimSpace(getenv("RAGD_OIDC_JWKS_URL"))
	if s := getenv("RAGD_OIDC_ALGORITHMS"); strings.TrimSpace(s) != "" {
		for a := range strings.SplitSeq(s, ",") {
			c.Algorithms = append(c.Algorithms, strings.TrimSpace(a))
		}
	}
	c.OrgClaim = strings.TrimSpace(getenv("RAGD_OIDC_ORG_CLAIM"))
	c.RoleClaim = strings.TrimSpace(getenv("RAGD_OIDC_ROLE_CLAIM"))
	if s := getenv("RAGD_OIDC_ROLE_SCOPES"); s != "" {
		if c.RoleScopes, err = parseRoleScopes(s); err != nil {
			return Config{}, false, fmt.Errorf("RAGD_OIDC_ROLE_SCOPES: %w", err)
		}
	}
	if s := getenv("RAGD_OIDC_CLOCK_SKEW"); s != "" {
		if c.ClockSkew, err = time.ParseDuration(s); err != nil {
			return Config{}, false, fmt.Errorf("RAGD_OIDC_CLOCK_SKEW: %w", err)
		}
		if c.ClockSkew == 0 {
			// Zero would read as "the default"; a nanosecond is as good as none.
			c.ClockSkew = time.Nanosecond
		}
	}
	c = c.withDefaults()
	if err := c.validate(); err != nil {
		return Config{}, false, err
	}
	return c, true, nil
}

// parseRoleScopes parses RAGD_OIDC_ROLE_SCOPES, "role=scope,scope;role=*". Roles may contain ':' ("org:admin"); each role appears once and
// names at least one known scope.
func parseRoleScopes(s string) (map[string][]agents.Scope, error) {
	m := make(map[string][]agents.Scope)
	for entry := range strings.SplitSeq(s, ";") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		role, list, ok := strings.Cut(entry, "=")
		role = strings.TrimSpace(role)
		if !ok || role == "" {
			return nil, fmt.Errorf("%q: want role=scope,scope", entry)
		}
		if _, dup := m[role]; dup {
			return nil, fmt.Errorf("role %q is listed twice", role)
		}
		var scopes []agents.Scope
		for sc := range strings.SplitSeq(list, ",") {
			sc = strings.TrimSpace(sc)
			switch {
			case sc == "*":
				scopes = append(scopes, agents.AllScopes...)
			case sc != "":
				scopes = append(scopes, agents.Scope(sc))
			}
		}
		if len(scopes) == 0 {
			return nil, fmt.Errorf("role %q names no scopes (leave a role out to grant it none)", role)
		}
		m[role] = scopes
	}
	if len(m) == 0 {
		return nil, errors.New("no roles")
	}
	return m, nil
}

func (c Config) withDefaults() Config {
	c.OrgClaim = cmp.Or(c.OrgClaim, defaultOrgClaim)
	c.RoleClaim = cmp.Or(c.RoleClaim, defaultRoleClaim)
	if c.RoleScopes == nil {
		c.RoleScopes, _ = parseRoleScopes(defaultRoleScopes)
	}
	c.ClockSkew = cmp.Or(c.ClockSkew, defaultClockSkew)
	c.RefreshInterval = cmp.Or(c.RefreshInterval, defaultRefreshInterval)
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: httpTimeout}
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if err := checkURL(c.Issuer); err != nil {
		errs = append(errs, fmt.Errorf("issuer: %w", err))
	}
	if c.JWKSURL != "" {
		if err := checkURL(c.JWKSURL); err != nil {
			errs = append(errs, fmt.Errorf("JWKS URL: %w", err))
		}
	}
	for _, a := range c.Algorithms {
		if !slices.Contains(signingAlgs, a) {
			errs = append(errs, fmt.Errorf("algorithm %q is not accepted; use some of %s", a, strings.Join(signingAlgs, ",")))
		}
	}
	for _, p := range []string{c.OrgClaim, c.RoleClaim} {
		if slices.Contains(strings.Split(p, "."), "") {
			errs = append(errs, fmt.Errorf("claim path %q has an empty part", p))
		}
	}
	for role, scopes := range c.RoleScopes {
		for _, s := range scopes {
			if !slices.Contains(agents.AllScopes, s) {
				errs = append(errs, fmt.Errorf("role %q: unknown scope %q", role, s))
			}
		}
	}
	if c.ClockSkew < 0 || c.ClockSkew > maxClockSkew {
		errs = append(errs, fmt.Errorf("clock skew %v is outside 0 to %v", c.ClockSkew, maxClockSkew))
	}
	if c.RefreshInterval < 0 {
		errs = append(errs, fmt.Errorf("refresh interval %v is negative", c.RefreshInterval))
	}
	return errors.Join(errs...)
}

// checkURL accepts https URLs, and http ones on a loopback host.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	switch {
	case u.Host == "":
		return fmt.Errorf("%q is not an absolute URL", s)
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	}
	return fmt.Errorf("%q: want https (or http on a loopback host)", s)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
