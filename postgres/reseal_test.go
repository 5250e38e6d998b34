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
// read and its write is the writer's, and Reseal counts it as changed
// rather than overwrite it; the others are sealed again, and a value no
// key opens is named and left as it is.
func TestResealLeavesRowsChangedMeanwhile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	if _, err := pool.Exec(ctx, "CREATE TABLE sealed_things (id text PRIMARY KEY, sealed bytea)"); err != nil {
		t.Fatal(err)
	}
	oldKey := secret.NewKey()
	oldBox, _ := secret.NewBox(oldKey)
	box, _ := secret.NewBox(secret.NewKey(), oldKey)
	stranger, _ := secret.NewBox(secret.NewKey())
	ad := func(id string) []byte { return []byte("thing " + id) }
	rows := map[string][]byte{
		"a": oldBox.Seal([]byte("value a"), ad("a")),
		"b": oldBox.Seal([]byte("value b"), ad("b")), // written meanwhile
		"c": stranger.Seal([]byte("value c"), ad("c")),
		"d": box.Seal([]byte("value d"), ad("d")), // already current
	}
	for id, v := range rows {
		if _, err := pool.Exec(ctx, "INSERT INTO sealed_things VALUES ($1, $2)", id, v); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, "INSERT INTO sealed_things VALUES ('none', NULL)"); err != nil {
		t.Fatal(err)
	}
	meanwhile := box.Seal([]byte("value b, new"), ad("b"))
	col := postgres.SealedColumn{
		What: "things", Table: "sealed_things", Column: "sealed", Parts: []string{"id"},
		Binding: func(parts []string) ([]byte, error) {
			if parts[0] == "b" { // another writer, between the read and the write
				if _, err := pool.Exec(ctx, "UPDATE sealed_things SET sealed = $1 WHERE id = 'b'", meanwhile); err != nil {
					t.Error(err)
				}
			}
			return ad(parts[0]), nil
		},
		Name: func(parts []string) string { return "thing " + parts[0] },
	}
	res, err := postgres.Reseal(ctx, pool, box, false, col)
	if err != nil {
		t.Fatal(err)
	}
	r := res[0]
	if r.Current != 1 || r.Resealed != 1 || r.Changed != 1 || r.Unreadable != 1 || len(r.Rows) != 1 || r.Rows[0] != "thing c" {
		t.Fatalf("result %+v", r)
	}
	if !strings.Contains(r.String(), "1 changed meanwhile") || !strings.Contains(r.String(), "(thing c)") {
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
	if got, err := box.Open(now["a"], ad("a")); err != nil || string(got) != "value a" || !bytes.HasPrefix(now["a"], box.CurrentPrefix()) {
		t.Errorf("a: %q, %v", got, err)
	}
	if !bytes.Equal(now["b"], meanwhile) {
		t.Error("b: the value written meanwhile was overwritten")
	}
	if !bytes.Equal(now["c"], rows["c"]) || !bytes.Equal(now["d"], rows["d"]) {
		t.Error("c or d changed")
	}
}
