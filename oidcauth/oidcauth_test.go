package oidcauth_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/oidcauth"
	"github.com/ragd/ragd/oidcauth/oidctest"
)

type testBundle struct {
	iss *oidctest.Issuer
	v   *oidcauth.Verifier
}

// setup starts an issuer and a Verifier discovering it, with a refresh
// interval short enough that tests never wait for it, unless cfg changes it.
func setup(t *testing.T, cfg func(*oidcauth.Config)) testBundle {
	t.Helper()
	iss := oidctest.New(t)
	c := oidcauth.Config{Issuer: iss.URL(), RefreshInterval: time.Nanosecond}
	if cfg != nil {
		cfg(&c)
	}
	return testBundle{iss: iss, v: mustNew(t, c)}
}

func mustNew(t *testing.T, c oidcauth.Config) *oidcauth.Verifier {
	t.Helper()
	v, err := oidcauth.New(t.Context(), c)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

// admin returns the claims of an organization admin, with changes.
func admin(changes map[string]any) map[string]any {
	c := map[string]any{"sub": "user_1", "org_id": "org_1", "org_role": "org:admin"}
	for k, v := range changes {
		c[k] = v
	}
	return c
}

// claimCase is a change to admin's claims and whether Verify accepts it
// (or refuses it as ErrInvalidToken).
type claimCase struct {
	name   string
	claims map[string]any
	ok     bool
}

func (b testBundle) runClaimCases(t *testing.T, cases []claimCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := b.v.Verify(t.Context(), b.iss.Sign(admin(tc.claims)))
			if tc.ok && err != nil {
				t.Fatal(err)
			}
			if !tc.ok {
				wantErr(t, err, oidcauth.ErrInvalidToken)
			}
		})
	}
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()

	t.Run("AcceptsValidToken", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		exp := time.Now().Add(time.Hour).Truncate(time.Second)
		id, err := b.v.Verify(t.Context(), b.iss.Sign(admin(map[string]any{"exp": exp.Unix()})))
		if err != nil {
			t.Fatal(err)
		}
		want := slices.Sorted(slices.Values(agents.AllScopes))
		if id.Subject != "user_1" || id.OrgID != "org_1" || id.Role != "org:admin" || !slices.Equal(id.Scopes, want) || !id.Expiry.Equal(exp) {
			t.Fatalf("identity = %+v", id)
		}
	})

	t.Run("ClaimChecks", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil) // ClockSkew: the default 30s
		now := time.Now()
		b.runClaimCases(t, []claimCase{
			{"RefusesExpired", map[string]any{"exp": now.Add(-2 * time.Minute).Unix()}, false},
			{"AcceptsExpiredWithinSkew", map[string]any{"exp": now.Add(-10 * time.Second).Unix()}, true},
			{"RefusesMissingExp", map[string]any{"exp": nil}, false},
			{"RefusesNotYetValid", map[string]any{"nbf": now.Add(2 * time.Minute).Unix()}, false},
			{"AcceptsNotYetValidWithinSkew", map[string]any{"nbf": now.Add(10 * time.Second).Unix()}, true},
			{"RefusesNonNumericNbf", map[string]any{"nbf": "soon"}, false},
			{"RefusesHugeNbf", map[string]any{"nbf": 1e300}, false},
			{"RefusesHugeExp", map[string]any{"exp": -1e300}, false},
			{"RefusesWrongIssuer", map[string]any{"iss": "https://evil.example"}, false},
			{"RefusesMissingSubject", map[string]any{"sub": nil}, false},
		})
	})

	t.Run("Audience", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *oidcauth.Config) { c.Audience = "ragd" })
		b.runClaimCases(t, []claimCase{
			{"AcceptsSame", map[string]any{"aud": "ragd"}, true},
			{"AcceptsOneOfMany", map[string]any{"aud": []string{"other", "ragd"}}, true},
			{"RefusesWrong", map[string]any{"aud": "other"}, false},
			{"RefusesMissing", map[string]any{"aud": nil}, false},
		})
	})

	t.Run("AuthorizedParties", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *oidcauth.Config) {
			c.AuthorizedParties = []string{"https://app.example", "https://admin.example"}
		})
		b.runClaimCases(t, []claimCase{
			{"AcceptsListed", map[string]any{"azp": "https://admin.example"}, true},
			{"RefusesUnlisted", map[string]any{"azp": "https://evil.example"}, false},
			{"RefusesMissing", map[string]any{"azp": nil}, false},
			{"RefusesNonString", map[string]any{"azp": []string{"https://app.example"}}, false},
		})
	})

	t.Run("IgnoresAudienceWhenNotConfigured", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		if _, err := b.v.Verify(t.Context(), b.iss.Sign(admin(map[string]any{"aud": "anyone", "azp": "https://app.example"}))); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("RefusesUnsignedToken", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		_, err := b.v.Verify(t.Context(), b.iss.SignNone(admin(nil)))
		wantErr(t, err, oidcauth.ErrInvalidToken)
	})

	t.Run("RefusesHS256SignedWithPublicKey", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		if _, err := b.v.Verify(t.Context(), b.iss.Sign(admin(nil))); err != nil {
			t.Fatal(err) // the key is cached: the attack names a known kid
		}
		_, err := b.v.Verify(t.Context(), b.iss.SignHS256WithPublicKey(admin(nil)))
		wantErr(t, err, oidcauth.ErrInvalidToken)
	})

	t.Run("RefusesAlgorithmNotConfigured", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *oidcauth.Config) { c.Algorithms = []string{"ES256"} })
		_, err := b.v.Verify(t.Context(), b.iss.Sign(admin(nil)))
		wantErr(t, err, oidcauth.ErrInvalidToken)
	})

	t.Run("NoOrganization", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		id, err := b.v.Verify(t.Context(), b.iss.Sign(admin(map[string]any{"org_id": nil})))
		wantErr(t, err, oidcauth.ErrNoOrganization)
		if id.Subject != "user_1" || id.Scopes != nil {
			t.Fatalf("identity = %+v, want the subject and no scopes", id)
		}
	})

	t.Run("MemberGetsReadAndSearch", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		id, err := b.v.Verify(t.Context(), b.iss.Sign(admin(map[string]any{"org_role": "org:member"})))
		if err != nil {
			t.Fatal(err)
		}
		want := []agents.Scope{agents.ScopeAgentsRead, agents.ScopeDocumentsRead, agents.ScopeSearch}
		if !slices.Equal(id.Scopes, want) {
			t.Fatalf("scopes = %v, want %v", id.Scopes, want)
		}
	})

	t.Run("NoScopes", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		for name, role := range map[string]any{"UnknownRole": "org:guest", "MissingRole": nil, "NonStringRole": 7} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				id, err := b.v.Verify(t.Context(), b.iss.Sign(admin(map[string]any{"org_role": role})))
				wantErr(t, err, oidcauth.ErrNoScopes)
				if id.OrgID != "org_1" || len(id.Scopes) != 0 {
					t.Fatalf("identity = %+v", id)
				}
			})
		}
	})

	t.Run("NestedClaims", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *oidcauth.Config) {
			c.OrgClaim, c.RoleClaim = "o.id", "o.rol"
			c.RoleScopes = map[string][]agents.Scope{"admin": agents.AllScopes, "member": {agents.ScopeSearch}}
		})
		id, err := b.v.Verify(t.Context(), b.iss.Sign(map[string]any{"sub": "user_2", "v": 2, "o": map[string]any{"id": "org_2", "rol": "member", "slg": "acme"}}))
		if err != nil {
			t.Fatal(err)
		}
		if id.OrgID != "org_2" || id.Role != "member" || !slices.Equal(id.Scopes, []agents.Scope{agents.ScopeSearch}) {
			t.Fatalf("identity = %+v", id)
		}
		_, err = b.v.Verify(t.Context(), b.iss.Sign(map[string]any{"sub": "user_2", "o": "org_2"}))
		wantErr(t, err, oidcauth.ErrNoOrganization)
	})

	t.Run("Malformed", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		valid := b.iss.Sign(admin(nil))
		parts := strings.Split(valid, ".")
		for name, raw := range map[string]string{
			"Empty":          "",
			"TwoSegments":    parts[0] + "." + parts[1],
			"FourSegments":   valid + ".e30",
			"NotBase64":      "!!!.@@@.###",
			"GarbageBase64":  "abc.def.ghi",
			"JSONNotJWS":     `{"payload":"e30","signatures":[]}`,
			"BadSignature":   valid[:len(valid)-4] + "AAAA",
			"Huge":           valid + strings.Repeat("A", 1<<20),
			"BearerPrefixed": "Bearer " + valid,
		} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				_, err := b.v.Verify(t.Context(), raw)
				wantErr(t, err, oidcauth.ErrInvalidToken)
			})
		}
	})
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()

	t.Run("FetchesNewKeyAndDropsRemovedOne", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		old := b.iss.Sign(admin(nil))
		if _, err := b.v.Verify(t.Context(), old); err != nil {
			t.Fatal(err)
		}
		b.iss.Rotate(false)
		if _, err := b.v.Verify(t.Context(), b.iss.Sign(admin(nil))); err != nil {
			t.Fatalf("token signed with the new key: %v", err)
		}
		_, err := b.v.Verify(t.Context(), old)
		wantErr(t, err, oidcauth.ErrInvalidToken)
		if n := b.iss.JWKSFetches(); n != 3 {
			t.Fatalf("JWKS fetches = %d, want 3 (first token, new kid, removed kid)", n)
		}
	})

	t.Run("KeepsOldKeyWhileServed", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		old := b.iss.Sign(admin(nil))
		b.iss.Rotate(true)
		for _, raw := range []string{b.iss.Sign(admin(nil)), old} {
			if _, err := b.v.Verify(t.Context(), raw); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("FloodOfUnknownKidsFetchesOncePerInterval", func(t *testing.T) {
		t.Parallel()
		const interval = 50 * time.Millisecond
		b := setup(t, func(c *oidcauth.Config) { c.RefreshInterval = interval })
		if _, err := b.v.Verify(t.Context(), b.iss.Sign(admin(nil))); err != nil {
			t.Fatal(err)
		}
		// Tokens are signed before the clock starts: signing is slow under -race.
		tokens := make([]string, 50)
		for i := range tokens {
			tokens[i] = b.iss.SignWith("random-"+string(rune('a'+i%26))+time.Now().Format("150405.000000000"), admin(nil))
		}
		start, before := time.Now(), b.iss.JWKSFetches()
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for round := 0; time.Since(start) < 6*interval; round++ {
					_, err := b.v.Verify(context.Background(), tokens[round%len(tokens)])
					if !errors.Is(err, oidcauth.ErrInvalidToken) {
						t.Errorf("err = %v, want ErrInvalidToken", err)
						return
					}
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		fetches := b.iss.JWKSFetches() - before
		t.Logf("%d JWKS fetches in %v", fetches, elapsed)
		if limit := int(elapsed/interval) + 1; fetches > limit || fetches < 1 {
			t.Fatalf("%d JWKS fetches in %v with an interval of %v, want 1 to %d", fetches, elapsed, interval, limit)
		}
	})

	t.Run("ConcurrentUnknownKidsShareOneFetch", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *oidcauth.Config) { c.RefreshInterval = time.Hour })
		raw := b.iss.Sign(admin(nil))
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				if _, err := b.v.Verify(context.Background(), raw); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		for i := range 32 {
			_, err := b.v.Verify(t.Context(), b.iss.SignWith(strings.Repeat("x", i+1), admin(nil)))
			wantErr(t, err, oidcauth.ErrInvalidToken)
		}
		if n := b.iss.JWKSFetches(); n != 1 {
			t.Fatalf("JWKS fetches = %d, want 1", n)
		}
	})
}

