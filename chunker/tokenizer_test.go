package chunker

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/dlclark/regexp2/v2"
	"github.com/tiktoken-go/tokenizer/codec"
)

// The reference for every test here is github.com/tiktoken-go/tokenizer's
// cl100k codec encoding a whole text at once, which is what BPE replaces.

// libraryPattern is the library's pre-tokenizer expression, exactly as it
// compiles it: regexp2 then runs the same generated matcher the library
// runs (it registers it by this text).
const libraryPattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

func library() *codec.Codec { return codec.NewCl100kBase() }

// libraryOffsets returns the end offsets of the tokens the library encodes
// s into, with characters it skips (DEL) joined to the token before them,
// as BPE.Offsets documents. s must be UTF-8.
func libraryOffsets(t testing.TB, lib *codec.Codec, s string) []int32 {
	t.Helper()
	_, toks, err := lib.Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int32
	pos := 0
	skip := func() {
		if s[pos] != 0x7f {
			t.Fatalf("the library skipped %q at %d, not DEL", s[pos], pos)
		}
		pos++
		if len(offs) > 0 {
			offs[len(offs)-1] = int32(pos)
		}
	}
	for _, tok := range toks {
		for !strings.HasPrefix(s[pos:], tok) {
			skip()
		}
		pos += len(tok)
		offs = append(offs, int32(pos))
	}
	for pos < len(s) {
		skip()
	}
	if len(offs) == 0 && len(s) > 0 {
		offs = append(offs, int32(len(s)))
	}
	return offs
}

// checkExact fails unless BPE counts and cuts s as the library does.
func checkExact(t testing.TB, b *BPE, lib *codec.Codec, name, s string) {
	t.Helper()
	want := libraryOffsets(t, lib, s)
	got := b.Offsets(nil, s)
	if !slices.Equal(got, want) {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		from := 0
		if i > 0 {
			from = int(want[i-1])
		}
		t.Fatalf("%s: Offsets differ from the library at token %d (byte %d): got %v, want %v; text there: %q",
			name, i, from, got[i:min(i+5, len(got))], want[i:min(i+5, len(want))], s[from:min(from+40, len(s))])
	}
	wantN, _ := lib.Count(s)
	if n := b.Count(s); n != wantN {
		t.Fatalf("%s: Count = %d, the library counts %d", name, n, wantN)
	}
}

// corpusFile is one text of the test corpus.
type corpusFile struct {
	name, text string
}

// realCorpus reads real text from the machine: the Go distribution's own
// documentation and sources (always there), and where present the licences,
// package documentation and translated manual pages Debian installs. A
// file is taken or not by a hash of its path, so the sample is the same on
// every run, spread over the whole tree, and stops at budget bytes per root.
func realCorpus(t *testing.T, budget int) []corpusFile {
	t.Helper()
	goroot := runtime.GOROOT()
	roots := []struct {
		dir   string
		every uint32 // take one file in every
		ext   []string
	}{
		{filepath.Join(goroot, "doc"), 1, nil},
		{filepath.Join(goroot, "src"), 23, []string{".go", ".md", ".txt", ".html"}},
		{"/usr/share/common-licenses", 1, nil},
		{"/usr/share/doc", 11, nil},
		{"/usr/share/man/ja", 5, nil},
		{"/usr/share/man/ko", 5, nil},
		{"/usr/share/man/ru", 5, nil},
		{"/usr/share/man/uk", 5, nil},
		{"/usr/share/man/zh_CN", 5, nil},
		{"/usr/share/man/zh_TW", 5, nil},
		{"/usr/share/man/de", 9, nil},
		{"/usr/share/man/fr", 9, nil},
	}
	var files []corpusFile
	for _, root := range roots {
		size := 0
		err := filepath.WalkDir(root.dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if path == root.dir && os.IsNotExist(err) {
					return fs.SkipDir // a machine without Debian's documentation
				}
				return err
			}
			if size >= budget {
				return fs.SkipAll
			}
			if !d.Type().IsRegular() || (root.ext != nil && !slices.Contains(root.ext, filepath.Ext(path))) {
				return nil
			}
			h := fnv.New32a()
			h.Write([]byte(path))
			if h.Sum32()%root.every != 0 {
				return nil
			}
			if info, err := d.Info(); err != nil || info.Size() > 1<<20 {
				return nil
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return nil // unreadable: not text we can use
			}
			if strings.HasSuffix(path, ".gz") {
				zr, err := gzip.NewReader(bytes.NewReader(data))
				if err != nil {
					return nil
				}
				if data, err = io.ReadAll(io.LimitReader(zr, 1<<20)); err != nil {
					return nil
				}
			}
			if len(data) == 0 || !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0 {
				return nil // binary, or in another encoding
			}
			files = append(files, corpusFile{path, string(data)})
			size += len(data)
			return nil
		})
		if err != nil {
			t.Fatalf("reading %s: %v", root.dir, err)
		}
	}
	return files
}

