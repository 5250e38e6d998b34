package api_test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ragd/ragd/extract/extracttest"
)

// TestProtectedPDF: a PDF protected with a user password is read with the
// password given on upload or reindex, which is used for that job only:
// it is nowhere in the database, the job arguments, the logs or any
// answer afterwards, and the stored file is the one uploaded.
func TestProtectedPDF(t *testing.T) {
	t.Parallel()
	const password = "Tr0ub4dor&3 kept-nowhere"
	locked := func(t *testing.T, cipher ...string) []byte {
		t.Helper()
		return extracttest.EncryptPDF(t, extracttest.ReportPDF(), t.TempDir(), "locked", append([]string{password, "owner-pw-also-secret"}, cipher...)...)
	}

	t.Run("PasswordOpensItAndIsNotKept", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, key := b.TenantWithKey("acme")
		pdf := locked(t, "256")
		r := b.Upload(key, "", "statement.pdf", pdf, "password", password)
		if r.Status != 202 {
			t.Fatalf("upload: %d %s", r.Status, r.Body)
		}
		id := r.JSON(t)["id"].(string)
		if d := b.WaitDocument(key, id); d["status"] != "ready" {
			t.Fatalf("document: %v", d)
		}
		if text := b.chunkText(key, id); !strings.Contains(text, "Vectors live in Qdrant") {
			t.Fatalf("chunks: %q", text)
		}
		// The file kept is the one uploaded, still protected.
		content := b.Must(200, "GET", "/v1/documents/"+id+"/content", key, nil)
		if !bytes.Equal(content.Body, pdf) {
			t.Fatal("the stored file is not the uploaded one")
		}
		answers := [][]byte{r.Body, b.Must(200, "GET", "/v1/documents/"+id, key, nil).Body,
			b.Must(200, "GET", "/v1/documents", key, nil).Body, b.Must(200, "GET", "/v1/documents/"+id+"/chunks", key, nil).Body}
		b.assertPasswordNowhere(password, answers...)
	})

	t.Run("MissingThenGivenOnReupload", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, key := b.TenantWithKey("acme")
		pdf := locked(t, "128", "--use-aes=y")
		id := b.Upload(key, "", "form.pdf", pdf).JSON(t)["id"].(string)
		d := b.WaitDocument(key, id)
		e, _ := d["error"].(map[string]any)
		if d["status"] != "failed" || e["code"] != "pdf_encrypted" || !strings.Contains(e["message"].(string), "password field") {
			t.Fatalf("without a password: %v", d)
		}
		// The same bytes with the password: the failed document goes again.
		r := b.Upload(key, "", "form.pdf", pdf, "password", password)
		if r.Status != 200 || r.JSON(t)["id"] != id {
			t.Fatalf("re-upload: %d %s", r.Status, r.Body)
		}
		if d := b.WaitDocument(key, id); d["status"] != "ready" || d["content_version"] != float64(2) {
			t.Fatalf("after re-upload with the password: %v", d)
		}
		b.assertPasswordNowhere(password, r.Body)
	})

	t.Run("WrongThenRightOnReindex", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, key := b.TenantWithKey("acme")
		pdf := locked(t, "128", "--use-aes=n")
		id := b.Upload(key, "", "old.pdf", pdf, "password", "not it").JSON(t)["id"].(string)
		d := b.WaitDocument(key, id)
		e, _ := d["error"].(map[string]any)
		if d["status"] != "failed" || e["code"] != "pdf_encrypted" || !strings.Contains(e["message"].(string), "does not open") {
			t.Fatalf("wrong password: %v", d)
		}
		r := b.Must(202, "POST", "/v1/documents/"+id+"/reindex", key, map[string]any{"password": password})
		if d := b.WaitDocument(key, id); d["status"] != "ready" {
			t.Fatalf("reindex with the password: %v", d)
		}
		// A reindex without a body still works, and needs the password again.
		b.Must(202, "POST", "/v1/documents/"+id+"/reindex", key, nil)
		if d := b.WaitDocument(key, id); d["status"] != "failed" {
			t.Fatalf("reindex without the password: %v", d)
		}
		b.assertPasswordNowhere(password, r.Body)
		b.assertPasswordNowhere("not it")
	})

	t.Run("TooLong", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, key := b.TenantWithKey("acme")
		r := b.Upload(key, "", "x.pdf", locked(t, "256"), "password", strings.Repeat("p", 1025))
		if r.Status != 400 || r.Code(t) != "validation_failed" {
			t.Fatalf("upload: %d %s", r.Status, r.Body)
		}
		b.noDocuments()
	})
}

// assertPasswordNowhere fails the test when password appears in any
// column of any table (text, JSON, arrays and bytea, River's jobs
// included), in the server's log, or in the answers given.
func (b *testBundle) assertPasswordNowhere(password string, answers ...[]byte) {
	b.t.Helper()
	ctx := b.t.Context()
	rows, err := b.pool.Query(ctx, `SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns
		WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND data_type IN
		('text', 'character varying', 'character', 'json', 'jsonb', 'bytea', 'ARRAY', 'USER-DEFINED')`)
	if err != nil {
		b.t.Fatal(err)
	}
	type column struct{ schema, table, name, typ string }
	cols, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (column, error) {
		var c column
		return c, r.Scan(&c.schema, &c.table, &c.name, &c.typ)
	})
	if err != nil {
		b.t.Fatal(err)
	}
	tables := map[string]bool{}
	for _, c := range cols {
		tables[c.table] = true
		q := pgx.Identifier{c.schema, c.table}.Sanitize()
		col := pgx.Identifier{c.name}.Sanitize()
		sql, args := fmt.Sprintf("SELECT count(*) FROM %s WHERE position($1 IN %s::text) > 0", q, col), []any{password}
		if c.typ == "bytea" {
			// The password's bytes, and its text in hex (bytea shown as text).
			sql = fmt.Sprintf("SELECT count(*) FROM %s WHERE position($1::bytea IN %s) > 0 OR position($2 IN %s::text) > 0", q, col, col)
			args = []any{[]byte(password), hex.EncodeToString([]byte(password))}
		}
		var n int
		if err := b.pool.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
			b.t.Fatalf("%s.%s: %v", c.table, c.name, err)
		}
		if n > 0 {
			b.t.Errorf("the password is stored in %s.%s", c.table, c.name)
		}
	}
	for _, must := range []string{"documents", "document_blob_parts", "river_job", "document_passwords"} {
		if !tables[must] {
			b.t.Errorf("table %s was not searched", must)
		}
	}
	var kept int
	if err := b.pool.QueryRow(ctx, "SELECT count(*) FROM document_passwords").Scan(&kept); err != nil || kept != 0 {
		b.t.Errorf("%d sealed passwords left after the jobs ended (%v)", kept, err)
	}
	if strings.Contains(b.logs.String(), password) {
		b.t.Error("the password is in the server's log")
	}
	for _, a := range answers {
		if bytes.Contains(a, []byte(password)) {
			b.t.Errorf("an answer holds the password: %s", a)
		}
	}
}
