package search

import (
	"math"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kljensen/snowball/english"
)

// Snippet sizes, in Unicode code points (runes).
const (
	// SnippetChars is about how long a snippet is: the window of the
	// chunk it shows, before the "…" marking where it was cut and a few
	// closing punctuation marks after its last word.
	SnippetChars = 200
	// MaxChunkHighlights bounds the highlights of a whole chunk: a chunk
	// repeating a query's word thousands of times gets its first
	// MaxChunkHighlights.
	MaxChunkHighlights = 1000
)

// Ellipsis marks where a snippet cuts its chunk's text.
const Ellipsis = "…"

// Span is a range of a text in Unicode code points (runes, not bytes or
// UTF-16 units): Start is the first rune's index, End the index after the
// last, as in []rune(text)[Start:End].
type Span struct {
	Start int `json:"start"`
	End   int `json:"end"`
}

// Snippet is what a hit shows of its chunk: a window of the text around
// the query's words, and where those words are.
type Snippet struct {
	// Text is about SnippetChars runes of the chunk cut at word
	// boundaries, with Ellipsis before and after where the chunk goes on.
	Text string
	// Highlights are the query's words in Text (offsets count the leading
	// Ellipsis, when there is one), in order and not overlapping.
	Highlights []Span
	// ChunkHighlights are the query's words in the whole chunk text (the
	// first MaxChunkHighlights), in order and not overlapping.
	ChunkHighlights []Span
}

// SnippetQuery is a query's terms, ready to cut snippets of many chunks.
type SnippetQuery struct {
	terms   map[string]int // stem -> its index
	lengths []int          // each term's length in runes
	// firsts are the terms' first runes: stemming keeps a word's first
	// rune, so a word starting otherwise matches no term, unstemmed.
	firsts map[rune]bool
}

// NewSnippetQuery reads query's terms as BM25 does (Terms: lowercased,
// English stop words dropped, Snowball-stemmed), so that a snippet
// highlights the words the sparse side matched: "running" finds "runs".
func NewSnippetQuery(query string) SnippetQuery {
	q := SnippetQuery{terms: map[string]int{}, firsts: map[rune]bool{}}
	for _, t := range Terms(query) {
		if _, ok := q.terms[t]; !ok {
			q.terms[t] = len(q.terms)
			q.lengths = append(q.lengths, utf8.RuneCountInString(t))
			r, _ := utf8.DecodeRuneInString(t)
			q.firsts[r] = true
		}
	}
	return q
}

// MakeSnippet is NewSnippetQuery(query).Cut(text).
func MakeSnippet(text, query string) Snippet { return NewSnippetQuery(query).Cut(text) }

// word is a run of word characters of a text (letters, digits and '_', as
// Terms splits), in runes and bytes, and the query term it matches (-1:
// none).
type word struct {
	start, end   int // runes
	bstart, bend int // bytes
	term         int
}

// Cut returns text's snippet for q: the window of about SnippetChars runes
// holding the most of the query's distinct terms, each weighted by its
// length and, against words the chunk repeats, its rarity in the chunk;
// the text's beginning when no word matches (a hit of the dense side
// alone, or a query of stop words only). The work is linear in the text
// (each distinct word is stemmed once).
func (q SnippetQuery) Cut(text string) Snippet { return q.cut(text, map[string]int{}) }

// cut is Cut with a cache of the words matched so far (a lowercased word
// -> its term, -1 for none), which the hits of one search share.
func (q SnippetQuery) cut(text string, stems map[string]int) Snippet {
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	words, n := q.words(text, stems)
	var matches []int // indexes in words
	freq := make([]int, len(q.terms))
	for i, w := range words {
		if w.term >= 0 {
			matches = append(matches, i)
			freq[w.term]++
		}
	}
	s := Snippet{Highlights: []Span{}, ChunkHighlights: make([]Span, 0, min(len(matches), MaxChunkHighlights))}
	for _, m := range matches[:min(len(matches), MaxChunkHighlights)] {
		s.ChunkHighlights = append(s.ChunkHighlights, Span{words[m].start, words[m].end})
	}

	// The window: from the first to the last of the matches it holds.
	first, last := -1, -1
	if len(matches) > 0 {
		weight := make([]float64, len(q.terms))
		for t, f := range freq {
			weight[t] = termWeight(q.lengths[t], f)
		}
		first, last = bestWindow(words, matches, weight, SnippetChars)
	}

	// Widen it to SnippetChars, the context split evenly on both sides,
	// then shrink each end to a word boundary: the snippet holds
	// words[sw:ew] and text[bstart:bend].
	sw, ew := 0, len(words)
	bstart, bend := 0, len(text)
	if n > SnippetChars {
		lo, hi := 0, SnippetChars
		if first >= 0 {
			a, b := words[matches[first]].start, words[matches[last]].end
			lo = max(0, min(a-(SnippetChars-(b-a))/2, n-SnippetChars))
			hi = lo + SnippetChars
		}
		if lo > 0 {
			// The first word starting at or after lo, never after the first match.
			sw = sort.Search(len(words), func(i int) bool { return words[i].start >= lo })
			if first >= 0 {
				sw = min(sw, matches[first])
			}
			bstart = len(text)
			if sw < len(words) {
				bstart = words[sw].bstart
			}
		}
		if hi < n {
			// The last word ending at or before hi, never before the last match.
			ew = sort.Search(len(words), func(i int) bool { return words[i].end > hi })
			if last >= 0 {
				ew = max(ew, matches[last]+1)
			}
			if ew > sw {
				bend = words[ew-1].bend
				// Closing punctuation right after the last word stays with it.
				for k := 0; k < 3 && bend < len(text); k++ {
					r, size := utf8.DecodeRuneInString(text[bend:])
					if !unicode.IsPunct(r) {
						break
					}
					bend += size
				}
			} else {
				// No whole word fits (one very long word): cut inside it.
				bend = byteOffset(text, hi)
			}
			bend = max(bend, bstart)
		}
	}
	shift := 0 // a rune of the text is at its index + shift in the snippet
	var b strings.Builder
	if bstart > 0 {
		b.WriteString(Ellipsis)
		shift = 1 - n
		if sw < len(words) {
			shift = 1 - words[sw].start
		}
	}
	b.WriteString(text[bstart:bend])
	if bend < len(text) {
		b.WriteString(Ellipsis)
	}
	s.Text = b.String()
	for _, m := range matches {
		if w := words[m]; w.bstart >= bstart && w.bend <= bend {
			s.Highlights = append(s.Highlights, Span{w.start + shift, w.end + shift})
		} else if w.bstart >= bend {
			break
		}
	}
	return s
}

