package ingest_test

import (
	"strings"
	"testing"

	"github.com/ragd/ragd/chunker"
	"github.com/ragd/ragd/ingest"
)

func TestIndexText(t *testing.T) {
	c := chunker.Chunk{Text: "Twenty-five days a year.", TokenCount: 7, HeadingPath: []string{"Leave", "Vacation"}}
	if got, want := ingest.IndexText("Handbook", c), "Handbook\nLeave > Vacation\nTwenty-five days a year."; got != want {
		t.Fatalf("IndexText = %q, want %q", got, want)
	}
	if got := ingest.IndexText("", chunker.Chunk{Text: "x", TokenCount: 1}); got != "x" {
		t.Fatalf("no title, no headings: %q", got)
	}
	// The context is bounded, cut on a rune boundary.
	long := ingest.IndexText(strings.Repeat("é", 400), c)
	if head, _, _ := strings.Cut(long, "\nTwenty"); len(head) > 256 || !strings.HasSuffix(long, c.Text) || !strings.HasPrefix(long, "éé") {
		t.Fatalf("long context: %d bytes before the text", len(head))
	}
	for _, r := range long {
		if r == '\uFFFD' {
			t.Fatal("the cut split a rune")
		}
	}
	// A chunk near the model's input limit goes without context.
	big := chunker.Chunk{Text: "big", TokenCount: chunker.MaxMaxTokens - 10, HeadingPath: []string{"H"}}
	if got := ingest.IndexText("Title", big); got != "big" {
		t.Fatalf("a chunk at the limit got context: %q", got)
	}
}