// Fragments the generated texts are made of: every kind of character
// class and boundary the cl100k pattern distinguishes.
var fragments = []string{
	"The quick brown fox", "jumps over", "the lazy dog.", "It's", "they'll", "we'RE", "I'M", "you'Ve", "she'd", "DON'T", "o'ſ", "'LL", "'", "''s",
	"Съешь же ещё этих мягких французских булок", "да, выпей чаю.", "Україна", "東京都", "日本語のテキストです。", "中文文本，标点符号！",
	"한국어 문장입니다", "مرحبا بالعالم", "النص العربي", "हिन्दी पाठ", "नमस्ते दुनिया", "ελληνικά", "עברית", "ไทย",
	"👩‍👩‍👧", "🎉🎉", "👍🏽", "❤️", "e\u0301", "ﬁ", "Ⅻ", "½", "²³", "٣٤٥", "१२३",
	"0", "12", "123", "1234567", "3.14159", "1,000,000", "2026-11-30", "0xFF", "v1.2.3", "x86_64", "a1b2c3",
	"!", "...", "?!", "—", "«»", "$$$", "#", "##", "- [ ]", "```go", "```", "**bold**", "_it_", "`code`", "<a href=\"x\">", "&amp;", "->", ":=", "//", "/*", "*/", "{}", "();",
	" ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\n\n\n", "\r\n", "\r\n\r\n", "\n \n", " \n", "\n ", "  \n  \n", "\u00a0", "\u3000", "\u2028", "\v", "\f", "\u0085",
	"\x7f", "\x00", "\x1b[0m", "\x1f", "\ufeff", "\u200b", "\ufffd",
	"func main() {\n\tfmt.Println(\"hi\")\n}\n", "SELECT * FROM t WHERE id = 1;", "https://example.com/a/b?c=d&e=f",
}

// generated returns a text of n random fragments, joined by nothing or by
// one of a few separators, with now and then a long run of one character.
func generated(r *rand.Rand, n int) string {
	var b strings.Builder
	seps := []string{"", " ", " ", "\n", "  "}
	for range n {
		switch r.IntN(40) {
		case 0:
			b.WriteString(strings.Repeat(fragments[r.IntN(len(fragments))], 2+r.IntN(300)))
		case 1:
			b.WriteString(strings.Repeat(string("a =-1\n.é東😀"[r.IntN(8)]), 100+r.IntN(3000)))
		default:
			b.WriteString(fragments[r.IntN(len(fragments))])
		}
		b.WriteString(seps[r.IntN(len(seps))])
	}
	return b.String()
}

func TestBPEMatchesLibraryOnRealText(t *testing.T) {
	t.Parallel()
	budget := 1 << 20
	if testing.Short() || raceEnabled {
		budget = 256 << 10
	}
	files := realCorpus(t, budget)
	total := 0
	for _, f := range files {
		total += len(f.text)
	}
	if total < budget {
		t.Fatalf("the corpus is only %d bytes in %d files", total, len(files))
	}
	t.Logf("%d files, %d bytes; %s", len(files), total, coverage(files))
	b, lib := cl100k(t), library()
	for _, f := range files {
		checkExact(t, b, lib, f.name, f.text)
	}
}

func TestBPEMatchesLibraryOnGeneratedText(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(11, 4))
	var files []corpusFile
	for i := range 400 {
		files = append(files, corpusFile{fmt.Sprintf("generated %d", i), generated(r, 1+r.IntN(200))})
	}
	// Every fragment alone, at the end of a text and before each other
	// kind of character: the pattern looks one character ahead.
	for _, f := range fragments {
		for _, next := range []string{"", "a", "1", "!", " ", "  x", "\n", "\x7f", "é", "東"} {
			files = append(files, corpusFile{fmt.Sprintf("%q+%q", f, next), f + next})
		}
	}
	t.Log(coverage(files))
	b := cl100k(t)
	for _, f := range files {
		checkRecorded(t, b, f.name, f.text)
	}
}

