package api_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/ragd/ragd/api/apitest"
	"github.com/ragd/ragd/extract/extracttest"
	"github.com/ragd/ragd/search"
)

func TestDocuments(t *testing.T) {
	t.Parallel()

	t.Run("PDFBecomesReadyWithPagesAndHeadings", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, key := b.TenantWithKey("acme")
		pdf := extracttest.ReportPDF()
		r := b.Upload(key, "", "report.pdf", pdf, "title", "Q3 report", "tags", "reports", "tags", "2026", "metadata", `{"team":"research","year":2026,"public":false}`)
		if r.Status != 202 {
			t.Fatalf("upload: %d %s", r.Status, r.Body)
		}
		doc := r.JSON(t)
		id := doc["id"].(string)
		if doc["status"] != "queued" || doc["type"] != "pdf" || doc["title"] != "Q3 report" || r.Header.Get("Location") != "/v1/documents/"+id {
			t.Fatalf("upload answered %s", r.Body)
		}
		d := b.WaitDocument(key, id)
		if d["status"] != "ready" || d["page_count"] != 2.0 || d["chunk_count"].(float64) < 1 || d["progress"] != 1.0 || d["error"] != nil {
			t.Fatalf("document = %v", d)
		}
		if tm := d["timings"].(map[string]any); tm["started_at"] == nil || tm["finished_at"] == nil || tm["total_ms"] == nil || tm["embed_ms"] == nil {
			t.Fatalf("timings = %v", tm)
		}
		// Ready means searchable: a point per chunk, with its payload.
		docID, tenantID := mustUUID(t, id), mustUUID(t, doc["tenant_id"].(string))
		if n, _ := b.vectors.Count(t.Context(), tenantID, search.Filter{DocumentIDs: []uuid.UUID{docID}}); n != int(d["chunk_count"].(float64)) {
			t.Fatalf("%d points for %v chunks", n, d["chunk_count"])
		}
		if n, _ := b.vectors.Count(t.Context(), tenantID, search.Filter{TagsAll: []string{"reports", "2026"}, Metadata: map[string]any{"team": "research"}}); n == 0 {
			t.Fatal("points lack the document's tags and metadata")
		}
		hits, err := b.vectors.Query(t.Context(), tenantID, search.Query{Mode: search.ModeSparse, Sparse: search.QuerySparse("Qdrant tenant filter"), TopK: 1})
		// The PDF's small sections (Introduction, Methods, Methods > Data)
		// make one chunk: under no one heading, each part under its own.
		if err != nil || len(hits) != 1 || hits[0].PageEnd != 2 || hits[0].Title != "Q3 report" || len(hits[0].Sections) == 0 || hits[0].CharEnd == 0 {
			t.Fatalf("sparse query: %+v, %v", hits, err)
		}
		chunks := b.Must(200, "GET", "/v1/documents/"+id+"/chunks", key, nil).JSON(t)["data"].([]any)
		var pages, headings []string
		for _, c := range chunks {
			m := c.(map[string]any)
			pages = append(pages, fmt.Sprintf("%v-%v", m["page_start"], m["page_end"]))
			for _, h := range m["heading_path"].([]any) {
				headings = append(headings, h.(string))
			}
			for _, sec := range m["sections"].([]any) {
				for _, h := range sec.(map[string]any)["heading_path"].([]any) {
					headings = append(headings, h.(string))
				}
			}
			if m["token_count"].(float64) < 1 || m["end_offset"].(float64) <= m["start_offset"].(float64) {
				t.Fatalf("chunk = %v", m)
			}
		}
		if !strings.Contains(strings.Join(pages, ","), "1-") || !strings.Contains(strings.Join(headings, ","), "Introduction") {
			t.Fatalf("chunks lack pages or headings: pages %v headings %v", pages, headings)
		}
		content := b.Must(200, "GET", "/v1/documents/"+id+"/content", key, nil)
		if !bytes.Equal(content.Body, pdf) || content.Header.Get("Content-Type") != "application/pdf" ||
			!strings.HasPrefix(content.Header.Get("Content-Disposition"), "inline") {
			t.Fatalf("content: %d bytes, headers %v", len(content.Body), content.Header)
		}
		list := b.Must(200, "GET", "/v1/documents?tag=reports&status=ready", key, nil).JSON(t)["data"].([]any)
		if len(list) != 1 {
			t.Fatalf("filtered list = %v", list)
		}
		if list := b.Must(200, "GET", "/v1/documents?tag=other", key, nil).JSON(t)["data"].([]any); len(list) != 0 {
			t.Fatalf("tag filter let through %v", list)
		}
	})

	t.Run("JSONTextAndMarkdown", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, key := b.TenantWithKey("acme")
		r := b.Must(202, "POST", "/v1/documents", key, map[string]any{
			"text": "# Guide\n\nInstall it.\n\n## Usage\n\nRun it.", "format": "markdown", "title": "Guide", "external_id": "kb-42",
		})
		id := r.JSON(t)["id"].(string)
		if d := b.WaitDocument(key, id); d["status"] != "ready" || d["type"] != "markdown" {
			t.Fatalf("document = %v", d)
		}
		list := b.Must(200, "GET", "/v1/documents?external_id=kb-42", key, nil).JSON(t)["data"].([]any)
		if len(list) != 1 {
			t.Fatalf("external_id filter = %v", list)
		}
		for name, body := range map[string]any{
			"Blank":       map[string]any{"text": "   "},
			"BadFormat":   map[string]any{"text": "x", "format": "pdf"},
			"BadMetadata": map[string]any{"text": "x", "metadata": map[string]any{"nested": map[string]any{"a": 1}}},
			"BadTags":     map[string]any{"text": "x", "tags": []string{""}},
			"BadChunking": map[string]any{"text": "x", "max_tokens": 5},
		} {
			if code := b.Must(400, "POST", "/v1/documents", key, body).Code(t); code != "validation_failed" {
				t.Fatalf("%s: code %q", name, code)
			}
		}
	})

	t.Run("DuplicatesAndIdempotency", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, key := b.TenantWithKey("acme")
		data := []byte("the same bytes twice")
		first := b.Upload(key, "", "a.txt", data).JSON(t)["id"]
		again := b.Upload(key, "", "b.txt", data)
		if again.Status != 200 || again.JSON(t)["id"] != first {
			t.Fatalf("duplicate upload: %d %s", again.Status, again.Body)
		}
		allowed := b.Upload(key, "?duplicate=allow", "c.txt", data)
		if allowed.Status != 202 || allowed.JSON(t)["id"] == first {
			t.Fatalf("?duplicate=allow: %d %s", allowed.Status, allowed.Body)
		}
		// Another tenant's identical bytes are its own document.
		_, keyB := b.TenantWithKey("other")
		if r := b.Upload(keyB, "", "a.txt", data); r.Status != 202 {
			t.Fatalf("other tenant's upload: %d", r.Status)
		}

		ct, body := apitest.MultipartBody(t, "idem.txt", []byte("retried upload"))
		r1 := b.Req("POST", "/v1/documents?duplicate=allow", key, body, "Content-Type", ct, "Idempotency-Key", "retry-1")
		r2 := b.Req("POST", "/v1/documents?duplicate=allow", key, body, "Content-Type", ct, "Idempotency-Key", "retry-1")
		if r1.Status != 202 || r2.Status != 202 || r1.JSON(t)["id"] != r2.JSON(t)["id"] {
			t.Fatalf("idempotent retry: %d %s / %d %s", r1.Status, r1.Body, r2.Status, r2.Body)
		}
		ct2, body2 := apitest.MultipartBody(t, "idem.txt", []byte("a different upload"))
		r3 := b.Req("POST", "/v1/documents", key, body2, "Content-Type", ct2, "Idempotency-Key", "retry-1")
		if r3.Status != 409 || r3.Code(t) != "conflict" {
			t.Fatalf("key reused for another request: %d %s", r3.Status, r3.Body)
		}
	})

	t.Run("ReindexMakesANewVersion", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, key := b.TenantWithKey("acme")
		id := b.Upload(key, "", "notes.md", []byte("# Notes\n\nSome text to index.")).JSON(t)["id"].(string)
		b.WaitDocument(key, id)
		r := b.Must(202, "POST", "/v1/documents/"+id+"/reindex", key, nil).JSON(t)
		if r["content_version"] != 2.0 || r["status"] != "queued" {
			t.Fatalf("reindex = %v", r)
		}
		if d := b.WaitDocument(key, id); d["status"] != "ready" || d["content_version"] != 2.0 {
			t.Fatalf("after reindex = %v", d)
		}
		tenantID := mustUUID(t, r["tenant_id"].(string))
		// Version 1's points go right after the commit that makes version
		// 2 searchable (until it, search shows version 1): by then, or
		// within moments of it, none may be left.
		apitest.Eventually(t, "no point of version 1 left after the reindex", func() bool {
			hits, err := b.vectors.Query(t.Context(), tenantID, search.Query{Mode: search.ModeSparse, Sparse: search.QuerySparse("text index"), TopK: 50})
			if err != nil || len(hits) == 0 {
				t.Fatalf("no points after reindex: %v", err)
			}
			return !slices.ContainsFunc(hits, func(h search.Hit) bool { return h.ContentVersion != 2 })
		})
		var versions []int
		rows, _ := b.pool.Query(t.Context(), "SELECT DISTINCT content_version FROM chunks WHERE document_id = $1", id)
		for rows.Next() {
			var v int
			rows.Scan(&v)
			versions = append(versions, v)
		}
		if len(versions) != 1 || versions[0] != 2 {
			t.Fatalf("chunk versions after reindex = %v, want only 2", versions)
		}
	})

	t.Run("DeleteLeavesListsAtOnceThenIsGone", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		tid, key := b.TenantWithKey("acme")
		tenant := mustUUID(t, tid)
		id := b.Upload(key, "", "gone.txt", []byte("soon gone")).JSON(t)["id"].(string)
		b.WaitDocument(key, id)
		if d := b.Must(202, "DELETE", "/v1/documents/"+id, key, nil).JSON(t); d["status"] != "deleting" {
			t.Fatalf("delete answered %v", d)
		}
		if list := b.Must(200, "GET", "/v1/documents", key, nil).JSON(t)["data"].([]any); len(list) != 0 {
			t.Fatalf("a deleting document is listed: %v", list)
		}
		apitest.Eventually(t, "the deleted document to be gone (404)", func() bool {
			return b.Req("GET", "/v1/documents/"+id, key, nil).Status == 404
		})
		var n int
		b.pool.QueryRow(t.Context(), "SELECT (SELECT count(*) FROM chunks) + (SELECT count(*) FROM document_blob_parts)").Scan(&n)
		if n != 0 {
			t.Fatalf("%d chunk or blob rows left after delete", n)
		}
		if n, _ := b.vectors.Count(t.Context(), tenant, search.Filter{}); n != 0 {
			t.Fatalf("%d points left after delete", n)
		}
	})

	t.Run("ScopesAndIsolation", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, keyA := b.TenantWithKey("a")
		_, readOnly := b.TenantWithKey("ro", "documents:read")
		_, keyB := b.TenantWithKey("b", "documents:read", "documents:write")
		id := b.Upload(keyA, "", "a.txt", []byte("tenant A's secret plans")).JSON(t)["id"].(string)
		b.WaitDocument(keyA, id)
		if code := b.Upload(readOnly, "", "x.txt", []byte("x")).Code(t); code != "forbidden_scope" {
			t.Fatalf("upload with documents:read only: %q", code)
		}
		for _, rt := range []struct{ method, path string }{
			{"GET", "/v1/documents/" + id}, {"GET", "/v1/documents/" + id + "/chunks"}, {"GET", "/v1/documents/" + id + "/content"},
			{"POST", "/v1/documents/" + id + "/reindex"}, {"DELETE", "/v1/documents/" + id},
		} {
			if r := b.Req(rt.method, rt.path, keyB, nil); r.Status != 404 {
				t.Errorf("%s %s with B's key: %d %s", rt.method, rt.path, r.Status, r.Body)
			}
		}
		if body := string(b.Must(200, "GET", "/v1/documents", keyB, nil).Body); strings.Contains(body, id) {
			t.Fatalf("B's list shows A's document")
		}
		if d := b.Must(200, "GET", "/v1/documents/"+id, keyA, nil).JSON(t); d["status"] != "ready" || d["content_version"] != 1.0 {
			t.Fatalf("A's document changed: %v", d)
		}
	})
}

