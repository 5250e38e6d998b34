package postgres_test

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"testing"

	"github.com/google/uuid"

	"github.com/ragd/ragd/postgres"
	"github.com/ragd/ragd/postgres/pgtest"
)

// TestMigration0022TitleSource: documents stored before titles were
// derived become 'filename' when their title is their file name (or the
// "Untitled <type>" given to one without a name), so that their next
// reindex derives one; every other title was the uploader's.
func TestMigration0022TitleSource(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	pool, err := postgres.Open(ctx, pgtest.NewEmptyDatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := postgres.MigrateTo(ctx, pool, log, 21); err != nil {
		t.Fatalf("migrate to 21: %v", err)
	}
	tenant := uuid.New()
	if _, err := pool.Exec(ctx, "INSERT INTO tenants (id, name, slug) VALUES ($1, 'T', 't')", tenant); err != nil {
		t.Fatal(err)
	}
	rows := []struct {
		title    string
		filename *string
		typ      string
		want     string
	}{
		{"source.html", ptr("source.html"), "html", "filename"},
		{"Untitled text", nil, "text", "filename"},
		{"Quarterly report", ptr("source.html"), "html", "upload"},
		{"Source.html", ptr("source.html"), "html", "upload"}, // typed by someone
		{"Untitled pdf", nil, "text", "upload"},               // not the name ragd gives a text
		{"notes", nil, "markdown", "upload"},
	}
	ids := make([]uuid.UUID, len(rows))
	for i, r := range rows {
		ids[i] = uuid.New()
		sum := sha256.Sum256([]byte(r.title))
		if _, err := pool.Exec(ctx, `INSERT INTO documents (id, tenant_id, title, filename, type, size_bytes, sha256, status)
			VALUES ($1, $2, $3, $4, $5, 1, $6, 'ready')`, ids[i], tenant, r.title, r.filename, r.typ, sum[:]); err != nil {
			t.Fatal(err)
		}
	}
	res, err := postgres.MigrateSchema(ctx, pool, log)
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if len(res.Applied) == 0 || res.Applied[0] != "0022_document_title_source" {
		t.Fatalf("applied %v, want 0022_document_title_source first", res.Applied)
	}
	for i, r := range rows {
		var title, source string
		if err := pool.QueryRow(ctx, "SELECT title, title_source FROM documents WHERE id = $1", ids[i]).Scan(&title, &source); err != nil {
			t.Fatal(err)
		}
		if title != r.title || source != r.want {
			t.Errorf("%q (file %v, %s): title %q, source %q; want the title kept, source %q", r.title, r.filename, r.typ, title, source, r.want)
		}
	}
	// No other source exists.
	if _, err := pool.Exec(ctx, "UPDATE documents SET title_source = 'guess' WHERE id = $1", ids[0]); err == nil {
		t.Error("title_source took a value outside upload, filename, document")
	}
}