// coverage says how much of each kind of text the corpus has, so that a
// test log shows what was compared.
func coverage(files []corpusFile) string {
	kinds := map[string]func(rune) bool{
		"Han":        func(r rune) bool { return unicode.Is(unicode.Han, r) },
		"Kana":       func(r rune) bool { return unicode.In(r, unicode.Hiragana, unicode.Katakana) },
		"Hangul":     func(r rune) bool { return unicode.Is(unicode.Hangul, r) },
		"Cyrillic":   func(r rune) bool { return unicode.Is(unicode.Cyrillic, r) },
		"Arabic":     func(r rune) bool { return unicode.Is(unicode.Arabic, r) },
		"Devanagari": func(r rune) bool { return unicode.Is(unicode.Devanagari, r) },
		"emoji":      func(r rune) bool { return r >= 0x1f300 && r <= 0x1faff },
	}
	count := map[string]int{}
	for _, f := range files {
		for _, r := range f.text {
			for k, is := range kinds {
				if is(r) {
					count[k]++
				}
			}
		}
		count["blank-line runs"] += strings.Count(f.text, "\n\n\n")
		count["blank lines with spaces"] += strings.Count(f.text, "\n \n") + strings.Count(f.text, "\n\t\n")
		count["contractions"] += strings.Count(f.text, "'s ") + strings.Count(f.text, "'t ")
	}
	keys := make([]string, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s %d, ", k, count[k])
	}
	return strings.TrimSuffix(b.String(), ", ")
}

// TestPiecesMatchLibraryPattern compares the pre-tokenizer alone with the
// library's matcher, for every Unicode character in contexts that exercise
// each class of the pattern (a character class wrong for a single
// character would show here), and for text that is not UTF-8.
func TestPiecesMatchLibraryPattern(t *testing.T) {
	t.Parallel()
	re := regexp2.MustCompile(libraryPattern, regexp2.None)
	check := func(s string) {
		t.Helper()
		want := libraryPieces(t, re, s)
		var got [][2]int
		for p := 0; ; {
			start, end := nextPiece(s, p)
			if start == end {
				break
			}
			got = append(got, [2]int{start, end})
			p = end
		}
		if !slices.Equal(got, want) {
			for i := range min(len(got), len(want)) {
				if got[i] != want[i] {
					t.Fatalf("piece %d: got %q at %d, the library %q at %d", i, s[got[i][0]:got[i][1]], got[i][0], s[want[i][0]:want[i][1]], want[i][0])
				}
			}
			t.Fatalf("got %d pieces, the library %d", len(got), len(want))
		}
	}
	var b strings.Builder
	last := rune(unicode.MaxRune)
	if testing.Short() || raceEnabled {
		last = 0xffff // the Basic Multilingual Plane
	}
	for r := rune(0); r <= last; r++ {
		// Every character up to the end of plane 3 (all that Unicode
		// assigns there) and plane 14's; a sample of the unassigned and
		// private-use planes.
		if !utf8.ValidRune(r) || r > 0x3ffff && r>>16 != 14 && r%97 != 0 {
			continue
		}
		c := string(r)
		// Before and after a letter, a digit, a symbol, spaces, a line
		// break; doubled; after an apostrophe and a space.
		b.WriteString("a" + c + "b" + c + "1" + c + "!" + c + "  " + c + c + "\n" + c + "'" + c + " " + c + "a\n")
		if b.Len() > 1<<20 {
			check(b.String())
			b.Reset()
		}
	}
	check(b.String())
	// Not UTF-8: each bad byte is one U+FFFD to the library's matcher.
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		s := []byte(generated(r, 20))
		for range 1 + r.IntN(5) {
			s[r.IntN(len(s))] = byte(0x80 + r.IntN(0x80))
		}
		check(string(s))
	}
}

// libraryPieces returns the byte spans of the pieces the library's matcher
// finds in s. It reads s as runes: a byte that is not UTF-8 is one rune.
func libraryPieces(t testing.TB, re *regexp2.Regexp, s string) [][2]int {
	t.Helper()
	var offs []int // byte offset of each rune, and len(s)
	for i := range s {
		offs = append(offs, i)
	}
	offs = append(offs, len(s))
	var pieces [][2]int
	m, err := re.FindStringMatch(s)
	for ; m != nil && err == nil; m, err = re.FindNextMatch(m) {
		pieces = append(pieces, [2]int{offs[m.RuneIndex], offs[m.RuneIndex+m.RuneLength]})
	}
	if err != nil {
		t.Fatal(err)
	}
	return pieces
}

