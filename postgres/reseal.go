package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ragd/ragd/secret"
)

// SealedColumn names a column of values sealed with secret.Box and how each
// row's associated data is made, so that the values can be sealed again
// with the current key after a key rotation (Reseal).
type SealedColumn struct {
	What   string   // for people: "agent secrets"
	Table  string   // "agents"
	Column string   // "secrets"
	Parts  []string // SQL expressions (cast to text) that the binding is made of, which also name the row; trusted SQL, from code only
	// Binding returns the associated data from Parts' values.
	Binding func(parts []string) ([]byte, error)
	// Name says which row Parts' values are, for people.
	Name func(parts []string) string
}

// ResealResult says what Reseal did with one column.
type ResealResult struct {
	What   string
	DryRun bool
	// Current: values already sealed with the current key when Reseal
	// began (not read).
	Current int64
	// Resealed: values sealed again with the current key (in a dry run:
	// to be).
	Resealed int
	// Unreadable: values no configured key opens; Rows names the first
	// few by their Parts.
	Unreadable int
	Rows       []string
	// Changed: values still under another key whose rows changed between
	// the read and the write in each of maxRounds passes; running Reseal
	// again takes them.
	Changed int
}

// maxNamed bounds the rows a ResealResult names.
const maxNamed = 20

// maxRounds bounds the passes over a column. A write is a compare-and-swap
// on the row version (ctid) and the sealed bytes read: any update of the
// row meanwhile (webhook endpoints change often) moves it to a new ctid,
// and the next pass reads it again.
const maxRounds = 10

// Reseal seals again, with box's current key, every value of the columns
// that another key sealed, so that the previous key can be dropped. It
// takes no lock and never overwrites a value written since it read it
// (see maxRounds). dryRun opens the values and writes nothing.
func Reseal(ctx context.Context, pool *pgxpool.Pool, box *secret.Box, dryRun bool, cols ...SealedColumn) ([]ResealResult, error) {
	out := make([]ResealResult, 0, len(cols))
	prefix := box.CurrentPrefix()
	for _, c := range cols {
		res := ResealResult{What: c.What, DryRun: dryRun}
		tab, col := pgx.Identifier{c.Table}.Sanitize(), pgx.Identifier{c.Column}.Sanitize()
		if err := pool.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM %s WHERE substring(%s from 1 for %d) = $1", tab, col, len(prefix)), prefix).
			Scan(&res.Current); err != nil {
			return out, fmt.Errorf("%s: count: %w", c.What, err)
		}
		for round := 1; ; round++ {
			if err := resealRound(ctx, pool, box, dryRun, c, tab, col, &res); err != nil {
				return out, err
			}
			if dryRun || res.Changed == 0 || round == maxRounds {
				break
			}
		}
		out = append(out, res)
	}
	return out, nil
}

// resealRound makes one pass over the column's values under another key;
// Unreadable, Rows and Changed are this pass's, Resealed adds up.
func resealRound(ctx context.Context, pool *pgxpool.Pool, box *secret.Box, dryRun bool, c SealedColumn, tab, col string, res *ResealResult) error {
	prefix := box.CurrentPrefix()
	type row struct {
		ctid   string
		parts  []string
		sealed []byte
	}
	rows, err := pool.Query(ctx, fmt.Sprintf("SELECT ctid::text, ARRAY[%s]::text[], %s FROM %s WHERE %s IS NOT NULL AND substring(%s from 1 for %d) <> $1",
		strings.Join(c.Parts, ", "), col, tab, col, col, len(prefix)), prefix)
	if err != nil {
		return fmt.Errorf("%s: read: %w", c.What, err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.ctid, &x.parts, &x.sealed)
		return x, err
	})
	if err != nil {
		return fmt.Errorf("%s: read: %w", c.What, err)
	}
	res.Unreadable, res.Rows, res.Changed = 0, nil, 0
	for _, r := range list {
		ad, err := c.Binding(r.parts)
		var plain []byte
		if err == nil {
			plain, err = box.Open(r.sealed, ad)
		}
		if err != nil {
			if !errors.Is(err, secret.ErrOpen) {
				return fmt.Errorf("%s, %s: %w", c.What, c.Name(r.parts), err)
			}
			res.Unreadable++
			if len(res.Rows) < maxNamed {
				res.Rows = append(res.Rows, c.Name(r.parts))
			}
			continue
		}
		if dryRun {
			clear(plain)
			res.Resealed++
			continue
		}
		again := box.Seal(plain, ad)
		clear(plain)
		tag, err := pool.Exec(ctx, fmt.Sprintf("UPDATE %s SET %s = $1 WHERE ctid = $2::tid AND %s = $3", tab, col, col), again, r.ctid, r.sealed)
		if err != nil {
			return fmt.Errorf("%s, %s: write: %w", c.What, c.Name(r.parts), err)
		}
		if tag.RowsAffected() == 1 {
			res.Resealed++
		} else {
			res.Changed++
		}
	}
	return nil
}

// String is the one line ragd reseal prints for the column.
func (r ResealResult) String() string {
	var b strings.Builder
	again := "sealed again"
	if r.DryRun {
		again = "to seal again"
	}
	fmt.Fprintf(&b, "%s: %d sealed with the current key, %d %s", r.What, r.Current, r.Resealed, again)
	if r.Changed > 0 {
		fmt.Fprintf(&b, ", %d that changed while being sealed again %d times over (run reseal again)", r.Changed, maxRounds)
	}
	if r.Unreadable > 0 {
		fmt.Fprintf(&b, ", %d that no configured key opens (%s", r.Unreadable, strings.Join(r.Rows, "; "))
		if r.Unreadable > len(r.Rows) {
			b.WriteString("; ...")
		}
		b.WriteString(")")
	}
	return b.String()
}
