package console

import "testing"

// TestSegments: a text cut at its highlights (in runes), marked pieces
// and plain ones in order; highlights out of order or bounds are skipped.
func TestSegments(t *testing.T) {
	for _, c := range []struct {
		text  string
		spans []span
		want  string
	}{
		{"café crème", []span{{0, 4}}, "[café] crème"},
		{"日本語 テキスト 🙂 run", []span{{4, 8}, {11, 14}}, "日本語 [テキスト] 🙂 [run]"},
		{"abc", nil, "abc"},
		{"abc", []span{{1, 2}, {0, 3}, {2, 9}, {-1, 1}, {2, 2}}, "a[b]c"},
		{"", []span{{0, 1}}, ""},
	} {
		got := ""
		for _, s := range segments(c.text, c.spans) {
			if s.Mark {
				got += "[" + s.Text + "]"
			} else {
				got += s.Text
			}
		}
		if got != c.want {
			t.Errorf("segments(%q, %v) = %q, want %q", c.text, c.spans, got, c.want)
		}
	}
}