// TestDocumentsBadInput uploads every kind of bad file. Each ends in a 4xx
// at upload or a failed document with the right code, and the worker goes
// on to process a good document afterwards.
func TestDocumentsBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, key := b.TenantWithKey("acme")
	good := extracttest.ReportPDF()
	random := make([]byte, 64<<10)
	for i := range random {
		random[i] = byte((i*2654435761)>>13) | 0x80
	}
	for i := 0; i < len(random); i += 97 {
		random[i] = 0
	}

	// Refused at upload.
	for _, tc := range []struct {
		name, filename string
		data           []byte
		status         int
		code           string
	}{
		{"EmptyFile", "empty.txt", nil, 400, "validation_failed"},
		{"RandomBytesNamedPDF", "scan.pdf", random, 415, "unsupported_media_type"},
		{"Image", "photo.txt", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00"), 415, "unsupported_media_type"},
		{"OverTheLimit", "big.txt", bytes.Repeat([]byte("a"), testMaxUpload+1), 413, "payload_too_large"},
		{"NoFilePart", "-", nil, 400, "validation_failed"},
		{"LegacyWordFile", "memo.doc", extracttest.CompoundFile("Root Entry", "WordDocument", "1Table"), 415, "unsupported_media_type"},
	} {
		r := b.Upload(key, "", tc.filename, tc.data)
		if r.Status != tc.status || r.Code(t) != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, r.Status, r.Body, tc.status, tc.code)
		}
	}
	if r := b.Req("POST", "/v1/documents", key, "not a form", "Content-Type", "text/plain"); r.Status != 415 {
		t.Errorf("text/plain body: %d", r.Status)
	}
	if r := b.Req("POST", "/v1/documents", key, "--x\r\ngarbage", "Content-Type", "multipart/form-data; boundary=x"); r.Status != 400 {
		t.Errorf("malformed multipart: %d %s", r.Status, r.Body)
	}

	// Accepted, then failed with a code.
	encrypted := encryptPDF(t, good)
	bomb := extracttest.ZipBombDOCX(16 << 20)
	noText := extracttest.MakePDF([]string{"0 0 1 rg 72 72 200 200 re f\n"})
	type failCase struct {
		name, filename string
		data           []byte
		code           string // "" means it must become ready
	}
	cases := []failCase{
		{"TruncatedPDF", "cut.pdf", good[:len(good)/2], "pdf_malformed"},
		{"EncryptedPDF", "locked.pdf", encrypted, "pdf_encrypted"},
		{"ScannedPDF", "scan.pdf", noText, "no_text"},
		{"ZipBombNamedDocx", "bomb.docx", bomb, "too_large"},
		{"PasswordProtectedXLSX", "budget.xlsx", extracttest.CompoundFile("Root Entry", "EncryptionInfo", "EncryptedPackage"), "encrypted"},
		{"HugeSingleLine", "line.txt", bytes.Repeat([]byte("x"), 20_000_000), "too_large"},
		{"InvalidUTF8", "latin1.txt", []byte("caf\xe9 cr\xe8me br\xfbl\xe9e"), ""},
		{"DeepHTML", "deep.html", []byte(strings.Repeat("<div>", 20000) + "deep text" + strings.Repeat("</div>", 20000)), ""},
		{"GoodAfterwards", "good.pdf", good, ""},
	}
	ids := map[string]string{}
	for _, tc := range cases {
		r := b.Upload(key, "?duplicate=allow", tc.filename, tc.data)
		if r.Status != 202 {
			t.Fatalf("%s: upload answered %d %s", tc.name, r.Status, r.Body)
		}
		ids[tc.name] = r.JSON(t)["id"].(string)
	}
	for _, tc := range cases {
		d := b.WaitDocument(key, ids[tc.name])
		if tc.code == "" {
			if d["status"] != "ready" {
				t.Errorf("%s: %v %v, want ready", tc.name, d["status"], d["error"])
			}
			continue
		}
		e, _ := d["error"].(map[string]any)
		if d["status"] != "failed" || e == nil || e["code"] != tc.code || e["message"] == "" {
			t.Errorf("%s: status %v error %v, want failed %s", tc.name, d["status"], d["error"], tc.code)
		}
	}
	// Permanent failures were not retried: their jobs completed at once,
	// the document's failure their output.
	// River records a completion a moment after the work is done.
	var attempts, failed int
	apitest.Eventually(t, "the failed documents' jobs completed", func() bool {
		b.pool.QueryRow(t.Context(), `SELECT coalesce(max(attempt), 0), count(*) FROM river_job
			WHERE kind = 'ingest_document' AND state = 'completed' AND metadata->'output'->>'document_status' = 'failed'`).Scan(&attempts, &failed)
		return failed >= len(cases)-3
	})
	if attempts != 1 {
		t.Errorf("permanently failed jobs ran up to %d times; want once", attempts)
	}
}