// TestBPELongRuns checks the texts that make byte-pair merging slow: one
// piece a megabyte long (256 KiB with -short or -race). BPE counts pieces
// up to maxPiece (64 KiB) exactly, as the library does, and merges longer
// ones in windows of that size (bounded memory), well formed. That its
// time grows with the length, not its square, is BenchmarkBPELongRuns'
// to show: merged at O(n²) a 1 MiB piece takes many minutes
// (DEPENDENCIES.md: 32k identical characters took 1.2 s in
// pkoukk/tiktoken-go).
func TestBPELongRuns(t *testing.T) {
	t.Parallel()
	b := cl100k(t)
	r := rand.New(rand.NewPCG(3, 3))
	size := 1 << 20
	if testing.Short() || raceEnabled {
		size = 256 << 10
	}
	letters := make([]byte, size)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	for i := range letters {
		letters[i] = alphabet[r.IntN(len(alphabet))]
	}
	for _, tc := range []struct{ name, unit string }{
		{"Letter", "a"}, {"Pair", "ab"}, {"Letters", string(letters)}, {"Digits", "7"}, {"Dashes", "-"},
		{"Spaces", " "}, {"Newlines", "\n"}, {"BlankLinesWithSpaces", "\n \n"}, {"Han", "東"}, {"Emoji", "😀"}, {"DEL", "\x7f"},
	} {
		long := strings.Repeat(tc.unit, size/len(tc.unit))
		// Exact against the library on a prefix of maxPiece ...
		checkRecorded(t, b, "long run "+tc.name, long[:maxPiece/len(tc.unit)*len(tc.unit)])
		// ... and well formed on the whole.
		checkOffsets(t, b, long) // Offsets and Count
	}
}

// TestBPEOffsetsWellFormed checks the contract of Offsets on any text,
// UTF-8 or not: ends strictly increase, the last is len(s), one per token
// counted, appended to what dst held.
func TestBPEOffsetsWellFormed(t *testing.T) {
	t.Parallel()
	b := cl100k(t)
	r := rand.New(rand.NewPCG(5, 5))
	texts := []string{"", "a", "\x7f", "\x7f\x7f", "\x7fa", "a\x7f", "\xff", "\xff\xfe", "ok \xff\xfe", "\xe6\x9d"}
	for range 100 {
		s := []byte(generated(r, 30))
		for range r.IntN(3) {
			s[r.IntN(len(s))] = byte(r.IntN(256))
		}
		texts = append(texts, string(s))
	}
	for _, s := range texts {
		checkOffsets(t, b, s)
	}
}

func checkOffsets(t testing.TB, b *BPE, s string) {
	t.Helper()
	prefix := []int32{-7}
	offs := b.Offsets(prefix, s)
	if offs[0] != -7 {
		t.Fatalf("%q: Offsets overwrote dst", s)
	}
	offs = offs[1:]
	n := b.Count(s)
	allSkipped := n == 0 && len(s) > 0 // only DEL: one offset, no token
	if len(offs) != n && !(allSkipped && len(offs) == 1) {
		t.Fatalf("%q: %d offsets, Count %d", s, len(offs), n)
	}
	if len(s) == 0 {
		if len(offs) != 0 {
			t.Fatalf("empty text: offsets %v", offs)
		}
		return
	}
	if int(offs[len(offs)-1]) != len(s) {
		t.Fatalf("%q: the last offset is %d, not %d", s, offs[len(offs)-1], len(s))
	}
	for i, prev := 0, int32(0); i < len(offs); prev, i = offs[i], i+1 {
		if offs[i] <= prev {
			t.Fatalf("%q: offsets do not increase: %v", s, offs)
		}
	}
}

// FuzzTokenizerExact compares BPE with the library on any input. For text
// that is not UTF-8 the library encodes U+FFFD where we keep the bytes, so
// there the pieces are compared with the library's matcher instead, and
// Offsets checked for its contract.
func FuzzTokenizerExact(f *testing.F) {
	for _, s := range fragments {
		f.Add(s)
	}
	f.Add("a\n\nb")
	f.Add("x  \n \n\t\n  y\x7f!\r\n")
	f.Add("ok \xff\xfe's")
	re := regexp2.MustCompile(libraryPattern, regexp2.None)
	lib := library()
	f.Fuzz(func(t *testing.T, s string) {
		b := cl100k(t)
		checkOffsets(t, b, s)
		if utf8.ValidString(s) {
			checkExact(t, b, lib, "input", s)
			return
		}
		want := libraryPieces(t, re, s)
		for i, p := 0, 0; ; i++ {
			start, end := nextPiece(s, p)
			if start == end {
				if i != len(want) {
					t.Fatalf("%d pieces, the library %d", i, len(want))
				}
				break
			}
			if i >= len(want) || want[i] != [2]int{start, end} {
				t.Fatalf("piece %d is [%d,%d), the library's %v", i, start, end, want[min(i, len(want)-1)])
			}
			p = end
		}
	})
}
