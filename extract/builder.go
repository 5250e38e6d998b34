package extract

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/ragd/ragd/chunker"
)

// Extracted is a document's text with its structure.
type Extracted struct {
	chunker.Document
	Title     string
	PageCount int
	// OCR says which pages were recognised by OCR and how confidently;
	// nil when OCR read no page.
	OCR *OCRReport
}

// OCRReport is what OCR did for a document: its languages, and each page
// it recognised, in page order.
type OCRReport struct {
	Languages string    `json:"languages"`
	Pages     []OCRPage `json:"pages"`
}

// OCRPage is one page OCR recognised.
type OCRPage struct {
	Page int `json:"page"`
	// Confidence is the mean of the page's word confidences, 0-100
	// (tesseract's), rounded to a tenth.
	Confidence float64 `json:"confidence"`
	Words      int     `json:"words"`
	// Kept: the page's recognised text is in the document. A page under
	// MinOCRConfidence is left out (a PDF page keeps its text layer).
	Kept bool `json:"kept"`
}

// KeptPages counts the pages whose recognised text was kept.
func (r *OCRReport) KeptPages() int {
	if r == nil {
		return 0
	}
	n := 0
	for _, p := range r.Pages {
		if p.Kept {
			n++
		}
	}
	return n
}

// builder accumulates normalised text block by block, keeping track of
// sections (a new one at every heading) and pages.
type builder struct {
	b        strings.Builder
	maxBytes int
	path     []string // current heading path
	levels   []int    // heading level of each path element
	secStart int
	sections []chunker.Section
	page     int
	pgStart  int
	pages    []chunker.Page
	title    string
	tooLarge bool
}

func newBuilder(maxBytes int) *builder { return &builder{maxBytes: maxBytes} }

// heading starts a new section at a heading of the given level (1 = top).
func (b *builder) heading(level int, text string) {
	text = cleanInline(text)
	if text == "" {
		return
	}
	b.closeSection()
	for len(b.levels) > 0 && b.levels[len(b.levels)-1] >= level {
		b.levels = b.levels[:len(b.levels)-1]
		b.path = b.path[:len(b.path)-1]
	}
	b.levels = append(b.levels, level)
	b.path = append(b.path, truncateRunes(text, 200))
	if b.title == "" && level == 1 {
		b.title = text
	}
	b.write(text)
	b.write("\n\n")
}

// paragraph adds a block of running text; inner white space is folded.
func (b *builder) paragraph(text string) {
	text = cleanInline(text)
	if text == "" {
		return
	}
	b.write(text)
	b.write("\n\n")
}

// lines adds a block whose line breaks matter (list items, table rows,
// code), each line cleaned on its own.
func (b *builder) lines(ls []string) {
	wrote := false
	for _, l := range ls {
		l = cleanInline(l)
		if l == "" {
			continue
		}
		b.write(l)
		b.write("\n")
		wrote = true
	}
	if wrote {
		b.write("\n")
	}
}

// startPage begins page n (1-based); text until the next startPage belongs
// to it.
func (b *builder) startPage(n int) {
	b.endPage()
	b.page, b.pgStart = n, b.b.Len()
}

func (b *builder) endPage() {
	if b.page > 0 && b.b.Len() > b.pgStart {
		b.pages = append(b.pages, chunker.Page{Number: b.page, Start: b.pgStart, End: b.b.Len()})
	}
	b.page = 0
}

func (b *builder) closeSection() {
	if b.b.Len() > b.secStart {
		b.sections = append(b.sections, chunker.Section{Start: b.secStart, End: b.b.Len(), HeadingPath: collapseRepeats(b.path)})
	}
	b.secStart = b.b.Len()
}

// collapseRepeats returns a copy of path without an element that repeats
// the one before it: a running header at a heading's size on every page of
// a PDF, or a page's heading repeated a level down, would otherwise give
// "Guide > version 1.7 > version 1.7 > Chapter 3".
func collapseRepeats(path []string) []string {
	var out []string
	for _, p := range path {
		if len(out) > 0 && out[len(out)-1] == p {
			continue
		}
		out = append(out, p)
	}
	return out
}

func (b *builder) write(s string) {
	if b.tooLarge {
		return
	}
	if b.maxBytes > 0 && b.b.Len()+len(s) > b.maxBytes {
		b.tooLarge = true
		return
	}
	b.b.WriteString(s)
}

// result finishes the document. It fails with too_large when the text went
// over the limit, and with no_text when there is none.
func (b *builder) result() (Extracted, error) {
	if b.tooLarge {
		return Extracted{}, fail(CodeTooLarge, "the document has more than %d bytes of text; split it into smaller files", b.maxBytes)
	}
	b.closeSection()
	b.endPage()
	text := b.b.String()
	if strings.TrimSpace(text) == "" {
		return Extracted{}, fail(CodeNoText, "the document contains no text")
	}
	// Trim the final blank line; spans stay within the text.
	trimmed := strings.TrimRight(text, "\n")
	for i := range b.sections {
		b.sections[i].End = min(b.sections[i].End, len(trimmed))
	}
	for i := range b.pages {
		b.pages[i].End = min(b.pages[i].End, len(trimmed))
	}
	return Extracted{
		Document: chunker.Document{Text: trimmed, Sections: nonEmptySections(b.sections), Pages: nonEmptyPages(b.pages)},
		Title:    b.title,
	}, nil
}

func nonEmptySections(ss []chunker.Section) []chunker.Section {
	out := ss[:0]
	for _, s := range ss {
		if s.End > s.Start {
			out = append(out, s)
		}
	}
	return out
}

func nonEmptyPages(ps []chunker.Page) []chunker.Page {
	out := ps[:0]
	for _, p := range ps {
		if p.End > p.Start {
			out = append(out, p)
		}
	}
	return out
}

// cleanInline normalises a run of text: Unicode NFC, control characters
// dropped, every run of white space (line breaks included) folded into one
// space, and the ends trimmed.
func cleanInline(s string) string {
	s = norm.NFC.String(s)
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			continue
		case unicode.IsSpace(r):
			space = true
			continue
		case unicode.IsControl(r), r == '\u00ad', r == '\ufeff', r == '\u200b':
			continue // soft hyphens, BOMs and zero-width spaces carry no text
		case r >= '\ufb00' && r <= '\ufb06':
			// Typographic ligatures (ﬁ, ﬂ, ...), common in PDFs, would
			// keep "speciﬁcation" from matching "specification".
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteString(ligatures[r-'\ufb00'])
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

var ligatures = [...]string{"ff", "fi", "fl", "ffi", "ffl", "st", "st"}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}
