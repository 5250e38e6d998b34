package chunker

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Section is a span of the text under one heading path (byte offsets).
type Section struct {
	Start, End  int
	HeadingPath []string
}

// Page is the span of the text that came from one page (byte offsets;
// Number counts from 1).
type Page struct {
	Number     int
	Start, End int
}

// Document is extracted text with its structure. Sections and Pages are
// sorted by Start and may leave gaps; both may be empty.
type Document struct {
	Text     string
	Sections []Section
	Pages    []Page
}

// Chunk is a piece of a document's text.
//
// Offsets come in two units: Start and End are byte offsets into
// Document.Text (for Go slicing); CharStart and CharEnd, and those of
// Sections, are offsets in Unicode code points (runes), the unit a client
// in another language slices the document's extracted text by.
type Chunk struct {
	Index              int
	Text               string
	Start, End         int // byte offsets of Text in Document.Text
	CharStart, CharEnd int // code point offsets of Text in Document.Text
	TokenCount         int
	// HeadingPath is what every part of the chunk is under: the common
	// prefix of its Sections' heading paths. A chunk within one section has
	// that section's whole path; one that spans small sections that joined
	// ("Handbook > Leave" and "Handbook > Accounts") has their common root
	// ("Handbook"), never the path of one of them.
	HeadingPath []string
	// Sections are the parts of the chunk under each heading path, in
	// order: each section of the document the chunk overlaps, cut to the
	// chunk and trimmed of white space (text outside every section, or
	// before the first heading, has an empty path). Empty when no part of
	// the chunk is under a heading (a document without any).
	Sections  []ChunkSection
	PageStart int // 0 when the document has no pages
	PageEnd   int
}

// ChunkSection is the part of a chunk under one heading path: its text is
// Document.Text's code points [CharStart, CharEnd).
type ChunkSection struct {
	HeadingPath        []string
	CharStart, CharEnd int // code point offsets in Document.Text
	// PageStart and PageEnd are the pages the part is on (0 when the
	// document has no pages): a chunk of several small slides or pages
	// says which one each part came from.
	PageStart, PageEnd int
}

// Options tune splitting. Zero fields take the defaults.
type Options struct {
	// MaxTokens is the most tokens a chunk may hold. Default 512; it must
	// not exceed the embedding model's input limit (8191 for OpenAI's).
	MaxTokens int
	// OverlapTokens is how many tokens of a chunk's end are repeated at the
	// start of the next chunk of the same section. Default 64; must be less
	// than MaxTokens/2. Chunks never overlap across a section boundary.
	OverlapTokens int
	// MinTokens: a remainder of a section shorter than this joins the chunk
	// before it when that fits, and a section shorter than this is not cut
	// off on its own but joins the next. Default MaxTokens/8.
	MinTokens int
}

// Limits of Options: the one place they are written (uploads, tenant
// settings and configuration check against these).
const (
	DefaultMaxTokens     = 512
	DefaultOverlapTokens = 64
	// MinMaxTokens and MaxMaxTokens bound MaxTokens; 8191 is OpenAI's
	// input limit for its embedding models.
	MinMaxTokens = 16
	MaxMaxTokens = 8191
)

// ValidMaxTokens reports whether n may be a chunk's MaxTokens.
func ValidMaxTokens(n int) bool { return n >= MinMaxTokens && n <= MaxMaxTokens }

// ValidOverlap reports whether overlap fits chunks of maxTokens tokens (0:
// the default size): at least 0 and less than half of it.
func ValidOverlap(overlap, maxTokens int) bool {
	if maxTokens == 0 {
		maxTokens = DefaultMaxTokens
	}
	return overlap >= 0 && overlap*2 < maxTokens
}

// WithDefaults returns o with zero fields set to their defaults.
func (o Options) WithDefaults() Options {
	if o.MaxTokens == 0 {
		o.MaxTokens = DefaultMaxTokens
	}
	if o.OverlapTokens == 0 {
		o.OverlapTokens = min(DefaultOverlapTokens, o.MaxTokens/4)
	}
	if o.MinTokens == 0 {
		o.MinTokens = max(1, o.MaxTokens/8)
	}
	return o
}

// Validate reports what is wrong with o (after WithDefaults).
func (o Options) Validate() error {
	switch {
	case !ValidMaxTokens(o.MaxTokens):
		return fmt.Errorf("max_tokens must be between %d and %d", MinMaxTokens, MaxMaxTokens)
	case !ValidOverlap(o.OverlapTokens, o.MaxTokens):
		return errors.New("overlap_tokens must be at least 0 and less than half of max_tokens")
	case o.MinTokens < 1 || o.MinTokens > o.MaxTokens/2:
		return errors.New("min_tokens must be between 1 and half of max_tokens")
	}
	return nil
}

