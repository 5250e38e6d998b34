package search

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// marked returns the runes of text each span covers.
func marked(text string, spans []Span) []string {
	r := []rune(text)
	var out []string
	for _, s := range spans {
		out = append(out, string(r[s.Start:s.End]))
	}
	return out
}

func TestSnippetOffsets(t *testing.T) {
	filler := strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit. ", 8)
	for _, c := range []struct {
		name, text, query string
		want              []string // the highlighted words, in order, in the snippet
	}{
		{"short", "Everyone gets 25 vacation days a year.", "how many vacation days", []string{"vacation", "days"}},
		{"stemmed", "The service runs nightly; it ran twice and keeps running.", "running", []string{"runs", "running"}},
		{"case", "VACATION Days", "vacation day", []string{"VACATION", "Days"}},
		{"multibyte", "Café crème: le café est très bon à Zürich. 日本語 テキスト 🙂 café!", "café zürich", []string{"Café", "café", "Zürich", "café"}},
		{"cjk", "これは 日本語 の 文章 です", "日本語", []string{"日本語"}},
		{"emoji before", "🙂🙂🙂 👩‍👩‍👧 the quarterly report is late", "quarterly report", []string{"quarterly", "report"}},
		{"long text", filler + "The vacation policy gives 25 days. " + filler, "vacation policy",
			[]string{"vacation", "policy"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := MakeSnippet(c.text, c.query)
			checkSnippet(t, c.text, s)
			checkMatchesBM25(t, c.text, c.query, s)
			if got := marked(s.Text, s.Highlights); strings.Join(got, "|") != strings.Join(c.want, "|") {
				t.Fatalf("snippet %q highlights %q, want %q", s.Text, got, c.want)
			}
			if got := marked(c.text, s.ChunkHighlights); strings.Join(got, "|") != strings.Join(c.want, "|") {
				t.Fatalf("chunk highlights %q, want %q", got, c.want)
			}
		})
	}
}

// TestSnippetWindow: a long chunk's snippet is the window around the
// matches, cut at words, with "…" where cut, and it prefers the window of
// more (and rarer) distinct terms to one repeating a common term.
func TestSnippetWindow(t *testing.T) {
	filler := strings.Repeat("alpha beta gamma delta epsilon ", 40) // 1240 runes
	text := filler + "policy policy policy policy " + filler + "the vacation policy is generous " + filler
	s := MakeSnippet(text, "vacation policy")
	checkSnippet(t, text, s)
	if !strings.HasPrefix(s.Text, Ellipsis) || !strings.HasSuffix(s.Text, Ellipsis) {
		t.Fatalf("a cut on both sides has no ellipses: %q", s.Text)
	}
	if !strings.Contains(s.Text, "the vacation policy is generous") {
		t.Fatalf("the window missed the passage with both terms: %q", s.Text)
	}
	if n := utf8.RuneCountInString(s.Text); n > SnippetChars+5 || n < SnippetChars-20 {
		t.Fatalf("snippet of %d runes", n)
	}
	// Cut at word boundaries: the text inside the ellipses starts and ends with whole words.
	inner := strings.TrimSuffix(strings.TrimPrefix(s.Text, Ellipsis), Ellipsis)
	idx := strings.Index(text, inner)
	if idx <= 0 || isWordRune(lastRune(text[:idx])) || isWordRune(firstRune(text[idx+len(inner):])) {
		t.Fatalf("not cut at word boundaries: %q", inner)
	}
	if len(s.ChunkHighlights) != 6 || len(s.Highlights) != 2 {
		t.Fatalf("highlights: %d in the chunk (want 6), %d in the snippet (want 2)", len(s.ChunkHighlights), len(s.Highlights))
	}
}

func firstRune(s string) rune { r, _ := utf8.DecodeRuneInString(s); return r }
func lastRune(s string) rune  { r, _ := utf8.DecodeLastRuneInString(s); return r }