func TestAvailability(t *testing.T) {
	t.Parallel()

	t.Run("RecoversWhenIssuerIsBack", func(t *testing.T) {
		t.Parallel()
		for name, withJWKSURL := range map[string]bool{"Discovery": false, "KeySet": true} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				iss := oidctest.New(t)
				iss.SetDown(true)
				c := oidcauth.Config{Issuer: iss.URL(), RefreshInterval: time.Nanosecond}
				if withJWKSURL {
					c.JWKSURL = iss.JWKSURL()
				}
				v := mustNew(t, c) // New succeeds with the issuer down
				raw := iss.Sign(admin(nil))
				_, err := v.Verify(t.Context(), raw)
				wantErr(t, err, oidcauth.ErrUnavailable)
				iss.SetDown(false)
				if _, err := v.Verify(t.Context(), raw); err != nil {
					t.Fatalf("with the issuer back: %v", err)
				}
			})
		}
	})

	t.Run("DiscoveryRetriedAtMostOncePerInterval", func(t *testing.T) {
		t.Parallel()
		iss := oidctest.New(t)
		iss.SetDown(true)
		v := mustNew(t, oidcauth.Config{Issuer: iss.URL(), RefreshInterval: time.Hour})
		iss.SetDown(false)
		_, err := v.Verify(t.Context(), iss.Sign(admin(nil)))
		wantErr(t, err, oidcauth.ErrUnavailable) // the failure at New still holds
	})

	t.Run("CachedKeysServeWhileKeySetIsDown", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		raw := b.iss.Sign(admin(nil))
		if _, err := b.v.Verify(t.Context(), raw); err != nil {
			t.Fatal(err)
		}
		b.iss.SetDown(true)
		if _, err := b.v.Verify(t.Context(), raw); err != nil {
			t.Fatal(err)
		}
		_, err := b.v.Verify(t.Context(), b.iss.SignWith("unknown", admin(nil)))
		wantErr(t, err, oidcauth.ErrUnavailable) // the key might be one we cannot fetch
	})

	t.Run("IssuerMismatchInDiscovery", func(t *testing.T) {
		t.Parallel()
		iss := oidctest.New(t)
		v := mustNew(t, oidcauth.Config{Issuer: iss.URL() + "/"})
		_, err := v.Verify(t.Context(), iss.Sign(admin(map[string]any{"iss": iss.URL() + "/"})))
		wantErr(t, err, oidcauth.ErrUnavailable)
	})
}

