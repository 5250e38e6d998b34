package chunker

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"
	"unicode"
	"unicode/utf8"
)

var (
	tokOnce sync.Once
	tok     *BPE
)

func cl100k(t testing.TB) *BPE {
	t.Helper()
	tokOnce.Do(func() {
		var err error
		if tok, err = NewCL100K(); err != nil {
			panic(err)
		}
	})
	return tok
}

func newChunker(t testing.TB, o Options) *Chunker {
	t.Helper()
	c, err := New(cl100k(t), o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkInvariants asserts every guarantee Split documents.
func checkInvariants(t *testing.T, c *Chunker, doc Document, chunks []Chunk) {
	t.Helper()
	if chunks == nil && strings.TrimSpace(doc.Text) != "" {
		t.Fatal("no chunks for a text that is not blank")
	}
	covered := make([]bool, len(doc.Text))
	prevStart, prevEnd := -1, -1
	runes := []rune(doc.Text)
	for i, ch := range chunks {
		if ch.Index != i {
			t.Fatalf("chunk %d has index %d", i, ch.Index)
		}
		if ch.Text == "" || strings.TrimSpace(ch.Text) != ch.Text {
			t.Fatalf("chunk %d is empty or untrimmed: %q", i, ch.Text)
		}
		if doc.Text[ch.Start:ch.End] != ch.Text {
			t.Fatalf("chunk %d offsets [%d,%d) do not hold its text", i, ch.Start, ch.End)
		}
		if n := c.tok.Count(ch.Text); n != ch.TokenCount || n > c.opts.MaxTokens {
			t.Fatalf("chunk %d: %d tokens (recorded %d), max %d", i, n, ch.TokenCount, c.opts.MaxTokens)
		}
		if ch.Start <= prevStart || ch.End <= prevEnd {
			t.Fatalf("chunk %d [%d,%d) is not after chunk %d [%d,%d)", i, ch.Start, ch.End, i-1, prevStart, prevEnd)
		}
		prevStart, prevEnd = ch.Start, ch.End
		checkSections(t, doc, runes, ch)
		for j := ch.Start; j < ch.End; j++ {
			covered[j] = true
		}
	}
	for j, r := range doc.Text {
		if !covered[j] && !unicode.IsSpace(r) {
			t.Fatalf("byte %d (%q) is in no chunk", j, r)
		}
	}
	again, _ := c.Split(doc)
	if !reflect.DeepEqual(chunks, again) {
		t.Fatal("Split is not deterministic")
	}
}

// checkSections asserts a chunk's code point offsets and sections: the
// chunk's [CharStart, CharEnd) of the text's code points is its text; its
// sections are in order, inside it, each the trimmed text of the document
// section with its heading path (or of no section, for an empty path);
// together they hold all of its text but white space; and its heading
// path is their common prefix.
func checkSections(t *testing.T, doc Document, runes []rune, ch Chunk) {
	t.Helper()
	if ch.CharStart < 0 || ch.CharEnd > len(runes) || ch.CharStart >= ch.CharEnd || string(runes[ch.CharStart:ch.CharEnd]) != ch.Text {
		t.Fatalf("chunk %d: code points [%d,%d) do not hold its text %q", ch.Index, ch.CharStart, ch.CharEnd, ch.Text)
	}
	if len(ch.Sections) == 0 {
		// Only for a chunk no part of which is under a heading.
		for _, s := range doc.Sections {
			if len(s.HeadingPath) > 0 && s.Start < ch.End && s.End > ch.Start && strings.TrimSpace(doc.Text[max(s.Start, ch.Start):min(s.End, ch.End)]) != "" {
				t.Fatalf("chunk %d has no sections, but its %q is under %v", ch.Index, doc.Text[max(s.Start, ch.Start):min(s.End, ch.End)], s.HeadingPath)
			}
		}
		if ch.HeadingPath != nil {
			t.Fatalf("chunk %d has no sections and heading path %v", ch.Index, ch.HeadingPath)
		}
		return
	}
	prev := ch.CharStart
	var all strings.Builder
	for _, cs := range ch.Sections {
		if cs.CharStart < prev || cs.CharEnd <= cs.CharStart || cs.CharEnd > ch.CharEnd {
			t.Fatalf("chunk %d [%d,%d): section %v out of order or outside it", ch.Index, ch.CharStart, ch.CharEnd, cs)
		}
		prev = cs.CharEnd
		part := string(runes[cs.CharStart:cs.CharEnd])
		if strings.TrimSpace(part) != part {
			t.Fatalf("chunk %d: section %v is not trimmed: %q", ch.Index, cs, part)
		}
		// The part lies in one document section with its path (byte
		// offsets of the part: the code points before it, encoded).
		b := len(string(runes[:cs.CharStart]))
		found := false
		for _, s := range doc.Sections {
			if s.Start <= b && b+len(part) <= s.End {
				found = true
				if !reflect.DeepEqual(s.HeadingPath, cs.HeadingPath) && len(s.HeadingPath)+len(cs.HeadingPath) > 0 {
					t.Fatalf("chunk %d: %q is under %v, its section says %v", ch.Index, part, s.HeadingPath, cs.HeadingPath)
				}
			}
		}
		if !found && len(cs.HeadingPath) > 0 {
			t.Fatalf("chunk %d: %q is in no section, its section says %v", ch.Index, part, cs.HeadingPath)
		}
		// Its pages are the first and last the part's bytes touch, and
		// lie within the chunk's.
		first, last := 0, 0
		for _, p := range doc.Pages {
			if p.Start < b+len(part) && p.End > b {
				first = cmp.Or(first, p.Number)
				last = p.Number
			}
		}
		if cs.PageStart != first || cs.PageEnd != last || first > 0 && (first < ch.PageStart || last > ch.PageEnd) {
			t.Fatalf("chunk %d (pages %d-%d): section %q on pages %d-%d, want %d-%d", ch.Index, ch.PageStart, ch.PageEnd, part, cs.PageStart, cs.PageEnd, first, last)
		}
		all.WriteString(part)
	}
	if strings.Join(strings.Fields(all.String()), "") != strings.Join(strings.Fields(ch.Text), "") {
		t.Fatalf("chunk %d: its sections do not hold all of its text", ch.Index)
	}
	common := ch.Sections[0].HeadingPath
	for _, cs := range ch.Sections[1:] {
		n := 0
		for n < len(common) && n < len(cs.HeadingPath) && common[n] == cs.HeadingPath[n] {
			n++
		}
		common = common[:n]
	}
	if len(common) == 0 {
		common = nil
	}
	if !reflect.DeepEqual(ch.HeadingPath, common) {
		t.Fatalf("chunk %d: heading path %v, its sections' common prefix %v", ch.Index, ch.HeadingPath, common)
	}
}

func split(t *testing.T, c *Chunker, doc Document) []Chunk {
	t.Helper()
	chunks, err := c.Split(doc)
	if err != nil {
		t.Fatal(err)
	}
	return chunks
}

func words(r *rand.Rand, n int) string {
	vocab := strings.Fields("the quick brown fox jumps over lazy dog retrieval augmented generation tenant vector index chunk token embedding Qdrant Postgres naïve café 東京 données")
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(vocab[r.IntN(len(vocab))])
		if r.IntN(12) == 0 {
			b.WriteString(".")
		}
	}
	return b.String()
}

// markdownLike builds a document of sections with headings and paragraphs.
func markdownLike(r *rand.Rand, sections int) Document {
	var b strings.Builder
	var doc Document
	for s := range sections {
		start := b.Len()
		fmt.Fprintf(&b, "Heading %d\n\n", s)
		for range 1 + r.IntN(5) {
			b.WriteString(words(r, 5+r.IntN(300)))
			b.WriteString("\n\n")
		}
		doc.Sections = append(doc.Sections, Section{Start: start, End: b.Len(), HeadingPath: []string{"Doc", fmt.Sprintf("Heading %d", s)}})
	}
	doc.Text = b.String()
	return doc
}

func TestSplitInvariants(t *testing.T) {
	t.Parallel()
	for _, o := range []Options{{}, {MaxTokens: 64, OverlapTokens: 8}, {MaxTokens: 100, OverlapTokens: 0}, {MaxTokens: 16, OverlapTokens: 2, MinTokens: 2}} {
		for seed := range uint64(8) {
			t.Run(fmt.Sprintf("max%d-seed%d", o.MaxTokens, seed), func(t *testing.T) {
				t.Parallel()
				r := rand.New(rand.NewPCG(seed, 1))
				c := newChunker(t, o)
				doc := markdownLike(r, 1+r.IntN(12))
				checkInvariants(t, c, doc, split(t, c, doc))
			})
		}
	}
}

func TestSplitStructure(t *testing.T) {
	t.Parallel()
	c := newChunker(t, Options{MaxTokens: 64, OverlapTokens: 8})
	r := rand.New(rand.NewPCG(1, 2))
	doc := markdownLike(r, 6)
	// Pages: cut the text into three equal spans.
	third := len(doc.Text) / 3
	doc.Pages = []Page{{1, 0, third}, {2, third, 2 * third}, {3, 2 * third, len(doc.Text)}}
	chunks := split(t, c, doc)
	checkInvariants(t, c, doc, chunks)

	for _, ch := range chunks {
		// A chunk within one section has its whole path; one that joined
		// tiny sections has their common root, the document's.
		switch {
		case len(ch.Sections) == 1 && (!reflect.DeepEqual(ch.HeadingPath, ch.Sections[0].HeadingPath) || len(ch.HeadingPath) != 2):
			t.Fatalf("chunk %d in one section: heading path %v", ch.Index, ch.HeadingPath)
		case len(ch.Sections) > 1 && !reflect.DeepEqual(ch.HeadingPath, []string{"Doc"}):
			t.Fatalf("chunk %d across %d sections: heading path %v", ch.Index, len(ch.Sections), ch.HeadingPath)
		}
		if len(ch.Sections) == 1 {
			sec := findSection(doc, ch.HeadingPath)
			if ch.Start < sec.Start || ch.End > sec.End {
				t.Fatalf("chunk %d lies outside its section %v", ch.Index, ch.HeadingPath)
			}
		}
		for _, p := range doc.Pages {
			inside := ch.Start < p.End && ch.End > p.Start
			if inside != (p.Number >= ch.PageStart && p.Number <= ch.PageEnd) {
				t.Fatalf("chunk %d [%d,%d) pages %d-%d, page %v", ch.Index, ch.Start, ch.End, ch.PageStart, ch.PageEnd, p)
			}
		}
	}
}

func findSection(doc Document, path []string) Section {
	for _, s := range doc.Sections {
		if reflect.DeepEqual(s.HeadingPath, path) {
			return s
		}
	}
	return Section{}
}

func TestSplitPrefersParagraphsAndSentences(t *testing.T) {
	t.Parallel()
	c := newChunker(t, Options{MaxTokens: 40, OverlapTokens: 0})
	para := "One two three four five six seven eight nine ten. Eleven twelve thirteen fourteen fifteen."
	doc := Document{Text: para + "\n\n" + para + "\n\n" + para}
	chunks := split(t, c, doc)
	checkInvariants(t, c, doc, chunks)
	for _, ch := range chunks {
		if !strings.HasSuffix(ch.Text, ".") {
			t.Fatalf("chunk %q does not end at a sentence or paragraph", ch.Text)
		}
	}
}

func TestSplitOverlap(t *testing.T) {
	t.Parallel()
	c := newChunker(t, Options{MaxTokens: 50, OverlapTokens: 10})
	doc := Document{Text: words(rand.New(rand.NewPCG(3, 3)), 400)}
	chunks := split(t, c, doc)
	checkInvariants(t, c, doc, chunks)
	if len(chunks) < 3 {
		t.Fatalf("%d chunks", len(chunks))
	}
	offs := c.tok.Offsets(nil, doc.Text)
	for i := 1; i < len(chunks); i++ {
		ov := chunks[i-1].End - chunks[i].Start
		if ov <= 0 {
			t.Fatalf("chunks %d and %d do not overlap", i-1, i)
		}
		// Count in the document's own tokenization, as the chunker does.
		n := 0
		for _, e := range offs {
			if int(e) > chunks[i].Start && int(e) <= chunks[i-1].End {
				n++
			}
		}
		if n > 10 {
			t.Fatalf("overlap of %d tokens, want at most 10", n)
		}
	}
}

func TestSplitNoOverlapAcrossSections(t *testing.T) {
	t.Parallel()
	c := newChunker(t, Options{MaxTokens: 64, OverlapTokens: 16})
	r := rand.New(rand.NewPCG(5, 5))
	doc := markdownLike(r, 4)
	chunks := split(t, c, doc)
	for i := 1; i < len(chunks); i++ {
		if !reflect.DeepEqual(chunks[i].HeadingPath, chunks[i-1].HeadingPath) && chunks[i].Start < chunks[i-1].End {
			t.Fatalf("chunks %d and %d overlap across sections", i-1, i)
		}
	}
}

func TestSplitTinyPiecesJoinNeighbours(t *testing.T) {
	t.Parallel()
	c := newChunker(t, Options{MaxTokens: 64, OverlapTokens: 0, MinTokens: 8})
	big := words(rand.New(rand.NewPCG(9, 9)), 40)
	text := "Title\n\n" + big + "\n\nEnd.\n"
	doc := Document{Text: text, Sections: []Section{
		{Start: 0, End: 7, HeadingPath: []string{"Title"}},
		{Start: 7, End: 7 + len(big) + 2, HeadingPath: []string{"Title", "Body"}},
		{Start: 7 + len(big) + 2, End: len(text), HeadingPath: []string{"Title", "End"}},
	}}
	chunks := split(t, c, doc)
	checkInvariants(t, c, doc, chunks)
	if len(chunks) != 1 {
		t.Fatalf("tiny title and tail sections stood alone: %d chunks", len(chunks))
	}

	// A long section whose remainder would be tiny is rebalanced.
	doc = Document{Text: words(rand.New(rand.NewPCG(4, 4)), 66)}
	chunks = split(t, c, doc)
	checkInvariants(t, c, doc, chunks)
	if last := chunks[len(chunks)-1]; last.TokenCount < 8 {
		t.Fatalf("last chunk has %d tokens: %q", last.TokenCount, last.Text)
	}
}

func TestSplitHostileText(t *testing.T) {
	t.Parallel()
	c := newChunker(t, Options{MaxTokens: 128, OverlapTokens: 16})
	for name, text := range map[string]string{
		"Empty":           "",
		"OnlySpace":       " \n\n\t  \r\n ",
		"LongRun":         strings.Repeat("a", 200_000),
		"LongSpaceRun":    "x" + strings.Repeat(" ", 100_000) + "y",
		"LongLine":        strings.Repeat("word ", 40_000),
		"Newlines":        strings.Repeat("\n", 50_000) + "z",
		"Digits":          strings.Repeat("1234567890", 10_000),
		"Emoji":           strings.Repeat("👩‍👩‍👧‍👦", 5_000),
		"SpecialTokens":   "<|endoftext|> <|fim_prefix|> text <|im_start|>",
		"CombiningMarks":  "e" + strings.Repeat("\u0301", 20_000),
		"MixedNewlineRun": strings.Repeat("a\r\n", 20_000),
		// Spaces the tokenizer cuts into bytes: a chunk can start inside
		// one, and must not run past the text when trimmed.
		"RareSpace":       "\u2003",
		"NextLine":        "\u0085",
		"RareSpaceRun":    "fox " + strings.Repeat("\u2003", 200),
		"RareSpacesMixed": strings.Repeat("a\u1680\u2028 \u2000", 3_000),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			doc := Document{Text: text}
			chunks := split(t, c, doc)
			checkInvariants(t, c, doc, chunks)
			if strings.TrimSpace(text) == "" && len(chunks) != 0 {
				t.Fatalf("%d chunks of white space", len(chunks))
			}
		})
	}
}

