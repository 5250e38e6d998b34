package postgres_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/ragd/ragd/postgres"
	"github.com/ragd/ragd/postgres/pgtest"
	"github.com/ragd/ragd/secret"
)

// TestResealLeavesRowsChangedMeanwhile: a value written between Reseal's
// read and its write is the writer's and is not overwritten; a row whose
// other columns changed meanwhile is read again and sealed in the next
// pass; one that changes at every pass is counted as changed; the others
// are sealed again, and a value no key opens is named and left as it is.
func TestResealLeavesRowsChangedMeanwhile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	if _, err := pool.Exec(ctx, "CREATE TABLE sealed_things (id text PRIMARY KEY, sealed bytea, touched int NOT NULL DEFAULT 0)"); err != nil {
		t.Fatal(err)
	}
	oldKey := secret.NewKey()
	oldBox, _ := secret.NewBox(oldKey)
	box, _ := secret.NewBox(secret.NewKey(), oldKey)
	stranger, _ := secret.NewBox(secret.NewKey())
	ad := func(id string) []byte { return []byte("thing " + id) }
	rows := map[string][]byte{
		"a": oldBox.Seal([]byte("value a"), ad("a")),
		"b": oldBox.Seal([]byte("value b"), ad("b")), // sealed again meanwhile by a writer
		"c": stranger.Seal([]byte("value c"), ad("c")),
		"d": box.Seal([]byte("value d"), ad("d")),    // already current
		"e": oldBox.Seal([]byte("value e"), ad("e")), // another column changed meanwhile, once
		"f": oldBox.Seal([]byte("value f"), ad("f")), // another column changed at every pass
	}
	for id, v := range rows {
		if _, err := pool.Exec(ctx, "INSERT INTO sealed_things (id, sealed) VALUES ($1, $2)", id, v); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, "INSERT INTO sealed_things (id, sealed) VALUES ('none', NULL)"); err != nil {
		t.Fatal(err)
	}
	meanwhile := box.Seal([]byte("value b, new"), ad("b"))
	touched := map[string]int{}
	col := postgres.SealedColumn{
		What: "things", Table: "sealed_things", Column: "sealed", Parts: []string{"id"},
		Binding: func(parts []string) ([]byte, error) {
			// Other writers, between the read and the write.
			id := parts[0]
			touched[id]++
			var err error
			switch {
			case id == "b":
				_, err = pool.Exec(ctx, "UPDATE sealed_things SET sealed = $1 WHERE id = 'b'", meanwhile)
			case id == "e" && touched[id] == 1, id == "f":
				_, err = pool.Exec(ctx, "UPDATE sealed_things SET touched = touched + 1 WHERE id = $1", id)
			}
			if err != nil {
				t.Error(err)
			}
			return ad(id), nil
		},
		Name: func(parts []string) string { return "thing " + parts[0] },
	}
	res, err := postgres.Reseal(ctx, pool, box, false, col)
	if err != nil {
		t.Fatal(err)
	}
	r := res[0]
	if r.Current != 1 || r.Resealed != 2 || r.Changed != 1 || r.Unreadable != 1 || len(r.Rows) != 1 || r.Rows[0] != "thing c" {
		t.Fatalf("result %+v", r)
	}
	if touched["b"] != 1 || touched["e"] != 2 || touched["f"] < 3 {
		t.Fatalf("passes over the rows: %v", touched)
	}
	if !strings.Contains(r.String(), "1 that changed while being sealed again") || !strings.Contains(r.String(), "(thing c)") {
		t.Fatalf("printed %q", r.String())
	}
	now := map[string][]byte{}
	for id := range rows {
		var v []byte
		if err := pool.QueryRow(ctx, "SELECT sealed FROM sealed_things WHERE id = $1", id).Scan(&v); err != nil {
			t.Fatal(err)
		}
		now[id] = v
	}
	for _, id := range []string{"a", "e"} {
		if got, err := box.Open(now[id], ad(id)); err != nil || string(got) != "value "+id || !bytes.HasPrefix(now[id], box.CurrentPrefix()) {
			t.Errorf("%s: %q, %v", id, got, err)
		}
	}
	if !bytes.Equal(now["b"], meanwhile) {
		t.Error("b: the value written meanwhile was overwritten")
	}
	for _, id := range []string{"c", "d", "f"} {
		if !bytes.Equal(now[id], rows[id]) {
			t.Errorf("%s changed", id)
		}
	}
}