func encryptPDF(t *testing.T, pdf []byte) []byte {
	t.Helper()
	qpdf, err := exec.LookPath("qpdf")
	if err != nil {
		t.Fatal("qpdf is missing: install it (make test does)")
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
	os.WriteFile(in, pdf, 0o600)
	if b, err := exec.Command(qpdf, "--encrypt", "user-pw", "owner-pw", "256", "--", in, out).CombinedOutput(); err != nil {
		t.Fatalf("qpdf: %v %s", err, b)
	}
	data, _ := os.ReadFile(out)
	return data
}

// TestListDocumentsNewestFirst: ?order=desc lists newest first, its cursor
// continues in that order, and other orders are refused.
func TestListDocumentsNewestFirst(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, key := b.TenantWithKey("order")
	var ids []string
	for _, name := range []string{"one.txt", "two.txt", "three.txt"} {
		ids = append(ids, b.Upload(key, "", name, []byte("the text of "+name)).JSON(t)["id"].(string))
	}
	page := func(path string) ([]string, string) {
		t.Helper()
		ids, next, _ := listDocuments(t, b, key, path)
		return ids, next
	}
	first, next := page("/v1/documents?order=desc&limit=2")
	rest, _ := page("/v1/documents?order=desc&limit=2&cursor=" + next)
	if got, want := append(first, rest...), []string{ids[2], ids[1], ids[0]}; !slices.Equal(got, want) {
		t.Fatalf("newest first: %v, want %v", got, want)
	}
	if asc, _ := page("/v1/documents?order=asc"); !slices.Equal(asc, ids) {
		t.Fatalf("oldest first: %v, want %v", asc, ids)
	}
	for _, bad := range []string{"DESC", "newest", "1", "desc%00"} {
		if r := b.Req("GET", "/v1/documents?order="+bad, key, nil); r.Status != 400 || r.Code(t) != "validation_failed" {
			t.Errorf("order=%s: %d %s", bad, r.Status, r.Body)
		}
	}
}