func TestSplitRejectsInvalidDocuments(t *testing.T) {
	t.Parallel()
	c := newChunker(t, Options{})
	for name, doc := range map[string]Document{
		"InvalidUTF8":      {Text: "ok \xff\xfe"},
		"SectionOutside":   {Text: "abc", Sections: []Section{{Start: 0, End: 10}}},
		"SectionsReversed": {Text: "abcdef", Sections: []Section{{Start: 3, End: 6}, {Start: 0, End: 3}}},
		"PageOutside":      {Text: "abc", Pages: []Page{{Number: 1, Start: 2, End: 1}}},
	} {
		if _, err := c.Split(doc); !errors.Is(err, ErrInvalidDocument) {
			t.Errorf("%s: err = %v, want ErrInvalidDocument", name, err)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	for _, o := range []Options{{MaxTokens: 8}, {MaxTokens: 9000}, {MaxTokens: 100, OverlapTokens: 50}, {MaxTokens: 100, OverlapTokens: -1}, {MaxTokens: 100, MinTokens: 60}} {
		if _, err := New(cl100k(t), o); err == nil {
			t.Errorf("New accepted %+v", o)
		}
	}
}

func TestBPEConcurrent(t *testing.T) {
	t.Parallel()
	b := cl100k(t)
	text := words(rand.New(rand.NewPCG(7, 7)), 2000)
	want := b.Count(text)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if got := b.Count(text); got != want {
				t.Errorf("concurrent Count = %d, want %d", got, want)
			}
		})
	}
	wg.Wait()
	offs := b.Offsets(nil, text)
	if len(offs) != want || int(offs[len(offs)-1]) != len(text) {
		t.Fatalf("Offsets: %d tokens ending at %d, want %d ending at %d", len(offs), offs[len(offs)-1], want, len(text))
	}
}

