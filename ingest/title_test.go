package ingest_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/ragd/ragd/chunker"
	"github.com/ragd/ragd/embedder"
	"github.com/ragd/ragd/extract"
	"github.com/ragd/ragd/ingest"
	"github.com/ragd/ragd/postgres/pgtest"
	"github.com/ragd/ragd/search"
)

// titledPage is a web page saved as source.html: its <title> carries the
// site's name, and its body never says "quarterly", so a chunk found by
// that word was indexed with the document's title.
const titledPage = `<!doctype html><html><head><meta charset="utf-8">
<title>Quarterly Widget Report | Example News</title>
<meta property="og:site_name" content="Example News"></head>
<body><header><a href="/">Example News</a></header>
<main><article><h1>Widget sales this season</h1>
<p>Sales of blue widgets rose in every region, led by the northern warehouses.</p>
<p>Returns fell to two percent after the packaging changed in the spring.</p>
</article></main></body></html>`

// TestDerivedTitles: a document uploaded without a title is named after
// its file until the pipeline reads its own title, which then is the
// document's title, its chunks' point title and part of their indexed
// text; an explicit title wins; a reindex derives the title again.
func TestDerivedTitles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	tenant := newTenant(t, pool)
	vectors, err := search.OpenEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	local, _ := embedder.NewLocal(32)
	stk := newStack(t, pool, search.SingleIndex(local, vectors))
	p := stk.pipeline(t, ingest.PipelineConfig{Chunking: chunker.Options{MaxTokens: 64, OverlapTokens: 4}})
	store := stk.docs

	upload := func(u ingest.Upload) ingest.Document {
		t.Helper()
		c, err := store.Create(ctx, tenant.ID, u, ingest.CreateOptions{AllowDuplicate: true})
		if err != nil {
			t.Fatal(err)
		}
		return c.Document
	}
	process := func(d ingest.Document) ingest.Document {
		t.Helper()
		if err := p.Process(ctx, tenant.ID, d.ID, d.ContentVersion); err != nil {
			t.Fatal(err)
		}
		got, err := store.Get(ctx, tenant.ID, d.ID)
		if err != nil || got.Status != ingest.StatusReady {
			t.Fatalf("after processing: %s, %v (%+v)", got.Status, err, got.Error)
		}
		return got
	}
	// pointTitles are the titles of the document's points that a sparse
	// query for word finds.
	pointTitles := func(id uuid.UUID, word string) []string {
		t.Helper()
		hits, err := vectors.Query(ctx, tenant.ID, search.Query{Mode: search.ModeSparse, Sparse: search.QuerySparse(word), TopK: 10,
			Filter: search.Filter{DocumentIDs: []uuid.UUID{id}}})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, h := range hits {
			out = append(out, h.Title)
		}
		return out
	}
	const derived = "Quarterly Widget Report"
	html := ingest.BytesContent([]byte(titledPage))

	// No title: the file name until processing, then the page's own.
	doc := upload(ingest.Upload{Filename: "source.html", Content: html, Type: extract.TypeHTML})
	if doc.Title != "source.html" || doc.TitleSource != ingest.TitleFilename || doc.Filename == nil || *doc.Filename != "source.html" {
		t.Fatalf("uploaded: title %q (%s), filename %v", doc.Title, doc.TitleSource, doc.Filename)
	}
	doc = process(doc)
	if doc.Title != derived || doc.TitleSource != ingest.TitleDocument || *doc.Filename != "source.html" {
		t.Fatalf("processed: title %q (%s), filename %q; want %q from the document", doc.Title, doc.TitleSource, *doc.Filename, derived)
	}
	if got := pointTitles(doc.ID, "quarterly"); len(got) == 0 || got[0] != derived {
		t.Fatalf("points found by a word of the title alone: %q; want them titled %q", got, derived)
	}

	// An explicit title wins, before and after processing.
	named := upload(ingest.Upload{Title: "Board pack", Filename: "source.html", Content: html, Type: extract.TypeHTML})
	if named.TitleSource != ingest.TitleUpload {
		t.Fatalf("explicit title's source %q", named.TitleSource)
	}
	named = process(named)
	if named.Title != "Board pack" || named.TitleSource != ingest.TitleUpload {
		t.Fatalf("explicit title after processing: %q (%s)", named.Title, named.TitleSource)
	}
	if got := pointTitles(named.ID, "widgets"); len(got) == 0 || got[0] != "Board pack" {
		t.Fatalf("points of the explicitly titled document: %q", got)
	}
	if _, err := store.Reindex(ctx, tenant.ID, named.ID, ingest.ReindexOptions{}); err != nil {
		t.Fatal(err)
	}
	if named, _ = store.Get(ctx, tenant.ID, named.ID); process(named).Title != "Board pack" {
		t.Fatal("a reindex replaced the explicit title")
	}

	// A reindex derives the title again: one an older ragd derived
	// differently, and a file-name title from before titles were derived
	// (what migration 0022 marks 'filename').
	for _, stale := range []struct{ title, source string }{{"Old derived title", "document"}, {"source.html", "filename"}} {
		if _, err := pool.Exec(ctx, "UPDATE documents SET title = $1, title_source = $2 WHERE id = $3", stale.title, stale.source, doc.ID); err != nil {
			t.Fatal(err)
		}
		re, err := store.Reindex(ctx, tenant.ID, doc.ID, ingest.ReindexOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if re.Title != stale.title {
			t.Fatalf("queued again: title %q, want %q until the run", re.Title, stale.title)
		}
		re = process(re)
		if re.Title != derived || re.TitleSource != ingest.TitleDocument {
			t.Fatalf("reindexed from %+v: title %q (%s), want %q", stale, re.Title, re.TitleSource, derived)
		}
		if got := pointTitles(re.ID, "quarterly"); len(got) == 0 || got[0] != derived {
			t.Fatalf("reindexed points: %q", got)
		}
	}

	// Plain text has no title of its own: the file name stays.
	txt := process(upload(ingest.Upload{Filename: "notes.txt", Content: ingest.BytesContent([]byte("Quarterly Widget Report\n\nSales rose.")), Type: extract.TypeText}))
	if txt.Title != "notes.txt" || txt.TitleSource != ingest.TitleFilename {
		t.Fatalf("text: title %q (%s)", txt.Title, txt.TitleSource)
	}
	// A title that is only the file name again is no title.
	md := process(upload(ingest.Upload{Filename: "release_notes.md", Content: ingest.BytesContent([]byte("# release_notes\n\nFixed the widget.")), Type: extract.TypeMarkdown}))
	if md.Title != "release_notes.md" || md.TitleSource != ingest.TitleFilename {
		t.Fatalf("markdown titled by its file name: title %q (%s)", md.Title, md.TitleSource)
	}
	// Without a file name or a title, the type names it.
	anon := process(upload(ingest.Upload{Content: ingest.BytesContent([]byte("just words here")), Type: extract.TypeText}))
	if anon.Title != "Untitled text" || anon.TitleSource != ingest.TitleFilename {
		t.Fatalf("anonymous text: title %q (%s)", anon.Title, anon.TitleSource)
	}
}
