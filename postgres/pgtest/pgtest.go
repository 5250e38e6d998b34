// Package pgtest gives each test its own real Postgres database, copied from
// a template that holds every schema migration, so tests run in parallel
// and leave nothing behind. The server comes from RAGD_TEST_DATABASE_URL or
// DATABASE_URL (`make test` sets both); the role needs CREATEDB.
//
// Several roles may test against one server: each builds and copies a
// template of its own. Every connection the test processes of a machine
// make counts against the server's max_connections (budget.go), so the
// test processes of `go test ./...` together never exceed it.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ragd/ragd/postgres"
)

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// URL returns the URL of the test server, failing the test when none is
// configured: a missing database is a broken set-up, not a reason to skip.
func URL(t testing.TB) string {
	t.Helper()
	url := os.Getenv("RAGD_TEST_DATABASE_URL")
	if url == "" {
		url = os.Getenv("DATABASE_URL")
	}
	if url == "" {
		t.Fatal("no test database: set RAGD_TEST_DATABASE_URL or DATABASE_URL, or run `make test`, which starts Postgres")
	}
	return url
}

// NewPool returns a pool on a fresh, fully migrated database that is
// dropped when the test ends.
func NewPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return OpenPool(t, NewDatabaseURL(t))
}

// NewPoolWith is NewPool with configure applied to the pool's
// configuration first (a tracer that watches the queries, say).
func NewPoolWith(t testing.TB, configure func(*pgxpool.Config)) *pgxpool.Pool {
	t.Helper()
	return openPool(t, NewDatabaseURL(t), configure)
}

// ServerListeners is how many connections a ragd server holds outside its
// pool's count, each on a LISTEN for its whole life: River's notifier, the
// job supervisor's and the document watcher's.
const ServerListeners = 3

// NewServerPool is NewPoolWith for a ragd server under test: it takes,
// at once, every place of the connection budget the server may hold (its
// pool's and its listeners'), and its connections use only those, so
// servers that hold connections for their whole life never wait on each
// other for the rest.
func NewServerPool(t testing.TB, configure func(*pgxpool.Config)) *pgxpool.Pool {
	t.Helper()
	return openPool(t, NewDatabaseURL(t), func(cfg *pgxpool.Config) {
		if configure != nil {
			configure(cfg)
		}
		n := int(cfg.MaxConns) + ServerListeners
		ReserveConns(t, n) // given back after the pool closes (cleanups run last first)
		cfg.ConnConfig.DialFunc = dialer(&reserved{size: n, freed: make(chan struct{})})
	})
}

// OpenPool returns a pool on the database at url (one of NewDatabaseURL's,
// say), within the connection budget, closed when the test ends.
func OpenPool(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	return openPool(t, url, nil)
}

