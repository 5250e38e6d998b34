package extract

import (
	"strings"
	"testing"
)

func mustExtract(t *testing.T, typ Type, data []byte) Extracted {
	t.Helper()
	ext, err := Extract(t.Context(), typ, data, Limits{})
	if err != nil {
		t.Fatalf("Extract(%s): %v", typ, err)
	}
	return ext
}

// sectionTexts maps each section's heading path (joined by " > ") to its text.
func sectionTexts(ext Extracted) map[string]string {
	out := map[string]string{}
	for _, s := range ext.Sections {
		out[strings.Join(s.HeadingPath, " > ")] += ext.Text[s.Start:s.End]
	}
	return out
}