// TestSnippetNoMatch: a hit found by the dense side alone, or a query of
// stop words only, shows the chunk's beginning and highlights nothing.
func TestSnippetNoMatch(t *testing.T) {
	text := strings.Repeat("Zürich's weather is mild in spring. ", 20)
	for _, q := range []string{"completely unrelated words", "the and of is to", "   ", "!!!"} {
		s := MakeSnippet(text, q)
		checkSnippet(t, text, s)
		if !strings.HasPrefix(s.Text, "Zürich's weather") || !strings.HasSuffix(s.Text, Ellipsis) || len(s.Highlights) != 0 || len(s.ChunkHighlights) != 0 {
			t.Fatalf("%q: %q %v %v", q, s.Text, s.Highlights, s.ChunkHighlights)
		}
		if s.Highlights == nil || s.ChunkHighlights == nil {
			t.Fatal("nil highlights (JSON null, not [])")
		}
	}
	if s := MakeSnippet("Short text.", "nothing"); s.Text != "Short text." {
		t.Fatalf("a short text is its own snippet: %q", s.Text)
	}
	if s := MakeSnippet("", "anything"); s.Text != "" || len(s.Highlights) != 0 {
		t.Fatalf("empty text: %+v", s)
	}
}

// TestSnippetHostile: a 100 kB chunk of one repeated word, one word of
// 100 kB, and a 2,000-character query are cut quickly and correctly.
func TestSnippetHostile(t *testing.T) {
	long := strings.Repeat("ab", 50_000)
	query := strings.Repeat("word words worded ", 112)[:MaxQueryChars]
	for name, c := range map[string]struct{ text, query string }{
		"repeated word":      {strings.Repeat("word ", 20_000), "word"},
		"repeated, no space": {strings.Repeat("word,", 20_000), query},
		"one long word":      {long, "ab"},
		"long query":         {strings.Repeat("lorem ipsum words dolor ", 4000), query},
		"html":               {`<img src=x onerror=alert(1)> <script>alert("x")</script> alert`, "alert"},
		"punctuation only":   {strings.Repeat("-", 100_000), "x"},
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			s := MakeSnippet(c.text, c.query)
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("took %v", d)
			}
			checkSnippet(t, c.text, s)
			if n := utf8.RuneCountInString(s.Text); n > SnippetChars+5 {
				t.Fatalf("snippet of %d runes", n)
			}
			if len(s.ChunkHighlights) > MaxChunkHighlights {
				t.Fatalf("%d chunk highlights", len(s.ChunkHighlights))
			}
		})
	}
	s := MakeSnippet(strings.Repeat("word ", 20_000), "word")
	if len(s.ChunkHighlights) != MaxChunkHighlights || len(s.Highlights) < 30 {
		t.Fatalf("repeated word: %d chunk highlights, %d in the snippet", len(s.ChunkHighlights), len(s.Highlights))
	}
	s = MakeSnippet(`<img src=x onerror=alert(1)> text`, "alert")
	if s.Text != `<img src=x onerror=alert(1)> text` || strings.Join(marked(s.Text, s.Highlights), "") != "alert" {
		t.Fatalf("html: %+v", s)
	}
}

// checkSnippet checks the invariants of any snippet of text: valid UTF-8,
// the text between the ellipses a substring of text, and highlights in
// bounds, ordered, not overlapping, each on a word of the query's (here:
// on whole word runes).
func checkSnippet(t testing.TB, text string, s Snippet) {
	t.Helper()
	if !utf8.ValidString(s.Text) {
		t.Fatalf("snippet is not UTF-8: %q", s.Text)
	}
	text = strings.ToValidUTF8(text, "\uFFFD")
	inner := strings.TrimPrefix(s.Text, Ellipsis)
	cutStart := len(inner) != len(s.Text)
	if strings.HasSuffix(inner, Ellipsis) && !strings.HasSuffix(text, inner) {
		inner = strings.TrimSuffix(inner, Ellipsis)
	}
	if !strings.Contains(text, inner) {
		t.Fatalf("snippet %q is not in the text", s.Text)
	}
	if !cutStart && !strings.HasPrefix(text, inner) {
		t.Fatalf("snippet %q does not start the text, and has no ellipsis", s.Text)
	}
	checkSpans(t, s.Text, s.Highlights)
	checkSpans(t, text, s.ChunkHighlights)
	tr, sr := []rune(text), []rune(s.Text)
	// Every highlight of the snippet is one of the chunk's, at the same words.
	chunk := map[string]int{}
	for _, h := range s.ChunkHighlights {
		chunk[string(tr[h.Start:h.End])]++
	}
	for _, h := range s.Highlights {
		if len(s.ChunkHighlights) < MaxChunkHighlights && chunk[string(sr[h.Start:h.End])] == 0 {
			t.Fatalf("snippet highlight %q is not a chunk highlight", string(sr[h.Start:h.End]))
		}
	}
}

