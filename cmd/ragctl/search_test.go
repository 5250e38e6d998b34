package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ragd/ragd/api/apitest"
	"github.com/ragd/ragd/extract/extracttest"
)

// TestPrintHits: a hit prints as its score, title, pages and headings and
// its snippet, the highlights (in runes) in bold on a terminal only, and
// never a document's own escape sequences (their ESC is dropped); --full
// prints the whole text.
func TestPrintHits(t *testing.T) {
	raw := json.RawMessage(`{"data": [{"score": 0.8123, "document_title": "Café guide", "page_start": 3, "page_end": 4,
		"heading_path": ["Zürich", "Cafés"], "text": "Intro line.\nLe café 🙂 est bon\u001b[31m à Zürich. The end.",
		"snippet": "…Le café 🙂 est bon\u001b[31m à Zürich…",
		"highlights": [{"start": 4, "end": 8}, {"start": 26, "end": 32}, {"start": 2, "end": 3}],
		"chunk_highlights": [{"start": 15, "end": 19}, {"start": 37, "end": 43}]}]}`)
	print := func(terminal, full bool) string {
		var out bytes.Buffer
		e := &env{out: &out, terminal: terminal}
		if err := e.printHits(raw, full); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	plain := print(false, false)
	if want := "1. [0.812] Café guide, p. 3-4 — Zürich › Cafés\n   …Le café 🙂 est bon[31m à Zürich…\n\n"; plain != want {
		t.Fatalf("plain:\n%q\nwant\n%q", plain, want)
	}
	bold := print(true, false)
	if !strings.Contains(bold, "…Le \x1b[1mcafé\x1b[0m 🙂 est bon[31m à \x1b[1mZürich\x1b[0m…") || strings.Contains(bold, "\x1b[31m") {
		t.Fatalf("terminal:\n%q", bold)
	}
	full := print(true, true)
	if !strings.Contains(full, "   Intro line.\n   Le \x1b[1mcafé\x1b[0m 🙂 est bon[31m à \x1b[1mZürich\x1b[0m. The end.") {
		t.Fatalf("--full:\n%q", full)
	}
	if full := print(false, true); strings.Contains(full, "\x1b") || !strings.Contains(full, "The end.") {
		t.Fatalf("--full, plain:\n%q", full)
	}
}

// TestPrintNoRelevantPassages: a search nothing relevant answers says so,
// with the threshold, and prints a hit's relevance rather than its score.
func TestPrintNoRelevantPassages(t *testing.T) {
	var out bytes.Buffer
	e := &env{out: &out}
	if err := e.printHits(json.RawMessage(`{"data": [], "no_relevant_passages": true, "score_threshold": 0.25}`), false); err != nil {
		t.Fatal(err)
	}
	if want := "no relevant passages: nothing reached the threshold 0.25 (--threshold 0 shows the nearest)\n"; out.String() != want {
		t.Fatalf("%q, want %q", out.String(), want)
	}
	out.Reset()
	if err := e.printHits(json.RawMessage(`{"data": [{"score": 0.9, "relevance": 0.41, "document_title": "FAQ", "text": "t", "snippet": "t"}]}`), false); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "1. [0.410] FAQ") {
		t.Fatalf("%q, want the relevance", out.String())
	}
}

// TestSearchPrintsSnippets: against a server, ragctl search prints the
// snippet around the query's words, not the whole passage; --full the
// whole passage; --json the server's whole answer.
func TestSearchPrintsSnippets(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t, apitest.Options{})
	_, key := srv.TenantKey(t, "Snippets")
	env := map[string]string{"RAGD_URL": srv.URL, "RAGD_API_KEY": key}
	c := srv.Client(t)
	id := c.Upload(key, "", "airships.pdf", extracttest.ChapterPDF(2, 1, 12, "The zeppelin hangar was rebuilt in spring.")).JSON(t)["id"].(string)
	if d := c.WaitDocument(key, id); d["status"] != "ready" {
		t.Fatalf("document: %v", d)
	}

	out, errOut, code := ragctl(t, env, "search", "--mode", "sparse", "--top-k", "1", "zeppelin", "hangar")
	if code != 0 || !strings.HasPrefix(out, "1. [") || !strings.Contains(out, ", p. 2") || !strings.Contains(out, "Chapter 2") ||
		!strings.Contains(out, "The zeppelin hangar was rebuilt in spring.") || !strings.Contains(out, "…") || strings.Contains(out, "Line 0 of page 2") || strings.Contains(out, "\x1b") {
		t.Fatalf("search: %d\n%s%s", code, out, errOut)
	}
	full, _, code := ragctl(t, env, "search", "--mode", "sparse", "--top-k", "1", "--full", "zeppelin", "hangar")
	if code != 0 || !strings.Contains(full, "Line 0 of page 2") || !strings.Contains(full, "zeppelin hangar") || len(full) < 2*len(out) {
		t.Fatalf("search --full: %d\n%s", code, full)
	}
	// A deck of small slides is one chunk: the hit cites the slide its
	// matches are on, not the deck's first to last.
	deck := extracttest.PPTX(extracttest.PPTXShape("Welcome to the quarterly review."), extracttest.PPTXShape("Revenue grew in the north."),
		extracttest.PPTXShape("The airship dock opens in May."))
	if d := c.WaitDocument(key, c.Upload(key, "", "review.pptx", deck).JSON(t)["id"].(string)); d["status"] != "ready" || d["chunk_count"] != 1.0 {
		t.Fatalf("deck: %v", d)
	}
	if out, errOut, code := ragctl(t, env, "search", "--mode", "sparse", "--top-k", "1", "airship dock"); code != 0 || !strings.Contains(out, ", p. 3 — Slide 3") {
		t.Fatalf("search in a deck: %d\n%s%s", code, out, errOut)
	}
	js, _, code := ragctl(t, env, "--json", "search", "--mode", "sparse", "--top-k", "1", "zeppelin hangar")
	var res struct {
		Data []struct {
			Text, Snippet, SourceURL string
			ChunkHighlights          []span `json:"chunk_highlights"`
		}
	}
	if code != 0 || json.Unmarshal([]byte(js), &res) != nil || len(res.Data) != 1 || !strings.Contains(res.Data[0].Text, "Line 0 of page 2") ||
		res.Data[0].Snippet == "" || len(res.Data[0].ChunkHighlights) != 2 {
		t.Fatalf("search --json: %d\n%s", code, js)
	}
}
