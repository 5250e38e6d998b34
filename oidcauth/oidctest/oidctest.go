// Package oidctest runs an OpenID Connect issuer in process, for tests: a
// devidp.Issuer on a test server, which approves whoever SetLogin names
// and stops when the test ends. Its tokens are RS256, 2048-bit keys.
package oidctest

import (
	"net/http/httptest"
	"testing"

	"github.com/ragd/ragd/oidcauth/devidp"
)

// Issuer is a running test issuer.
type Issuer = devidp.Issuer

// New starts an issuer with one key; it stops when the test ends. A
// failure to sign fails the test.
func New(t testing.TB) *Issuer {
	t.Helper()
	iss := devidp.New("", t.Fatalf)
	srv := httptest.NewServer(iss.Handler())
	t.Cleanup(srv.Close)
	iss.SetURL(srv.URL)
	return iss
}
