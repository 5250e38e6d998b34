package api_test

import (
	"encoding/json"
	"mime"
	"strings"
	"testing"

	"github.com/ragd/ragd/extract/extracttest"
)

// TestSearchSnippets: every hit of both search routes carries a snippet
// of its text with the query's words highlighted, at offsets (in runes)
// that point at those words in the snippet and in the text, and a
// source_url that opens the original file, at the hit's page for a PDF.
func TestSearchSnippets(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, key := b.TenantWithKey("acme")

	// A PDF whose third page alone speaks of zeppelins.
	pdf := b.Upload(key, "", "airships.pdf", extracttest.ChapterPDF(3, 2, 20, "The zeppelin hangars were rebuilt after the storm of the year.")).JSON(t)["id"].(string)
	md := b.Must(202, "POST", "/v1/documents", key, map[string]any{"format": "markdown", "title": "Café notes",
		"text": "# Café 日本語\n\nLe café 🙂 est très bon à Zürich; 👩‍👩‍👧 families keep running the cafés. " +
			strings.Repeat("Filler words about nothing in particular go here. ", 20) +
			"<img src=x onerror=alert(1)> The cafe runs late on Fridays."}).JSON(t)["id"].(string)
	for _, id := range []string{pdf, md} {
		if d := b.WaitDocument(key, id); d["status"] != "ready" {
			t.Fatalf("document %s: %v", id, d)
		}
	}
	b.Must(201, "POST", "/v1/agents", key, map[string]any{"id": "snippet-bot", "name": "S", "model": "m"})

	type hit struct {
		DocumentID      string `json:"document_id"`
		Text            string `json:"text"`
		PageStart       *int   `json:"page_start"`
		Snippet         string `json:"snippet"`
		Highlights      []struct{ Start, End int }
		ChunkHighlights []struct{ Start, End int } `json:"chunk_highlights"`
		SourceURL       string                     `json:"source_url"`
	}
	search := func(path, query string) []hit {
		var out struct{ Data []hit }
		r := b.Must(200, "POST", path, key, map[string]any{"query": query, "mode": "sparse", "top_k": 3})
		if err := json.Unmarshal(r.Body, &out); err != nil || len(out.Data) == 0 {
			t.Fatalf("%s %q: no hits", path, query)
		}
		return out.Data
	}
	// words returns the highlighted runes of text, lowercased.
	words := func(text string, spans []struct{ Start, End int }) []string {
		r := []rune(text)
		var out []string
		for _, s := range spans {
			if s.Start < 0 || s.End > len(r) || s.Start >= s.End {
				t.Fatalf("span %v out of %d runes of %q", s, len(r), text)
			}
			out = append(out, strings.ToLower(string(r[s.Start:s.End])))
		}
		return out
	}
	for _, path := range []string{"/v1/search", "/v1/agents/snippet-bot/search"} {
		// The PDF: the hit is on page 3, its link opens the PDF there.
		h := search(path, "zeppelin hangar")[0]
		if h.DocumentID != pdf || h.PageStart == nil || *h.PageStart != 3 {
			t.Fatalf("%s: zeppelin hit %+v", path, h)
		}
		if want := "/v1/documents/" + pdf + "/content#page=3"; h.SourceURL != want {
			t.Fatalf("%s: source_url %q, want %q", path, h.SourceURL, want)
		}
		if got := words(h.Snippet, h.Highlights); strings.Join(got, ",") != "zeppelin,hangars" {
			t.Fatalf("%s: snippet %q highlights %v", path, h.Snippet, got)
		}
		if got := words(h.Text, h.ChunkHighlights); strings.Join(got, ",") != "zeppelin,hangars" {
			t.Fatalf("%s: chunk highlights %v", path, got)
		}
		if len([]rune(h.Snippet)) > 210 || len(h.Snippet) >= len(h.Text) || !strings.Contains(h.Text, strings.Trim(h.Snippet, "…")) {
			t.Fatalf("%s: snippet %q is not a short window of the text", path, h.Snippet)
		}

		// Multi-byte text and stems: "run" finds "running" and "runs", "café"
		// finds "Café", "café" and "cafés" (not "cafe", another word to BM25).
		h = search(path, "run café")[0]
		if h.DocumentID != md || !strings.HasSuffix(h.SourceURL, "/v1/documents/"+md+"/content") {
			t.Fatalf("%s: café hit %+v", path, h)
		}
		got := words(h.Text, h.ChunkHighlights)
		if strings.Join(got, ",") != "café,café,running,cafés,runs" {
			t.Fatalf("%s: chunk highlights %v in %q", path, got, h.Text)
		}
		// Each snippet highlight is a chunk highlight: the same runes at the
		// same place once the snippet's offset in the text is known.
		inner := strings.TrimPrefix(h.Snippet, "…")
		shift := len([]rune(h.Snippet)) - len([]rune(inner))
		at := strings.Index(h.Text, strings.TrimSuffix(inner, "…"))
		if at < 0 {
			t.Fatalf("%s: snippet %q not in the text", path, h.Snippet)
		}
		offset := len([]rune(h.Text[:at])) - shift
		chunk := map[[2]int]bool{}
		for _, c := range h.ChunkHighlights {
			chunk[[2]int{c.Start, c.End}] = true
		}
		if len(h.Highlights) == 0 {
			t.Fatalf("%s: no highlights in %q", path, h.Snippet)
		}
		for _, s := range h.Highlights {
			if !chunk[[2]int{s.Start + offset, s.End + offset}] {
				t.Fatalf("%s: snippet highlight %v (%q) is no chunk highlight %v", path, s, words(h.Snippet, h.Highlights), h.ChunkHighlights)
			}
		}
	}

	// The PDF's source_url opens in the browser; other files download.
	c := b.Must(200, "GET", "/v1/documents/"+pdf+"/content", key, nil)
	if disp, _, _ := mime.ParseMediaType(c.Header.Get("Content-Disposition")); disp != "inline" || c.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("PDF content: %v", c.Header)
	}
	c = b.Must(200, "GET", "/v1/documents/"+md+"/content", key, nil)
	if disp, _, _ := mime.ParseMediaType(c.Header.Get("Content-Disposition")); disp != "attachment" || c.Header.Get("Content-Security-Policy") != "sandbox" {
		t.Fatalf("markdown content: %v", c.Header)
	}
}
