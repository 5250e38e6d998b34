package api_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/ragd/ragd/extract"
)

// handbookMD is the handbook a user found citing "Password reset" for its
// vacation rules: seven small sections that make one chunk. Its words in
// several scripts put code points and bytes apart.
const handbookMD = "# Employee Handbook\n\nThis handbook is for everyone who works at Café Zürich 日本.\n\n" +
	"## Leave\n\nHow time off works 🌴.\n\n" +
	"### Vacation\n\nEveryone gets twenty-five days of paid vacation a year; ask your manager two weeks ahead.\n\n" +
	"### Sick leave\n\nTell your team before ten; after three days bring a doctor's note.\n\n" +
	"## Expenses\n\nFile receipts within thirty days in the expense tool; travel needs approval first.\n\n" +
	"## IT and accounts\n\nYour laptop is set up on your first day.\n\n" +
	"### Password reset\n\nReset your password at id.example.com or ask the help desk on extension 4357.\n"

// TestSearchHitSections: a search hit of chunk made of small sections says
// what all of it is under (the common heading path) and where each
// section is, and its char_start and char_end slice the document's
// extracted text (in code points) to the hit's text, in /v1/search,
// /v1/agents/{id}/search and the document's chunks.
func TestSearchHitSections(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, key := b.TenantWithKey("handbook")
	id := b.Must(202, "POST", "/v1/documents", key, map[string]any{"text": handbookMD, "format": "markdown", "title": "Handbook"}).JSON(t)["id"].(string)
	if d := b.WaitDocument(key, id); d["status"] != "ready" {
		t.Fatalf("document: %v", d)
	}
	// The content endpoint returns the original bytes, not the extracted
	// text: the extractor (pure, deterministic) makes the same text here.
	ext, err := extract.Extract(t.Context(), extract.TypeMarkdown, []byte(handbookMD), extract.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	text := []rune(ext.Text)
	slice := func(m map[string]any) string {
		t.Helper()
		s, e := int(m["char_start"].(float64)), int(m["char_end"].(float64))
		if s < 0 || e > len(text) || s >= e {
			t.Fatalf("code points [%d,%d) outside a text of %d", s, e, len(text))
		}
		return string(text[s:e])
	}
	check := func(where string, hit map[string]any) {
		t.Helper()
		if got := slice(hit); got != hit["text"] {
			t.Fatalf("%s: char_start and char_end slice %q, the text is %q", where, got, hit["text"])
		}
		var path []string
		for _, p := range hit["heading_path"].([]any) {
			path = append(path, p.(string))
		}
		if !slices.Equal(path, []string{"Employee Handbook"}) {
			t.Fatalf("%s: heading_path %q, want the sections' common prefix [Employee Handbook]", where, path)
		}
		sections := hit["sections"].([]any)
		want := []string{"Employee Handbook", "Leave", "Vacation", "Sick leave", "Expenses", "IT and accounts", "Password reset"}
		if len(sections) != len(want) {
			t.Fatalf("%s: %d sections, want %d: %v", where, len(sections), len(want), sections)
		}
		for i, s := range sections {
			sec := s.(map[string]any)
			hp := sec["heading_path"].([]any)
			if hp[0] != "Employee Handbook" || hp[len(hp)-1] != want[i] {
				t.Fatalf("%s: section %d heading_path %v, want … %s", where, i, hp, want[i])
			}
			if part := slice(sec); !strings.HasPrefix(part, want[i]+"\n\n") || !strings.Contains(hit["text"].(string), part) {
				t.Fatalf("%s: section %d (%s) slices %q", where, i, want[i], part)
			}
		}
	}

	hits := b.Must(200, "POST", "/v1/search", key, map[string]any{"query": "how many vacation days", "top_k": 1}).JSON(t)["data"].([]any)
	if len(hits) != 1 {
		t.Fatalf("%d hits", len(hits))
	}
	check("/v1/search", hits[0].(map[string]any))

	agent := b.Must(201, "POST", "/v1/agents", key, map[string]any{"name": "HR bot", "model": "m"}).JSON(t)["id"].(string)
	hits = b.Must(200, "POST", "/v1/agents/"+agent+"/search", key, map[string]any{"query": "password reset", "top_k": 1}).JSON(t)["data"].([]any)
	if len(hits) != 1 {
		t.Fatalf("agent search: %d hits", len(hits))
	}
	check("/v1/agents/{id}/search", hits[0].(map[string]any))

	chunks := b.Must(200, "GET", "/v1/documents/"+id+"/chunks", key, nil).JSON(t)["data"].([]any)
	if len(chunks) != 1 {
		t.Fatalf("%d chunks, want 1", len(chunks))
	}
	check("chunks", chunks[0].(map[string]any))
}
