package apitest

import (
	"context"
	"testing"
	"time"

	"github.com/ragd/ragd/console"
	"github.com/ragd/ragd/oidcauth"
	"github.com/ragd/ragd/oidcauth/oidctest"
)

// Audience is the aud the tokens of a WithIssuer issuer carry.
const Audience = "ragd-api"

// ConsoleClientID is the console's client of a WithIssuer issuer.
const ConsoleClientID = "ragd-console"

// WithIssuer makes the server started with o accept the bearer tokens of
// a new in-process issuer, besides API keys, and returns the issuer; with
// console, the console signs in with it too ("Test IdP"): then call
// RegisterConsole once the server runs.
func WithIssuer(t testing.TB, o *Options, console bool) *oidctest.Issuer {
	t.Helper()
	iss := oidctest.New(t)
	// A short refresh interval, so that a rotation is picked up at once.
	v, err := oidcauth.New(context.Background(), oidcauth.Config{Issuer: iss.URL(), Audience: Audience, RefreshInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	o.OIDC = v
	if console {
		o.ConsoleOIDC = consoleOIDC(iss)
	}
	return iss
}

func consoleOIDC(iss *oidctest.Issuer) *console.OIDC {
	return &console.OIDC{Name: "Test IdP", Issuer: iss.URL(), ClientID: ConsoleClientID}
}

// RegisterConsole registers the console of the server at url as the
// issuer's client.
func RegisterConsole(iss *oidctest.Issuer, url string) {
	iss.RegisterClient(ConsoleClientID, url+"/console/callback")
}

// Member is a token of the issuer for sub in org with role, and the extra
// claims (name, value pairs).
func Member(iss *oidctest.Issuer, sub, org, role string, extra ...any) string {
	c := map[string]any{"sub": sub, "org_id": org, "org_role": role, "aud": Audience}
	for i := 0; i+1 < len(extra); i += 2 {
		c[extra[i].(string)] = extra[i+1]
	}
	return iss.Sign(c)
}