// Chunker splits documents. It is safe for concurrent use.
type Chunker struct {
	tok  Tokenizer
	opts Options
}

// New returns a Chunker; opts are defaulted and validated.
func New(tok Tokenizer, opts Options) (*Chunker, error) {
	opts = opts.WithDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return &Chunker{tok: tok, opts: opts}, nil
}

// Options returns the chunker's effective options.
func (c *Chunker) Options() Options { return c.opts }

// Boundary strengths, strongest first.
const (
	levelSection = iota
	levelParagraph
	levelLine
	levelSentence
	levelWord
	levelToken
)

// ErrInvalidDocument is returned by Split for text that is not UTF-8, or
// sections or pages outside the text or out of order.
var ErrInvalidDocument = errors.New("chunker: invalid document")

func (d Document) validate() error {
	if !utf8.ValidString(d.Text) {
		return fmt.Errorf("%w: text is not valid UTF-8", ErrInvalidDocument)
	}
	prev := 0
	for _, s := range d.Sections {
		if s.Start < prev || s.End < s.Start || s.End > len(d.Text) {
			return fmt.Errorf("%w: section [%d,%d) out of order or outside the text", ErrInvalidDocument, s.Start, s.End)
		}
		prev = s.End
	}
	prev = 0
	for _, p := range d.Pages {
		if p.Start < prev || p.End < p.Start || p.End > len(d.Text) {
			return fmt.Errorf("%w: page %d [%d,%d) out of order or outside the text", ErrInvalidDocument, p.Number, p.Start, p.End)
		}
		prev = p.End
	}
	return nil
}

// Split cuts doc into chunks of at most MaxTokens tokens, in document order.
// Every non-space character of the text is in at least one chunk; chunks
// have no leading or trailing white space; Split never returns an empty
// chunk, and returns none for a text that is only white space. The text
// must be UTF-8 and the sections and pages sorted, non-overlapping spans of
// it; otherwise Split returns ErrInvalidDocument.
func (c *Chunker) Split(doc Document) ([]Chunk, error) {
	if err := doc.validate(); err != nil {
		return nil, err
	}
	text := doc.Text
	ends := c.tok.Offsets(make([]int32, 0, len(text)/4+1), text)
	// bounds[i] is the byte offset of token boundary i: bounds[0] = 0,
	// bounds[len] = len(text).
	bounds := make([]int, len(ends)+1)
	for i, e := range ends {
		bounds[i+1] = int(e)
	}
	n := len(ends)
	levels := c.levels(doc, bounds)
	sectionAt := sectionBoundaries(doc.Sections, bounds)

	var chunks []Chunk
	o := c.opts
	// Code point offsets are counted as the chunks go, never from the
	// start of the text again.
	cur := &runeCursor{text: text}
	for s := 0; s < n; {
		// Skip white space between chunks.
		for s < n && isSpace(text[bounds[s]:bounds[s+1]]) {
			s++
		}
		if s == n {
			break
		}
		limit := min(n, s+o.MaxTokens)
		end := c.chooseEnd(s, limit, n, levels, sectionAt)
		ch, end := c.makeChunk(doc, bounds, s, end, levels, cur)
		// A chunk that is all overlap (only white space followed the last
		// one) adds nothing.
		if ch.Text != "" && (len(chunks) == 0 || ch.End > chunks[len(chunks)-1].End) {
			ch.Index = len(chunks)
			chunks = append(chunks, ch)
		}
		if end >= n {
			break
		}
		next := end
		if levels[end] != levelSection && o.OverlapTokens > 0 {
			next = c.overlapStart(s, end, levels)
		}
		s = next
	}
	return chunks, nil
}