func FuzzSplit(f *testing.F) {
	for _, s := range []string{"", "a", "# T\n\nbody. more\n\n## U\nx", strings.Repeat("ab ", 300), "\n\n\n", "é\u0301 👩‍👩‍👧"} {
		f.Add(s, uint8(20), uint8(3))
	}
	f.Fuzz(func(t *testing.T, text string, maxTok, overlap uint8) {
		o := Options{MaxTokens: 16 + int(maxTok), OverlapTokens: int(overlap) % 8}
		c, err := New(cl100k(t), o)
		if err != nil {
			t.Skip()
		}
		// Sections at every blank line, as an extractor would make them.
		doc := Document{Text: text}
		start := 0
		for i := 0; i+1 < len(text); i++ {
			if text[i] == '\n' && text[i+1] == '\n' {
				doc.Sections = append(doc.Sections, Section{Start: start, End: i + 2, HeadingPath: []string{fmt.Sprint(start)}})
				start = i + 2
			}
		}
		doc.Sections = append(doc.Sections, Section{Start: start, End: len(text)})
		chunks, err := c.Split(doc)
		if !utf8.ValidString(text) {
			if !errors.Is(err, ErrInvalidDocument) {
				t.Fatalf("invalid UTF-8: err = %v", err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		checkInvariants(t, c, doc, chunks)
	})
}

// handbook is the document a user found citing its last section for all
// of it: seven sections of about 175 tokens in all, under one title.
func handbook() (Document, []string) {
	parts := []struct {
		path []string
		body string
	}{
		{[]string{"Employee Handbook"}, "Employee Handbook\n\nThis handbook is for everyone who works here."},
		{[]string{"Employee Handbook", "Leave"}, "Leave\n\nHow time off works."},
		{[]string{"Employee Handbook", "Leave", "Vacation"}, "Vacation\n\nEveryone gets twenty-five days of paid vacation a year; ask your manager two weeks ahead."},
		{[]string{"Employee Handbook", "Leave", "Sick leave"}, "Sick leave\n\nTell your team before ten; after three days bring a doctor's note."},
		{[]string{"Employee Handbook", "Expenses"}, "Expenses\n\nFile receipts within thirty days in the expense tool; travel needs approval first."},
		{[]string{"Employee Handbook", "IT and accounts"}, "IT and accounts\n\nYour laptop is set up on your first day."},
		{[]string{"Employee Handbook", "IT and accounts", "Password reset"}, "Password reset\n\nReset your password at id.example.com or ask the help desk on extension 4357."},
	}
	var doc Document
	var bodies []string
	var b strings.Builder
	for _, p := range parts {
		start := b.Len()
		b.WriteString(p.body)
		b.WriteString("\n\n")
		doc.Sections = append(doc.Sections, Section{Start: start, End: b.Len(), HeadingPath: p.path})
		bodies = append(bodies, p.body)
	}
	doc.Text = strings.TrimRight(b.String(), "\n")
	doc.Sections[len(doc.Sections)-1].End = len(doc.Text)
	return doc, bodies
}

// TestSplitHandbookHeadingPaths: small sections that join one chunk give it
// their common heading path, not the last (or largest) one's, and each is
// listed with the code points of its own text.
func TestSplitHandbookHeadingPaths(t *testing.T) {
	t.Parallel()
	c := newChunker(t, Options{})
	doc, bodies := handbook()
	chunks := split(t, c, doc)
	checkInvariants(t, c, doc, chunks)
	if len(chunks) != 1 {
		t.Fatalf("%d chunks, want the handbook in one", len(chunks))
	}
	ch := chunks[0]
	if !reflect.DeepEqual(ch.HeadingPath, []string{"Employee Handbook"}) {
		t.Fatalf("heading path %v, want [Employee Handbook]", ch.HeadingPath)
	}
	if len(ch.Sections) != len(doc.Sections) {
		t.Fatalf("%d sections, want %d: %v", len(ch.Sections), len(doc.Sections), ch.Sections)
	}
	runes := []rune(doc.Text)
	for i, cs := range ch.Sections {
		if !reflect.DeepEqual(cs.HeadingPath, doc.Sections[i].HeadingPath) {
			t.Errorf("section %d: path %v, want %v", i, cs.HeadingPath, doc.Sections[i].HeadingPath)
		}
		if got := string(runes[cs.CharStart:cs.CharEnd]); got != bodies[i] {
			t.Errorf("section %d %v: code points [%d,%d) hold %q, want %q", i, cs.HeadingPath, cs.CharStart, cs.CharEnd, got, bodies[i])
		}
	}
	if ch.CharStart != 0 || ch.CharEnd != len(runes) {
		t.Fatalf("chunk code points [%d,%d), want [0,%d)", ch.CharStart, ch.CharEnd, len(runes))
	}

	// A chunk within one section keeps its whole path.
	c = newChunker(t, Options{MaxTokens: 16, OverlapTokens: 2, MinTokens: 2})
	chunks = split(t, c, doc)
	checkInvariants(t, c, doc, chunks)
	deep := 0
	for _, ch := range chunks {
		if len(ch.Sections) == 1 {
			if !reflect.DeepEqual(ch.HeadingPath, ch.Sections[0].HeadingPath) {
				t.Fatalf("chunk %d within %v has heading path %v", ch.Index, ch.Sections[0].HeadingPath, ch.HeadingPath)
			}
			if len(ch.HeadingPath) == 3 {
				deep++
			}
		}
	}
	if deep == 0 {
		t.Fatal("no chunk within a third-level section")
	}
}

// TestSplitCodePointOffsets: code point offsets of text in several scripts
// and emoji (one to four bytes a code point, some cut by the tokenizer
// inside a code point), with and without overlap.
func TestSplitCodePointOffsets(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	var doc Document
	for i := range 30 {
		start := b.Len()
		fmt.Fprintf(&b, "Café %d 日本語\n\n", i)
		for j := range 1 + i%4 {
			fmt.Fprintf(&b, "Naïve résumé %d: 東京の天気は晴れ 🌤️ then 👩‍👩‍👧 and 😀😀 — déjà vu %d.\n\n", j, i)
		}
		doc.Sections = append(doc.Sections, Section{Start: start, End: b.Len(), HeadingPath: []string{"日本語", fmt.Sprintf("Café %d", i)}})
	}
	doc.Text = b.String()
	for _, o := range []Options{{}, {MaxTokens: 32, OverlapTokens: 8}, {MaxTokens: 16, OverlapTokens: 4, MinTokens: 2}} {
		c := newChunker(t, o)
		chunks := split(t, c, doc)
		checkInvariants(t, c, doc, chunks)
		// A document without sections has offsets and no sections.
		plain := Document{Text: doc.Text}
		checkInvariants(t, c, plain, split(t, c, plain))
	}
}
