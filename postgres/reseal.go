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
	Parts  []string // SQL expressions (cast to text) that the binding is made of, which also name the row
	// Binding returns the associated data from Parts' values.
	Binding func(parts []string) ([]byte, error)
	// Name says which row Parts' values are, for people.
	Name func(parts []string) string
}

// ResealResult says what Reseal did with one column.
type ResealResult struct {
	What   string
	DryRun bool
	// Current: values already sealed with the current key (not read).
	Current int64
	// Resealed: values sealed again with the current key (in a dry run:
	// that would be).
	Resealed int
	// Unreadable: values no configured key opens; Rows names the first
	// few by their Parts.
	Unreadable int
	Rows       []string
	// Changed: rows written by someone else between the read and the
	// write, left as they are (they were sealed by that writer, with the
	// current key unless it runs with another).
	Changed int
}

// maxNamed bounds the rows a ResealResult names.
const maxNamed = 20

// Reseal seals again, with box's current key, every value of the columns
// that another key sealed, so that the previous key can be dropped. It
// takes no lock: each write is a compare-and-swap on the row version
// (ctid) and the sealed bytes read, so a row updated meanwhile is left to
// its writer. dryRun opens the values and writes nothing.
func Reseal(ctx context.Context, pool *pgxpool.Pool, box *secret.Box, dryRun bool, cols ...SealedColumn) ([]ResealResult, error) {
	out := make([]ResealResult, 0, len(cols))
	prefix := box.CurrentPrefix()
	for _, c := range cols {
		res := ResealResult{What: c.What, DryRun: dryRun}
		tab, col := pgx.Identifier{c.Table}.Sanitize(), pgx.Identifier{c.Column}.Sanitize()
		notCurrent := fmt.Sprintf("%s IS NOT NULL AND substring(%s from 1 for %d) <> $1", col, col, len(prefix))
		if err := pool.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM %s WHERE substring(%s from 1 for %d) = $1", tab, col, len(prefix)), prefix).
			Scan(&res.Current); err != nil {
			return out, fmt.Errorf("%s: count: %w", c.What, err)
		}
		type row struct {
			ctid   string
			parts  []string
			sealed []byte
		}
		rows, err := pool.Query(ctx, fmt.Sprintf("SELECT ctid::text, ARRAY[%s]::text[], %s FROM %s WHERE %s",
			strings.Join(c.Parts, ", "), col, tab, notCurrent), prefix)
		if err != nil {
			return out, fmt.Errorf("%s: read: %w", c.What, err)
		}
		list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			var x row
			err := r.Scan(&x.ctid, &x.parts, &x.sealed)
			return x, err
		})
		if err != nil {
			return out, fmt.Errorf("%s: read: %w", c.What, err)
		}
		for _, r := range list {
			ad, err := c.Binding(r.parts)
			var plain []byte
			if err == nil {
				plain, err = box.Open(r.sealed, ad)
			}
			if err != nil {
				if !errors.Is(err, secret.ErrOpen) {
					return out, fmt.Errorf("%s, %s: %w", c.What, c.Name(r.parts), err)
				}
				res.Unreadable++
				if len(res.Rows) < maxNamed {
					res.Rows = append(res.Rows, c.Name(r.parts))
				}
				continue
			}
			if dryRun {
				res.Resealed++
				continue
			}
			again := box.Seal(plain, ad)
			clear(plain)
			tag, err := pool.Exec(ctx, fmt.Sprintf("UPDATE %s SET %s = $1 WHERE ctid = $2::tid AND %s = $3", tab, col, col), again, r.ctid, r.sealed)
			if err != nil {
				return out, fmt.Errorf("%s, %s: write: %w", c.What, c.Name(r.parts), err)
			}
			if tag.RowsAffected() == 1 {
				res.Resealed++
			} else {
				res.Changed++
			}
		}
		out = append(out, res)
	}
	return out, nil
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
		fmt.Fprintf(&b, ", %d changed meanwhile (left to their writer)", r.Changed)
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