// chooseEnd picks where the chunk that starts at token s ends, at most at
// limit: the first section boundary that does not leave a tiny section
// behind, else the strongest boundary in the back part of the window; a
// tiny remainder of the section joins this chunk when it fits.
func (c *Chunker) chooseEnd(s, limit, n int, levels []int8, sectionAt []int) int {
	o := c.opts
	// The end of the section that starts the chunk, skipping sections too
	// small to stand alone.
	sec := nextSection(sectionAt, s, n)
	// A section too small to stand alone joins what follows it ...
	for sec < n && sec-s < o.MinTokens {
		sec = nextSection(sectionAt, sec, n)
	}
	if sec <= limit {
		// ... and small sections after it join this chunk while they fit.
		for sec < n {
			next := nextSection(sectionAt, sec, n)
			if next-sec >= o.MinTokens || next > limit {
				break
			}
			sec = next
		}
		return sec
	}
	// The section goes on past the window: cut inside it, leaving at least
	// MinTokens for the rest so that no tiny remainder stands alone.
	if sec-limit < o.MinTokens {
		limit = max(s+o.MinTokens, sec-o.MinTokens)
	}
	// Search the back half of the window only, so that a strong boundary
	// early on does not leave a chunk mostly empty.
	lo := min(limit, s+max(o.MinTokens, o.MaxTokens/2))
	best, bestLevel := limit, int8(levelToken+1)
	for i := limit; i >= lo; i-- {
		if levels[i] < bestLevel {
			best, bestLevel = i, levels[i]
			if bestLevel <= levelParagraph {
				break
			}
		}
	}
	return best
}

// overlapStart returns where the chunk after [s, end) starts: about
// OverlapTokens before end, moved forward to the next word boundary.
func (c *Chunker) overlapStart(s, end int, levels []int8) int {
	start := end - c.opts.OverlapTokens
	if start <= s {
		return end
	}
	for i := start; i < end; i++ {
		if levels[i] <= levelWord {
			return i
		}
	}
	return start
}

// makeChunk builds the chunk for tokens [s, end), trimmed of white space,
// and shrinks end in the rare case that the text counted on its own has
// more tokens than allowed. It returns the chunk and its final end.
func (c *Chunker) makeChunk(doc Document, bounds []int, s, end int, levels []int8, cur *runeCursor) (Chunk, int) {
	for {
		// A token may end inside a code point (an emoji, a CJK character,
		// a rare space, cut by byte-level BPE): the chunk takes the whole
		// code point, so that its text is UTF-8 and its code point offsets
		// exact, then loses its white space (whole code points, so that
		// start never passes stop: a chunk of only white space is empty,
		// and Split drops it).
		start, stop := bounds[s], bounds[end]
		for start > 0 && start < len(doc.Text) && !utf8.RuneStart(doc.Text[start]) {
			start--
		}
		for stop < len(doc.Text) && !utf8.RuneStart(doc.Text[stop]) {
			stop++
		}
		start, stop = trimSpace(doc.Text, start, stop)
		text := doc.Text[start:stop]
		count := c.tok.Count(text)
		if count <= c.opts.MaxTokens || end-s <= 1 {
			ch := Chunk{Text: text, Start: start, End: stop, TokenCount: count}
			ch.CharStart = cur.at(start)
			ch.Sections = chunkSections(doc, start, stop, cur)
			ch.CharEnd = cur.at(stop)
			ch.HeadingPath = commonPath(ch.Sections)
			ch.PageStart, ch.PageEnd = pageSpan(doc.Pages, start, stop)
			return ch, end
		}
		// Cut the excess off, at a word boundary when one is near.
		cut := max(s+1, end-(count-c.opts.MaxTokens))
		end = cut
		for i := cut; i > max(s+1, cut-16); i-- {
			if levels[i] <= levelWord {
				end = i
				break
			}
		}
	}
}

// levels classifies every token boundary by the strongest structure it
// separates, in one pass: each run of white space is measured once.
func (c *Chunker) levels(doc Document, bounds []int) []int8 {
	text := doc.Text
	lv := make([]int8, len(bounds))
	runL, runR, level := -1, -1, int8(levelToken)
	for i, p := range bounds {
		if p < runL || p > runR {
			runL, runR = p, p
			for runL > 0 && isSpaceByte(text[runL-1]) {
				runL--
			}
			for runR < len(text) && isSpaceByte(text[runR]) {
				runR++
			}
			level = runLevel(text, runL, runR)
		}
		lv[i] = level
	}
	for _, i := range sectionBoundaries(doc.Sections, bounds) {
		lv[i] = levelSection
	}
	lv[0], lv[len(lv)-1] = levelSection, levelSection
	return lv
}

// runLevel classifies the white space text[l:r] (empty: inside a word).
func runLevel(text string, l, r int) int8 {
	if l == r {
		return levelToken
	}
	switch strings.Count(text[l:r], "\n") {
	case 0:
	case 1:
		return levelLine
	default:
		return levelParagraph
	}
	if l > 0 {
		if last, _ := utf8.DecodeLastRuneInString(text[:l]); strings.ContainsRune(".!?。！？;:", last) {
			return levelSentence
		}
	}
	return levelWord
}

