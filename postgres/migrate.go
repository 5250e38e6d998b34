package postgres

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLockKey is the advisory lock held while migrating; any constant
// works as long as every ragd node uses the same one.
const migrationLockKey = 0x72616764 // "ragd"

// SchemaMigration is one embedded schema change.
type SchemaMigration struct {
	Version  int
	Name     string
	SQL      string
	Checksum string
}

// SchemaMigrations returns ragd's embedded migrations in version order. File names
// are NNNN_name.sql; a gap or a duplicate version is an error.
func SchemaMigrations() ([]SchemaMigration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []SchemaMigration
	for _, e := range entries {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", e.Name())
		}
		body, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(body)
		out = append(out, SchemaMigration{Version: v, Name: name, SQL: string(body), Checksum: hex.EncodeToString(sum[:])})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %d_%s: versions must run 1, 2, 3... without gaps", m.Version, m.Name)
		}
	}
	return out, nil
}

// MigrateSchemaResult says which of ragd's migrations ran and how many of River's.
type MigrateSchemaResult struct {
	Applied      []string
	RiverApplied int
}

// MigrateSchema applies ragd's pending migrations, each in its own transaction,
// then River's, all under one session advisory lock. It is idempotent: a
// second call applies nothing. An applied migration whose embedded text has
// changed since is an error, since the database no longer matches the code.
func MigrateSchema(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) (MigrateSchemaResult, error) {
	return migrate(ctx, pool, log, 0)
}

// migrate is Migrate up to ragd's migration version upTo (0: all). Only
// tests stop short, to test a migration against data of the schema before.
func migrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, upTo int) (MigrateSchemaResult, error) {
	var res MigrateSchemaResult
	migs, err := SchemaMigrations()
	if err != nil {
		return res, err
	}
	if upTo > 0 && upTo < len(migs) {
		migs = migs[:upTo]
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return res, fmt.Errorf("acquire connection: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLockKey); err != nil {
		return res, fmt.Errorf("take migration lock: %w", err)
	}
	defer func() {
		// A fresh context: the unlock must happen even when ctx is done,
		// or the pooled connection would keep the lock.
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLockKey)
	}()

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS ragd_schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		checksum   text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return res, fmt.Errorf("create migrations table: %w", err)
	}
	applied, err := appliedMigrations(ctx, conn)
	if err != nil {
		return res, err
	}
	// Nothing is applied over a schema from a newer ragd.
	if se := compare(migs, applied); len(se.Unknown) > 0 {
		return res, se
	}
	for _, m := range migs {
		if a, ok := applied[m.Version]; ok {
			if a.checksum != m.Checksum {
				return res, fmt.Errorf("migration %04d_%s was changed after it was applied; add a new migration instead", m.Version, m.Name)
			}
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO ragd_schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", m.Version, m.Name, m.Checksum)
			return err
		})
		if err != nil {
			return res, fmt.Errorf("apply migration %04d_%s: %w", m.Version, m.Name, err)
		}
		res.Applied = append(res.Applied, fmt.Sprintf("%04d_%s", m.Version, m.Name))
		log.Info("applied migration", "version", m.Version, "name", m.Name)
	}

	migrator, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: log})
	if err != nil {
		return res, fmt.Errorf("river migrator: %w", err)
	}
	rr, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return res, fmt.Errorf("river migrations: %w", err)
	}
	res.RiverApplied = len(rr.Versions)
	return res, nil
}
