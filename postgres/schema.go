package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// SchemaError says how a database's schema differs from the one this binary
// embeds. Its text is one line that names the difference and the command
// that fixes it.
type SchemaError struct {
	// Missing: ragd's migrations this binary has and the database lacks,
	// as "NNNN_name", in order.
	Missing []string
	// Unknown: ragd's migrations the database has and this binary does
	// not know (a newer ragd applied them), as "NNNN_name".
	Unknown []string
	// Changed: applied migrations whose text differs from this binary's.
	Changed []string
	// RiverMissing and RiverUnknown: River's migration versions the
	// database lacks, and those it has that this binary's River does not know.
	RiverMissing, RiverUnknown []int
	// Total: how many migrations of ragd's this binary embeds.
	Total int
}

func (e *SchemaError) Error() string {
	var diff []string
	add := func(format string, items []string) {
		if len(items) > 0 {
			diff = append(diff, fmt.Sprintf(format, plural(len(items)), brief(items)))
		}
	}
	add("has ragd migration%s %s that this ragd does not know", e.Unknown)
	add("has River migration%s %s that this ragd does not know", itoas(e.RiverUnknown))
	add("has ragd migration%s %s whose text differs from this ragd's", e.Changed)
	add("lacks ragd migration%s %s", e.Missing)
	add("lacks River migration%s %s", itoas(e.RiverMissing))
	what := "the database " + strings.Join(diff, ", and ")
	switch {
	case len(e.Unknown) > 0 || len(e.RiverUnknown) > 0:
		return "database schema is newer than this ragd (" + what + "): run a newer ragd"
	case len(e.Changed) > 0:
		return "database schema differs from this ragd (" + what + "): run the ragd that migrated it; an applied migration must never change"
	case len(e.Missing) == e.Total && e.Total > 0:
		return fmt.Sprintf("database schema is missing (the database has none of ragd's %d migrations): run `ragd migrate`", e.Total)
	}
	return "database schema is older than this ragd (" + what + "): run `ragd migrate`"
}

// brief lists up to three items, then how many more there are.
func brief(items []string) string {
	if len(items) <= 3 {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:3], ", ") + fmt.Sprintf(" and %d more", len(items)-3)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func itoas(ns []int) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = strconv.Itoa(n)
	}
	return out
}

// CheckSchema reports, changing nothing, whether the database holds exactly
// the migrations this binary embeds: every one of ragd's, with the same
// text, and none it does not know; and River's, neither fewer nor more.
// Commands that do not migrate call it at start. It returns nil, a
// *SchemaError, or the error of reading the schema. A migration that
// another process is running is waited for, since it holds the lock
// Migrate takes: a worker started beside a migrating serve starts once the
// migration ends.
func CheckSchema(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	migs, err := SchemaMigrations()
	if err != nil {
		return err
	}
	var se *SchemaError
	err = pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var free bool
		if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock_shared($1)", migrationLockKey).Scan(&free); err != nil {
			return fmt.Errorf("check schema: %w", err)
		}
		if !free {
			log.Info("waiting for the schema migration another process is running")
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock_shared($1)", migrationLockKey); err != nil {
				return fmt.Errorf("check schema: wait for the migration: %w", err)
			}
		}
		var exists bool
		if err := tx.QueryRow(ctx, "SELECT to_regclass('ragd_schema_migrations') IS NOT NULL").Scan(&exists); err != nil {
			return fmt.Errorf("check schema: %w", err)
		}
		applied := map[int]appliedMigration{}
		if exists {
			if applied, err = appliedMigrations(ctx, tx); err != nil {
				return err
			}
		}
		se = compare(migs, applied)
		se.RiverMissing, se.RiverUnknown, err = riverDifference(ctx, tx)
		return err
	})
	if err != nil {
		return err
	}
	if len(se.Missing)+len(se.Unknown)+len(se.Changed)+len(se.RiverMissing)+len(se.RiverUnknown) > 0 {
		return se
	}
	return nil
}

// appliedMigration is a row of ragd_schema_migrations.
type appliedMigration struct {
	name, checksum string
}

// appliedMigrations reads ragd_schema_migrations by version.
func appliedMigrations(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) (map[int]appliedMigration, error) {
	rows, err := q.Query(ctx, "SELECT version, name, checksum FROM ragd_schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("read applied migrations: %w", err)
	}
	applied := map[int]appliedMigration{}
	for rows.Next() {
		var v int
		var a appliedMigration
		if err := rows.Scan(&v, &a.name, &a.checksum); err != nil {
			return nil, fmt.Errorf("read applied migrations: %w", err)
		}
		applied[v] = a
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read applied migrations: %w", err)
	}
	return applied, nil
}

// compare sets Missing, Unknown, Changed and Total of ragd's migrations.
func compare(migs []SchemaMigration, applied map[int]appliedMigration) *SchemaError {
	se := &SchemaError{Total: len(migs)}
	known := map[int]bool{}
	for _, m := range migs {
		known[m.Version] = true
		a, ok := applied[m.Version]
		switch {
		case !ok:
			se.Missing = append(se.Missing, fmt.Sprintf("%04d_%s", m.Version, m.Name))
		case a.checksum != m.Checksum:
			se.Changed = append(se.Changed, fmt.Sprintf("%04d_%s", m.Version, m.Name))
		}
	}
	var unknown []int
	for v := range applied {
		if !known[v] {
			unknown = append(unknown, v)
		}
	}
	slices.Sort(unknown)
	for _, v := range unknown {
		se.Unknown = append(se.Unknown, fmt.Sprintf("%04d_%s", v, applied[v].name))
	}
	return se
}

// riverDifference returns River's migration versions the database lacks
// and those it has beyond the ones this binary's River knows.
func riverDifference(ctx context.Context, tx pgx.Tx) (missing, unknown []int, err error) {
	migrator, err := rivermigrate.New(riverpgxv5.New(nil), &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, nil, fmt.Errorf("river migrator: %w", err)
	}
	all := migrator.AllVersions()
	existing, err := migrator.ExistingVersionsTx(ctx, tx)
	if err != nil {
		// River fails on a version it does not know; name them.
		latest := all[len(all)-1].Version
		rows, qerr := tx.Query(ctx, "SELECT version FROM river_migration WHERE line = 'main' AND version > $1 ORDER BY version", latest)
		if qerr == nil {
			unknown, qerr = pgx.CollectRows(rows, pgx.RowTo[int])
		}
		if qerr != nil || len(unknown) == 0 {
			return nil, nil, fmt.Errorf("read River's migrations: %w", err)
		}
		return nil, unknown, nil
	}
	have := map[int]bool{}
	for _, m := range existing {
		have[m.Version] = true
	}
	for _, m := range all {
		if !have[m.Version] {
			missing = append(missing, m.Version)
		}
	}
	return missing, nil, nil
}
