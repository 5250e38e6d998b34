package console

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/ragd/ragd/ingest"
)

// TestJoinChunks: overlapping chunks give each code point of the text
// once; white space between chunks becomes a line break; chunks without
// offsets are joined by blank lines.
func TestJoinChunks(t *testing.T) {
	t.Parallel()
	at := func(start, end int, text string) ingest.Chunk {
		return ingest.Chunk{Text: text, CharStart: &start, CharEnd: &end}
	}
	text := "Überall Ferien. Vacation is 25 days.\n\nTravel by train."
	for name, tc := range map[string]struct {
		chunks []ingest.Chunk
		want   string
	}{
		"Overlap": {[]ingest.Chunk{at(0, 27, "Überall Ferien. Vacation is"), at(16, 36, "Vacation is 25 days."), at(38, 54, "Travel by train.")},
			"Überall Ferien. Vacation is 25 days.\nTravel by train."},
		"Contained": {[]ingest.Chunk{at(0, 36, text[:37]), at(16, 27, "Vacation is")}, text[:37]},
		"NoOffsets": {[]ingest.Chunk{{Text: "one"}, {Text: "two"}}, "one\n\ntwo"},
		"Empty":     {nil, ""},
	} {
		if got := joinChunks(tc.chunks); got != tc.want {
			t.Errorf("%s: %q, want %q", name, got, tc.want)
		}
	}
}

// TestParseMetadata: numbers, booleans and quoted strings keep their
// type, other values are text, and the lines read back as written.
func TestParseMetadata(t *testing.T) {
	t.Parallel()
	m, bad := parseMetadata("year = 2026\r\nzip = \"01234\"\nopen = true\n\nnote = a = b\ndate = 2026-01-05\n")
	if bad != "" {
		t.Fatal(bad)
	}
	want := map[string]any{"year": json.Number("2026"), "zip": "01234", "open": true, "note": "a = b", "date": "2026-01-05"}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("parsed %#v, want %#v", m, want)
	}
	// Shown again, each line reads back as the same value.
	b, _ := json.Marshal(m)
	again, bad := parseMetadata(metadataText(metadataLines(b)))
	if bad != "" || !reflect.DeepEqual(again, want) {
		t.Errorf("read back: %#v (%s)", again, bad)
	}
	for _, in := range []string{"novalue", " = 3", "a = 1\na = 2"} {
		if _, bad := parseMetadata(in); bad == "" {
			t.Errorf("%q is accepted", in)
		}
	}
}
