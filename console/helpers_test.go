package console_test

import (
	"os"
	"testing"

	"github.com/ragd/ragd/api/apitest"
	"github.com/ragd/ragd/extract/sandbox"
	"github.com/ragd/ragd/oidcauth/oidctest"
)

// The console's tests drive it as people do, over HTTP, on a whole ragd
// (apitest): the console calls the API in process.

// TestMain lets this test binary be the extraction sandbox's child: the
// servers under test start os.Executable(), which is this binary.
func TestMain(m *testing.M) {
	sandbox.ServeIfChild()
	os.Exit(m.Run())
}

const adminToken = apitest.AdminToken

// testBundle is a running server and the test's client of it.
type testBundle struct {
	*apitest.Client
	t   testing.TB
	url string
	srv *apitest.Server
}

func setup(t testing.TB) *testBundle {
	t.Helper()
	return setupWith(t, apitest.Options{})
}

func setupWith(t testing.TB, o apitest.Options) *testBundle {
	t.Helper()
	srv := apitest.Start(t, o)
	return &testBundle{Client: srv.Client(t), t: t, url: srv.URL, srv: srv}
}

// setupOIDC starts a server that accepts the bearer tokens of an
// in-process issuer, with o's other options; with withConsole, the
// console signs in with it too.
func setupOIDC(t testing.TB, o apitest.Options, withConsole ...bool) (*testBundle, *oidctest.Issuer) {
	t.Helper()
	iss := apitest.WithIssuer(t, &o, len(withConsole) > 0 && withConsole[0])
	b := setupWith(t, o)
	apitest.RegisterConsole(iss, b.url)
	return b, iss
}

type response = apitest.Response

var allScopes = apitest.AllScopes()