func checkSpans(t testing.TB, text string, spans []Span) {
	t.Helper()
	n, prev := utf8.RuneCountInString(text), 0
	r := []rune(text)
	for _, h := range spans {
		if h.Start < prev || h.End <= h.Start || h.End > n {
			t.Fatalf("span %v after %d in %d runes", h, prev, n)
		}
		if !isWordRune(r[h.Start]) || !isWordRune(r[h.End-1]) ||
			(h.Start > 0 && isWordRune(r[h.Start-1])) || (h.End < n && isWordRune(r[h.End])) {
			t.Fatalf("span %v (%q) is not a whole word", h, string(r[h.Start:h.End]))
		}
		prev = h.End
	}
}

func FuzzSnippet(f *testing.F) {
	f.Add("Everyone gets 25 vacation days a year.", "vacation days")
	f.Add("Café crème 日本語 🙂 running runs", "run café")
	f.Add(strings.Repeat("word ", 100), "word")
	f.Add("İstanbul ǅemal ΣΑΣ straße", "istanbul sas strasse")
	f.Add("a\xffb\xfe vacation", "vacation")
	f.Fuzz(func(t *testing.T, text, query string) {
		if len(text) > 20_000 || len(query) > MaxQueryChars {
			return
		}
		s := MakeSnippet(text, query)
		checkSnippet(t, text, s)
		checkMatchesBM25(t, text, query, s)
	})
}

func BenchmarkSnippet(b *testing.B) {
	para := "The vacation policy gives every employee twenty-five days a year; unused days carry over to March. " +
		"Requests go to your manager through the HR portal at least two weeks ahead. Café, Zürich, 日本語. "
	chunk := strings.Repeat(para, 12) // ~2,400 runes, about 500 tokens
	for _, c := range []struct{ name, text, query string }{
		{"chunk", chunk, "how many vacation days carry over"},
		{"nomatch", chunk, "quarterly revenue"},
		{"longquery", chunk, strings.Repeat("vacation manager portal requests ", 61)[:MaxQueryChars]},
		{"repeated100kB", strings.Repeat("word ", 20_000), "word"},
	} {
		q := NewSnippetQuery(c.query)
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.text)))
			b.ReportAllocs()
			for b.Loop() {
				q.Cut(c.text)
			}
		})
	}
}

// TestSnippetUnderscoreAndDigits: words starting with '_' or a digit
// match as BM25 reads them.
func TestSnippetUnderscoreAndDigits(t *testing.T) {
	s := MakeSnippet("set _Private_ID and 2026 budgets", "_private_id 2026 budget")
	if got := strings.Join(marked(s.Text, s.Highlights), "|"); got != "_Private_ID|2026|budgets" {
		t.Fatalf("highlights %q", got)
	}
}

// checkMatchesBM25: the chunk's highlights are exactly its words one of
// whose terms (as Terms reads the word) is one of the query's.
func checkMatchesBM25(t testing.TB, text, query string, s Snippet) {
	t.Helper()
	if !utf8.ValidString(text) || len(s.ChunkHighlights) == MaxChunkHighlights {
		return
	}
	want := map[string]bool{}
	for _, q := range Terms(query) {
		want[q] = true
	}
	var spans []Span
	r := []rune(text)
	for i := 0; i < len(r); {
		if !isWordRune(r[i]) {
			i++
			continue
		}
		j := i
		for j < len(r) && isWordRune(r[j]) {
			j++
		}
		for _, term := range Terms(string(r[i:j])) {
			if want[term] {
				spans = append(spans, Span{i, j})
				break
			}
		}
		i = j
	}
	if fmt.Sprint(spans) != fmt.Sprint(s.ChunkHighlights) {
		t.Fatalf("chunk highlights %v, want the words BM25 matches %v", s.ChunkHighlights, spans)
	}
}