func TestConfigFromEnv(t *testing.T) {
	t.Parallel()

	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}

	t.Run("DisabledWithoutIssuer", func(t *testing.T) {
		t.Parallel()
		_, enabled, err := oidcauth.ConfigFromEnv(env())
		if enabled || err != nil {
			t.Fatalf("enabled = %v, err = %v", enabled, err)
		}
	})

	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()
		c, enabled, err := oidcauth.ConfigFromEnv(env("RAGD_OIDC_ISSUER", "https://clerk.example.com"))
		if !enabled || err != nil {
			t.Fatalf("enabled = %v, err = %v", enabled, err)
		}
		if c.OrgClaim != "org_id" || c.RoleClaim != "org_role" || c.ClockSkew != 30*time.Second || c.Audience != "" || c.JWKSURL != "" || c.Algorithms != nil {
			t.Fatalf("config = %+v", c)
		}
		if !slices.Equal(c.RoleScopes["org:admin"], agents.AllScopes) ||
			!slices.Equal(c.RoleScopes["org:member"], []agents.Scope{agents.ScopeAgentsRead, agents.ScopeDocumentsRead, agents.ScopeSearch}) ||
			len(c.RoleScopes) != 2 {
			t.Fatalf("role scopes = %v", c.RoleScopes)
		}
		if c.HTTPClient == nil || c.HTTPClient.Timeout != 10*time.Second {
			t.Fatalf("HTTP client = %+v", c.HTTPClient)
		}
	})

	t.Run("AuthorizedPartiesList", func(t *testing.T) {
		t.Parallel()
		c, _, err := oidcauth.ConfigFromEnv(env("RAGD_OIDC_ISSUER", "https://clerk.example.com", "RAGD_OIDC_AUTHORIZED_PARTIES", " https://a.example, ,https://b.example "))
		if err != nil || !slices.Equal(c.AuthorizedParties, []string{"https://a.example", "https://b.example"}) {
			t.Fatalf("authorized parties = %q, err = %v", c.AuthorizedParties, err)
		}
	})

	t.Run("CustomRoleScopesApply", func(t *testing.T) {
		t.Parallel()
		iss := oidctest.New(t)
		c, _, err := oidcauth.ConfigFromEnv(env(
			"RAGD_OIDC_ISSUER", iss.URL(),
			"RAGD_OIDC_ALGORITHMS", "RS256, ES256",
			"RAGD_OIDC_ROLE_CLAIM", "roles.primary",
			"RAGD_OIDC_ROLE_SCOPES", " viewer = search ; editor=documents:read,documents:write ;",
			"RAGD_OIDC_CLOCK_SKEW", "1m",
		))
		if err != nil {
			t.Fatal(err)
		}
		if c.ClockSkew != time.Minute || !slices.Equal(c.Algorithms, []string{"RS256", "ES256"}) {
			t.Fatalf("config = %+v", c)
		}
		v, err := oidcauth.New(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		id, err := v.Verify(t.Context(), iss.Sign(admin(map[string]any{"roles": map[string]any{"primary": "viewer"}})))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(id.Scopes, []agents.Scope{agents.ScopeSearch}) {
			t.Fatalf("scopes = %v", id.Scopes)
		}
		_, err = v.Verify(t.Context(), iss.Sign(admin(nil))) // org:admin is no longer configured
		wantErr(t, err, oidcauth.ErrNoScopes)
	})

	t.Run("RefusesBadInput", func(t *testing.T) {
		t.Parallel()
		const issuer = "https://issuer.example"
		for name, vars := range map[string][]string{
			"HS256":                 {"RAGD_OIDC_ISSUER", issuer, "RAGD_OIDC_ALGORITHMS", "RS256,HS256"},
			"AlgNone":               {"RAGD_OIDC_ISSUER", issuer, "RAGD_OIDC_ALGORITHMS", "none"},
			"UnknownAlgorithm":      {"RAGD_OIDC_ISSUER", issuer, "RAGD_OIDC_ALGORITHMS", "RS257"},
			"EmptyAlgorithm":        {"RAGD_OIDC_ISSUER", issuer, "RAGD_OIDC_ALGORITHMS", "RS256,"},
			"UnknownScope":          {"RAGD_OIDC_ISSUER", issuer, "RAGD_OIDC_ROLE_SCOPES", "admin=everything"},
			"RoleWithoutScopes":     {"RAGD_OIDC_ISSUER", issuer, "RAGD_OIDC_ROLE_SCOPES", "admin="},
			"RoleWithoutEquals":     {"RAGD_OIDC_ISSUER", issuer, "RAGD_OIDC_ROLE_SCOPES", "admin"},
			"EmptyRoleName":         {"RAGD_OIDC_ISSUER", issuer, "RAGD_OIDC_ROLE_SCOPES", "=search"},
			"DuplicateRole":         {"RAGD_OIDC_ISSUER", issuer, "RAGD_OIDC_ROLE_SCOPES", "a=search;a=*"},
			"NoRoles":               {"RAGD_OIDC_ISSUER", issuer, "RAGD_OIDC_ROLE_SCOPES", ";;"},
			"BadSkew":               {"RAGD_OIDC_ISSUER", issuer, "RAGD_OIDC_CLOCK_SKEW", "soon"},
			"HugeSkew":              {"RAGD_OIDC_ISSUER", issuer, "RAGD_OIDC_CLOCK_SKEW", "1h"},
			"PlainHTTPIssuer":       {"RAGD_OIDC_ISSUER", "http://issuer.example"},
			"RelativeIssuer":        {"RAGD_OIDC_ISSUER", "issuer.example"},
			"PlainHTTPJWKS":         {"RAGD_OIDC_ISSUER", issuer, "RAGD_OIDC_JWKS_URL", "http://issuer.example/jwks"},
			"EmptyClaimPathPart":    {"RAGD_OIDC_ISSUER", issuer, "RAGD_OIDC_ORG_CLAIM", "o..id"},
			"AudienceWithoutIssuer": {"RAGD_OIDC_AUDIENCE", "ragd"},
		} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				if c, enabled, err := oidcauth.ConfigFromEnv(env(vars...)); err == nil {
					t.Fatalf("no error; enabled = %v, config = %+v", enabled, c)
				}
			})
		}
	})

	t.Run("NewRefusesSymmetricAlgorithm", func(t *testing.T) {
		t.Parallel()
		if _, err := oidcauth.New(t.Context(), oidcauth.Config{Issuer: "https://issuer.example", Algorithms: []string{"HS256"}}); err == nil {
			t.Fatal("no error")
		}
	})
}

