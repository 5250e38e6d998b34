package postgres_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ragd/ragd/postgres"
	"github.com/ragd/ragd/postgres/pgtest"
)

func TestMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)

	t.Run("AppliesToEmptyDatabaseThenIsANoOp", func(t *testing.T) {
		t.Parallel()
		pool, err := postgres.Open(ctx, pgtest.NewEmptyDatabaseURL(t))
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()

		migs, err := postgres.Migrations()
		if err != nil {
			t.Fatal(err)
		}
		first, err := postgres.Migrate(ctx, pool, log)
		if err != nil {
			t.Fatalf("first migrate: %v", err)
		}
		if len(first.Applied) != len(migs) || first.RiverApplied == 0 {
			t.Fatalf("first migrate applied %v and %d River migrations, want all %d of ours and some of River's", first.Applied, first.RiverApplied, len(migs))
		}
		for _, table := range []string{"tenants", "api_keys", "agents", "river_job"} {
			var ok bool
			if err := pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&ok); err != nil || !ok {
				t.Fatalf("table %s missing after migrate (%v)", table, err)
			}
		}
		second, err := postgres.Migrate(ctx, pool, log)
		if err != nil {
			t.Fatalf("second migrate: %v", err)
		}
		if len(second.Applied) != 0 || second.RiverApplied != 0 {
			t.Fatalf("second migrate applied %v and %d River migrations, want none", second.Applied, second.RiverApplied)
		}
	})

	t.Run("ConcurrentNodesMigrateOnce", func(t *testing.T) {
		t.Parallel()
		url := pgtest.NewEmptyDatabaseURL(t)
		errs := make(chan error, 3)
		for range 3 {
			go func() {
				pool, err := pgxpool.New(ctx, url)
				if err != nil {
					errs <- err
					return
				}
				defer pool.Close()
				_, err = postgres.Migrate(ctx, pool, log)
				errs <- err
			}()
		}
		for range 3 {
			if err := <-errs; err != nil {
				t.Fatalf("concurrent migrate: %v", err)
			}
		}
	})

	t.Run("RefusesAChangedMigration", func(t *testing.T) {
		t.Parallel()
		pool := pgtest.NewPool(t)
		if _, err := pool.Exec(ctx, "UPDATE ragd_schema_migrations SET checksum = 'edited' WHERE version = 1"); err != nil {
			t.Fatal(err)
		}
		if _, err := postgres.Migrate(ctx, pool, log); err == nil {
			t.Fatal("Migrate accepted a database whose applied migration differs from the embedded one")
		}
	})

	t.Run("RefusesUnknownNewerMigrations", func(t *testing.T) {
		t.Parallel()
		pool := pgtest.NewPool(t)
		if _, err := pool.Exec(ctx, "INSERT INTO ragd_schema_migrations (version, name, checksum) VALUES (9999, 'future', 'x')"); err != nil {
			t.Fatal(err)
		}
		if _, err := postgres.Migrate(ctx, pool, log); err == nil {
			t.Fatal("Migrate accepted a database from a newer ragd")
		}
	})
}

func TestOpenHidesPassword(t *testing.T) {
	t.Parallel()
	_, err := postgres.Open(context.Background(), "postgres://u:hunter2@[::1")
	if err == nil {
		t.Fatal("Open accepted a broken URL")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error shows the password: %v", err)
	}
}