// sectionBoundaries returns the sorted token indexes at which sections
// start (each section start snapped to the next token boundary).
func sectionBoundaries(sections []Section, bounds []int) []int {
	var out []int
	for _, sec := range sections {
		i := sort.SearchInts(bounds, sec.Start)
		if i > 0 && i < len(bounds)-1 && (len(out) == 0 || out[len(out)-1] < i) {
			out = append(out, i)
		}
	}
	return out
}

// nextSection returns the first section boundary after token s, or n (the
// end of the text).
func nextSection(sectionAt []int, s, n int) int {
	i := sort.SearchInts(sectionAt, s+1)
	if i < len(sectionAt) {
		return sectionAt[i]
	}
	return n
}

func isSpaceByte(b byte) bool {
	return b == ' ' || b == '\n' || b == '\t' || b == '\r' || b == '\f' || b == '\v'
}

func isSpace(s string) bool {
	return strings.TrimFunc(s, unicode.IsSpace) == ""
}

func trimSpace(text string, start, end int) (int, int) {
	for start < end {
		r, size := utf8.DecodeRuneInString(text[start:end])
		if !unicode.IsSpace(r) {
			break
		}
		start += size
	}
	for end > start {
		r, size := utf8.DecodeLastRuneInString(text[start:end])
		if !unicode.IsSpace(r) {
			break
		}
		end -= size
	}
	return start, end
}

// chunkSections returns the parts of [start, end) under each section of
// doc (and under none, between sections), trimmed of white space, with
// code point offsets; nil when no part is under a heading.
func chunkSections(doc Document, start, end int, cur *runeCursor) []ChunkSection {
	sections := doc.Sections
	if len(sections) == 0 {
		return nil
	}
	var out []ChunkSection
	add := func(lo, hi int, path []string) {
		// Section bounds need not fall on the chunk's token boundaries:
		// keep them on code point boundaries.
		for lo < hi && !utf8.RuneStart(doc.Text[lo]) {
			lo++
		}
		for hi < len(doc.Text) && hi > lo && !utf8.RuneStart(doc.Text[hi]) {
			hi--
		}
		lo, hi = trimSpace(doc.Text, lo, hi)
		if lo < hi {
			first, last := pageSpan(doc.Pages, lo, hi)
			out = append(out, ChunkSection{HeadingPath: path, CharStart: cur.at(lo), CharEnd: cur.at(hi), PageStart: first, PageEnd: last})
		}
	}
	pos := start
	for i := sort.Search(len(sections), func(i int) bool { return sections[i].End > start }); i < len(sections) && sections[i].Start < end; i++ {
		sec := sections[i]
		if sec.Start > pos {
			add(pos, sec.Start, nil)
		}
		add(max(start, sec.Start), min(end, sec.End), sec.HeadingPath)
		pos = max(pos, min(end, sec.End))
	}
	if pos < end {
		add(pos, end, nil)
	}
	for _, s := range out {
		if len(s.HeadingPath) > 0 {
			return out
		}
	}
	return nil
}

// commonPath returns the longest heading path that begins every section's
// path (nil for none).
func commonPath(sections []ChunkSection) []string {
	if len(sections) == 0 {
		return nil
	}
	p := sections[0].HeadingPath
	for _, s := range sections[1:] {
		n := 0
		for n < len(p) && n < len(s.HeadingPath) && p[n] == s.HeadingPath[n] {
			n++
		}
		p = p[:n]
	}
	if len(p) == 0 {
		return nil
	}
	return p[:len(p):len(p)]
}

// runeCursor converts byte offsets of text to code point offsets, counting
// only the bytes between the last offset asked for and the next: offsets
// asked for in about increasing order (chunks move forward, stepping back
// only by their overlap) cost about one pass over the text in all.
type runeCursor struct {
	text string
	b, r int // byte offset b is code point offset r
}

// at returns the code point offset of byte offset b (a code point
// boundary), moving the cursor there when it is ahead.
func (c *runeCursor) at(b int) int {
	if b >= c.b {
		c.r += utf8.RuneCountInString(c.text[c.b:b])
		c.b = b
		return c.r
	}
	return c.r - utf8.RuneCountInString(c.text[b:c.b])
}

// pageSpan returns the first and last page that [start, end) touches, or
// zeros when there are no pages.
func pageSpan(pages []Page, start, end int) (int, int) {
	first, last := 0, 0
	for i := sort.Search(len(pages), func(i int) bool { return pages[i].End > start }); i < len(pages) && pages[i].Start < end; i++ {
		if first == 0 {
			first = pages[i].Number
		}
		last = pages[i].Number
	}
	return first, last
}
