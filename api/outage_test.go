package api_test

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ragd/ragd/api/apitest"
)

// TestDatabaseOutageAnswers503: while Postgres refuses the server's
// connections (its database's connection limit at 0 and its sessions
// ended, which a restart or every slot taken looks like), every route that
// needs it answers 503 "unavailable" with Retry-After, not 500 "internal";
// once Postgres takes connections again, the same requests succeed.
func TestDatabaseOutageAnswers503(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	_, key := b.TenantWithKey("outage")
	b.Must(200, "GET", "/v1/documents", key, nil)

	admin, err := pgx.Connect(ctx, os.Getenv("RAGD_TEST_DATABASE_URL"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	db := pgx.Identifier{b.pool.Config().ConnConfig.Database}.Sanitize()
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+db+" CONNECTION LIMIT 0"); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			if _, err := admin.Exec(ctx, "ALTER DATABASE "+db+" CONNECTION LIMIT -1"); err != nil {
				t.Error(err)
			}
		}
	}
	defer restore()
	if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", b.pool.Config().ConnConfig.Database); err != nil {
		t.Fatal(err)
	}
	for _, req := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/v1/documents", nil},
		{"POST", "/v1/search", map[string]any{"query": "anything"}},
		{"POST", "/v1/documents", map[string]any{"text": "a document"}},
		{"GET", "/v1/agents", nil},
	} {
		for range 3 { // a broken pooled connection, then refused new ones
			r := b.Req(req.method, req.path, key, req.body)
			if r.Status != 503 || r.Code(t) != "unavailable" || r.Header.Get("Retry-After") == "" {
				t.Fatalf("%s %s during the outage: %d %s (Retry-After %q)", req.method, req.path, r.Status, r.Body, r.Header.Get("Retry-After"))
			}
		}
	}
	if r := b.Req("GET", "/readyz", "", nil); r.Status != 503 {
		t.Fatalf("/readyz during the outage: %d", r.Status)
	}
	restore()
	apitest.Eventually(t, "requests succeed once Postgres takes connections again", func() bool {
		return b.Req("GET", "/v1/documents", key, nil).Status == 200
	})
	b.Must(200, "POST", "/v1/search", key, map[string]any{"query": "anything"})
}