func openPool(t testing.TB, url string, configure func(*pgxpool.Config)) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	b, err := theBudget(URL(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 8
	// Idle connections go soon, so that the places of a test's pool that
	// waits (for its subtests, for a job) serve the tests that run.
	cfg.MaxConnIdleTime, cfg.HealthCheckPeriod = 3*time.Second, time.Second
	cfg.ConnConfig.DialFunc = dialer(b)
	if configure != nil {
		configure(cfg)
	}
	pool, err := postgres.OpenConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// NewDatabaseURL returns the URL of a fresh, fully migrated database that is
// dropped when the test ends, for tests that start ragd itself (whose
// connections are outside this process's budget: see ReserveConns).
func NewDatabaseURL(t testing.TB) string {
	t.Helper()
	templateOnce.Do(func() { templateName, templateErr = buildTemplate(URL(t)) })
	if templateErr != nil {
		t.Fatalf("build template database: %v", templateErr)
	}
	return create(t, templateName)
}

// NewEmptyDatabaseURL returns the URL of a fresh database with no schema at
// all, for migration tests.
func NewEmptyDatabaseURL(t testing.TB) string {
	t.Helper()
	return create(t, "template0")
}

// ReserveConns takes n places of the connection budget for the
// connections of a ragd the test starts (its pool), until release is
// called (when that ragd has stopped) or the test ends.
func ReserveConns(t testing.TB, n int) (release func()) {
	t.Helper()
	b, err := theBudget(URL(t))
	if err != nil {
		t.Fatal(err)
	}
	release, err = b.take(t.Context(), n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
	return release
}

// connect opens an administrative connection to the test server, within
// the budget.
func connect(ctx context.Context, url string) (*pgx.Conn, error) {
	b, err := theBudget(url)
	if err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	cfg.DialFunc = dialer(b)
	return pgx.ConnectConfig(ctx, cfg)
}

// create makes a database from template, dropped when the test ends, and
// returns its URL.
func create(t testing.TB, template string) string {
	t.Helper()
	ctx := context.Background()
	admin, err := connect(ctx, URL(t))
	if err != nil {
		t.Fatalf("connect to test server: %v", err)
	}
	defer admin.Close(ctx)

	name := "ragd_test_" + randomSuffix()
	sql := fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", pgx.Identifier{name}.Sanitize(), pgx.Identifier{template}.Sanitize())
	for attempt := 0; ; attempt++ {
		_, err = admin.Exec(ctx, sql)
		var pgErr *pgconn.PgError
		// 55006: another session is copying the template at this moment.
		if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "55006" || attempt == 50 {
			break
		}
		time.Sleep(time.Duration(20+attempt*10) * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := connect(ctx, URL(t))
		if err != nil {
			t.Errorf("drop test database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		// An autovacuum worker may be in the database; FORCE cannot end it
		// for a non-superuser, but it leaves soon: try again for a while.
		var err2 error
		for range 40 {
			if _, err2 = conn.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", pgx.Identifier{name}.Sanitize())); err2 == nil {
				return
			}
			time.Sleep(250 * time.Millisecond)
		}
		t.Errorf("drop test database %s: %v", name, err2)
	})

	return withDatabase(t, URL(t), name)
}

// withDatabase returns base with its database replaced by name. A test
// database is thrown away, so it also turns synchronous commit off.
func withDatabase(t testing.TB, base, name string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatal("the test database URL must be a postgres:// URL")
	}
	u.Path = "/" + name
	q := u.Query()
	q.Set("synchronous_commit", "off")
	u.RawQuery = q.Encode()
	return u.String()
}

// buildTemplate creates, once per schema version and role across all test
// processes, a database holding every migration. Its name carries a digest
// of the migrations, so a changed migration builds a new template, and of
// the role: only a template's owner (or a superuser) may copy it, so each
// role that runs the tests on a shared server has its own.
func buildTemplate(url string) (string, error) {
	migs, err := postgres.SchemaMigrations()
	if err != nil {
		return "", err
	}
	ctx := context.Background()
	admin, err := connect(ctx, url)
	if err != nil {
		return "", fmt.Errorf("connect to test server: %w", err)
	}
	defer admin.Close(ctx)
	var role string
	if err := admin.QueryRow(ctx, "SELECT current_user").Scan(&role); err != nil {
		return "", err
	}
	h := sha256.New()
	for _, m := range migs {
		io.WriteString(h, m.Checksum)
	}
	// A River upgrade may bring new River migrations: build a new template.
	io.WriteString(h, riverModuleVersion())
	io.WriteString(h, "\x00"+role)
	name := "ragd_template_" + hex.EncodeToString(h.Sum(nil))[:16]
	// Serialise template builds between the test binaries `go test ./...`
	// runs in parallel.
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock(7357)"); err != nil {
		return "", err
	}
	defer admin.Exec(ctx, "SELECT pg_advisory_unlock(7357)")

	// A template of another owner (made before names carried the role)
	// cannot be copied: it is built again under this role's name.
	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1 AND pg_get_userbyid(datdba) = current_user)", name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	// Build under another name and rename when complete, so a crash midway
	// never leaves a half-migrated template behind.
	building := name + "_build"
	if _, err := admin.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", building)); err != nil {
		return "", err
	}
	if _, err := admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE template0", building)); err != nil {
		return "", err
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return "", err
	}
	// Not withDatabase: this runs once for many tests, outside any one test.
	cfg.ConnConfig.Database = building
	cfg.ConnConfig.DialFunc = dialer(machine)
	pool, err := postgres.OpenConfig(ctx, cfg)
	if err != nil {
		return "", err
	}
	_, err = postgres.MigrateSchema(ctx, pool, slog.New(slog.DiscardHandler))
	pool.Close()
	if err != nil {
		return "", err
	}
	if _, err := admin.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s", building, name)); err != nil {
		return "", err
	}
	return name, nil
}

func randomSuffix() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