func TestLooksLikeJWT(t *testing.T) {
	t.Parallel()
	iss := oidctest.New(t)
	for raw, want := range map[string]bool{
		iss.Sign(admin(nil)):                 true,
		iss.SignNone(admin(nil)):             true,
		"ragd_sk_" + strings.Repeat("A", 43): false,
		"":                                   false,
		"a.b":                                false,
		"a..c":                               false,
		"a.b.c.d":                            false,
		"a.b+.c":                             false,
		"a.b.c=":                             false,
	} {
		if got := oidcauth.LooksLikeJWT(raw); got != want {
			t.Errorf("LooksLikeJWT(%.40q) = %v, want %v", raw, got, want)
		}
	}
}

func FuzzVerify(f *testing.F) {
	iss := oidctest.New(f)
	v, err := oidcauth.New(f.Context(), oidcauth.Config{Issuer: iss.URL(), JWKSURL: iss.JWKSURL()})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		iss.Sign(admin(nil)),
		iss.Sign(admin(map[string]any{"o": map[string]any{"id": 1}, "nbf": "x", "exp": "y"})),
		iss.SignNone(admin(nil)),
		iss.SignHS256WithPublicKey(admin(nil)),
		iss.SignWith("other", admin(nil)),
		"", "a.b.c", "e30.e30.", "eyJhbGciOiJSUzI1NiJ9.e30.AAAA",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		id, err := v.Verify(context.Background(), raw)
		if err == nil && (id.Subject == "" || id.OrgID == "" || len(id.Scopes) == 0) {
			t.Fatalf("accepted %q as %+v", raw, id)
		}
	})
}