// words splits text as Terms does, keeping where each word is, and
// matches each against q's terms; n is text's length in runes.
func (q SnippetQuery) words(text string, stems map[string]int) (words []word, n int) {
	words = make([]word, 0, len(text)/6+1)
	var buf []byte // an ASCII word, lowercased
	in := false
	var cur word
	flush := func() {
		cur.term = -1
		if len(q.terms) > 0 {
			cur.term, buf = q.match(text[cur.bstart:cur.bend], stems, buf)
		}
		words = append(words, cur)
		in = false
	}
	for i, r := range text {
		if isWordRune(r) {
			if !in {
				in = true
				cur = word{start: n, bstart: i}
			}
			cur.end, cur.bend = n+1, i+utf8.RuneLen(r)
		} else if in {
			flush()
		}
		n++
	}
	if in {
		flush()
	}
	return words, n
}

// match returns the term w (a word of the text) matches, or -1. Words are
// lowercased on their own, and lowercasing may split one (Terms lowercases
// the whole text before splitting it): any of its parts may match.
func (q SnippetQuery) match(w string, stems map[string]int, buf []byte) (int, []byte) {
	var lw string
	if isASCII(w) {
		if !q.firsts[unicode.ToLower(rune(w[0]))] {
			return -1, buf // most words: no term starts as they do
		}
		buf = buf[:0]
		for i := 0; i < len(w); i++ {
			c := w[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			buf = append(buf, c)
		}
		if t, ok := stems[string(buf)]; ok { // no allocation
			return t, buf
		}
		lw = string(buf)
	} else {
		lw = strings.ToLower(w)
		if t, ok := stems[lw]; ok {
			return t, buf
		}
	}
	t := -1
	for _, part := range strings.FieldsFunc(lw, func(r rune) bool { return !isWordRune(r) }) {
		if r, _ := utf8.DecodeRuneInString(part); !q.firsts[r] || len(part) > maxTermBytes || stopWords[part] {
			continue
		}
		if i, ok := q.terms[english.Stem(part, false)]; ok {
			t = i
			break
		}
	}
	if len(stems) < 1<<14 { // distinct words are few in a real chunk; a hostile one is not cached past this
		stems[lw] = t
	}
	return t, buf
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) || r == '_' }

// termWeight is what holding term t (seen freq times in the chunk) is
// worth to a window: longer terms say more than short ones, and a term the
// chunk repeats says less at any one place than one it has once.
func termWeight(length, freq int) float64 {
	return (1 + float64(min(length, 12))/4) / (1 + math.Log(float64(max(freq, 1))))
}

// bestWindow returns the first and last of matches (indexes into matches)
// of the window of at most width runes with the highest weight of distinct
// terms, then the most matches; the earliest of equals. Two pointers: each
// match enters and leaves the window once.
func bestWindow(words []word, matches []int, weight []float64, width int) (first, last int) {
	count := make([]int, len(weight))
	score, bestScore := 0.0, -1.0
	total, bestTotal := 0, -1
	j := 0 // matches[i:j] are in the window
	for i := range matches {
		start := words[matches[i]].start
		for j < len(matches) && words[matches[j]].end-start <= width {
			t := words[matches[j]].term
			if count[t] == 0 {
				score += weight[t]
			}
			count[t]++
			total++
			j++
		}
		if j == i { // a single word wider than the window: it alone
			t := words[matches[j]].term
			count[t]++
			score += weight[t]
			total++
			j++
		}
		// Compare with a tolerance: sums of the same weights in another
		// order may differ in the last bits.
		if score > bestScore+1e-9 || (math.Abs(score-bestScore) <= 1e-9 && total > bestTotal) {
			bestScore, bestTotal, first, last = score, total, i, j-1
		}
		t := words[matches[i]].term
		count[t]--
		total--
		if count[t] == 0 {
			score -= weight[t]
		}
	}
	return first, last
}

// byteOffset returns the byte offset of rune index r in s.
func byteOffset(s string, r int) int {
	for i := range s {
		if r == 0 {
			return i
		}
		r--
	}
	return len(s)
}

// addSnippets fills the snippet and highlights of each hit.
func addSnippets(hits []Found, query string) {
	if len(hits) == 0 {
		return
	}
	q, stems := NewSnippetQuery(query), map[string]int{}
	for i := range hits {
		s := q.cut(hits[i].Text, stems)
		hits[i].Snippet, hits[i].Highlights, hits[i].ChunkHighlights = s.Text, s.Highlights, s.ChunkHighlights
	}
}
