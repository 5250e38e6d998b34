package extract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/ledongthuc/pdf"
)

// repairPDF fixes, without moving any byte that offsets point at, what
// ledongthuc/pdf refuses needlessly: bytes before the header or after the
// last %%EOF, a header with a space before its line break, and PDF 2.0
// headers (the syntax it reads is the same).
func repairPDF(data []byte) []byte {
	if i := bytes.Index(data[:min(len(data), 1024)], []byte("%PDF-")); i > 0 {
		data = data[i:]
	}
	if i := bytes.LastIndex(data, []byte("%%EOF")); i >= 0 {
		data = data[:i+len("%%EOF")]
	}
	if len(data) < 10 {
		return data
	}
	data = bytes.Clone(data)
	if bytes.HasPrefix(data, []byte("%PDF-2.")) {
		copy(data, "%PDF-1.7")
	}
	if data[8] == ' ' || data[8] == '\t' {
		data[8] = '\n'
	}
	return data
}

// glyph is one piece of text drawn on a page.
type glyph struct {
	x, y, w, size float64
	s             string
}

// pdfLine is a line of text rebuilt from glyph positions.
type pdfLine struct {
	text string
	size float64 // the line's dominant font size
	y    float64
	gap  bool // a paragraph break precedes it
}

// extractPDF reads a PDF page by page. Words are spaced from the glyphs'
// positions (kerned TJ arrays otherwise glue words together), lines in a
// noticeably larger font than the body become headings, and words broken
// by a hyphen at a line end are joined again. A page that cannot be read
// is skipped; a PDF none of whose pages can be read is pdf_malformed. An
// encrypted PDF opens with password, or without one when its user
// password is empty (see pdfcrypt.go); otherwise it is pdf_encrypted.
func extractPDF(ctx context.Context, data []byte, password string, lim Limits) (Extracted, error) {
	data = repairPDF(data)
	r, n, err := openPDF(data, password)
	if err != nil {
		return Extracted{}, err
	}
	if n > lim.MaxPages {
		return Extracted{}, fail(CodeTooManyPages, "the PDF has %d pages; the limit is %d", n, lim.MaxPages)
	}
	if n == 0 {
		return Extracted{}, fail(CodePDFMalformed, "the PDF has no pages")
	}
	doc := newPDFDoc(r, n)
	if doc.loop {
		return Extracted{}, fail(CodePDFMalformed, "the PDF's page tree holds itself (a /Pages node among its own pages), so its pages cannot be found; the file is damaged: save or print it to PDF again")
	}
	pages, errs := readPages(ctx, doc, n, lim.Parallel)
	if ctx.Err() != nil {
		return Extracted{}, ctx.Err()
	}
	failed := 0
	var firstErr error
	for _, err := range errs {
		if err != nil {
			failed++
			firstErr = cmpOrErr(firstErr, err)
		}
	}
	if failed == n {
		return Extracted{}, &Error{Code: CodePDFMalformed, Message: "no page of the PDF could be read", Err: firstErr}
	}

	// Pages without a usable text layer are rendered and recognised, when
	// the server has OCR; a protected PDF is not (its password would have
	// to go on pdftoppm's command line).
	var ocr map[int]*ocrPage
	ocrWords := 0
	if lim.Tesseract != "" && lim.Pdftoppm != "" && password == "" {
		var want []int
		for i, lines := range pages {
			if errs[i] == nil && needsOCR(lines) {
				want = append(want, i+1)
			}
		}
		ocr = ocrPDFPages(ctx, data, want, lim)
		if ctx.Err() != nil {
			return Extracted{}, ctx.Err()
		}
		for _, p := range ocr {
			ocrWords += p.words
		}
	}

	body := bodySize(pages)
	headingSizes := headingLevels(pages, body)
	b := newBuilder(lim.MaxTextBytes)
	rep := &OCRReport{Languages: lim.OCRLanguages}
	for i, lines := range pages {
		if addOCRPage(b, rep, i+1, ocr[i+1]) {
			continue
		}
		b.startPage(i + 1)
		var para []string
		flush := func() {
			if len(para) > 0 {
				b.paragraph(joinHyphenated(para))
				para = para[:0]
			}
		}
		for _, l := range lines {
			if level, ok := headingSizes[roundSize(l.size)]; ok && len(l.text) <= 200 {
				flush()
				b.heading(level, l.text)
				continue
			}
			if l.gap {
				flush()
			}
			para = append(para, l.text)
		}
		flush()
	}
	ext, err := b.result()
	if err != nil {
		if e, ok := AsError(err); ok && e.Code == CodeNoText {
			switch {
			case ocrWords > 0:
				return Extracted{}, fail(CodeOCRLowConfidence, "the PDF has no text layer, and the text OCR recognised on its pages is mostly guesswork (mean confidence under %d%%): a poor scan, or a language other than %s", MinOCRConfidence, lim.OCRLanguages)
			case ocr != nil:
				return Extracted{}, fail(CodeNoText, "the PDF has no text layer, and OCR recognised no text on its pages")
			}
			return Extracted{}, fail(CodeNoText, "the PDF has no text layer (a scan or images only?), and OCR is off on this server")
		}
		return Extracted{}, err
	}
	ext.PageCount = n
	ext.Title = pdfTitle(r, pages, body)
	ext.OCR = rep.orNil()
	if p := ocr[1]; ext.Title == "" && p != nil && p.meanConfidence() >= MinOCRConfidence {
		ext.Title = ocrTitle(p) // a scan: the largest type of its first page
	}
	return ext, nil
}

// pdfOpenError says why the library did not open a PDF. It reports
// encryption only in its messages, so they are read here, at the edge.
func pdfOpenError(data []byte, err error) error {
	msg := err.Error()
	if errors.Is(err, pdf.ErrInvalidPassword) {
		return pdfCryptError(fmt.Errorf("%w: %w", errPDFWrongPassword, err))
	}
	if strings.Contains(msg, "encrypt") ||
		(bytes.Contains(data, []byte("/Encrypt")) && strings.Contains(msg, "malformed")) {
		return &Error{Code: CodePDFEncrypted, Message: "the PDF is encrypted in a way ragd cannot read; upload an unprotected copy", Err: err}
	}
	return &Error{Code: CodePDFMalformed, Message: "the file is not a readable PDF (damaged or truncated?)", Err: err}
}

// pdfCryptError is the failure for a PDF whose encryption stopped
// decryptPDF. The message never holds the password.
func pdfCryptError(err error) error {
	switch {
	case errors.Is(err, errPDFNeedsPassword):
		return &Error{Code: CodePDFEncrypted, Err: err,
			Message: "the PDF is protected with a password; upload it again with its password in the password field"}
	case errors.Is(err, errPDFWrongPassword):
		return &Error{Code: CodePDFEncrypted, Err: err,
			Message: "the PDF is protected with a password, and the password given does not open it"}
	}
	return &Error{Code: CodePDFEncrypted, Err: err,
		Message: "the PDF is encrypted with a security handler ragd cannot read (a certificate, or a vendor's own); upload an unprotected copy"}
}

func cmpOrErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// openPDF opens data and counts its pages. An encrypted PDF is decrypted
// first (decryptPDF), with password; when the rewriter cannot follow the
// file's structure, the library's own decryption (RC4 and AES-128 only)
// gets a try. The library panics on some malformed files (a catalog
// nested past its depth limit, say): that is the file's fault, so it is
// pdf_malformed, not an internal error.
func openPDF(data []byte, password string) (r *pdf.Reader, n int, err error) {
	defer func() {
		if v := recover(); v != nil {
			r, n, err = nil, 0, &Error{Code: CodePDFMalformed, Message: "the file is not a readable PDF (damaged, or built to break readers)",
				Err: fmt.Errorf("pdf library panicked: %v", v)}
		}
	}()
	if bytes.Contains(data, []byte("/Encrypt")) {
		plain, derr := decryptPDF(data, password)
		if derr == nil {
			if r, err = pdf.NewReader(bytes.NewReader(plain), int64(len(plain))); err == nil {
				r, n = withInflatedObjectStreams(r, plain)
				return r, n, nil
			}
		}
		if derr != nil && !errors.Is(derr, errPDFSyntax) {
			return nil, 0, pdfCryptError(derr)
		}
		// Not readable as an encrypted PDF (perhaps not encrypted at all,
		// and "/Encrypt" was only text), or the library refused what the
		// rewriter wrote: the library decides, with its own decryption.
		if xrefLoop(data) {
			return nil, 0, xrefLoopError()
		}
		r, err = pdf.NewReaderEncrypted(bytes.NewReader(data), int64(len(data)), passwordOnce(password))
		if err != nil {
			return nil, 0, pdfOpenError(data, err)
		}
		return r, r.NumPage(), nil
	}
	if xrefLoop(data) {
		return nil, 0, xrefLoopError()
	}
	r, err = pdf.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, 0, pdfOpenError(data, err)
	}
	r, n = withInflatedObjectStreams(r, data)
	return r, n, nil
}

// withInflatedObjectStreams returns a reader of data with its object
// streams inflated once (inflateObjectStreams), r when data has none or
// the library does not read that copy as it reads data: it must open
// (without panicking) and count the same pages. r itself opened data, so
// that a file fails exactly as it did before.
func withInflatedObjectStreams(r *pdf.Reader, data []byte) (out *pdf.Reader, n int) {
	n = r.NumPage()
	defer func() {
		if recover() != nil {
			out = r
		}
	}()
	update := inflateObjectStreams(data, n)
	if update == nil {
		return r, n
	}
	fast := appendedFile{data, update}
	rf, err := pdf.NewReader(fast, fast.size())
	if err != nil || rf.NumPage() != n {
		return r, n
	}
	return rf, n
}

// passwordOnce offers the library password once (in Latin-1, as revisions
// 2-4 want it), or nothing.
func passwordOnce(password string) func() string {
	if password == "" {
		return nil
	}
	pws := legacyPasswords(password)
	return func() string {
		if len(pws) == 0 {
			return ""
		}
		pw := string(pws[0])
		pws = pws[1:]
		return pw
	}
}

// readPages rebuilds the lines of pages 1 to n, workers pages at a time,
// each page on its own (a page's lines depend on nothing but the page and
// the fonts it uses), so the result is the same for any number of
// workers: lines[i] and errs[i] are page i+1's. Workers stop taking pages
// when ctx is done. Every panic is recovered by pageLines: a panic in a
// worker goroutine would end the process.
func readPages(ctx context.Context, d *pdfDoc, n, workers int) (lines [][]pdfLine, errs []error) {
	lines, errs = make([][]pdfLine, n), make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(1, min(workers, n)) {
		wg.Go(func() {
			var glyphs []glyph // reused from page to page
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				lines[i], errs[i] = pageLines(d, i+1, &glyphs)
			}
		})
	}
	wg.Wait()
	return lines, errs
}

// pageLines rebuilds the text lines of page num, recovering from the
// library's panics on bad content streams. glyphs is a buffer it may use.
func pageLines(d *pdfDoc, num int, glyphs *[]glyph) (lines []pdfLine, err error) {
	defer func() {
		if v := recover(); v != nil {
			lines, err = nil, fmt.Errorf("page %d: %v", num, v)
		}
	}()
	p := d.page(num)
	if p.V.IsNull() {
		return nil, fmt.Errorf("page %d: missing", num)
	}
	*glyphs = pageGlyphs(d, p, (*glyphs)[:0])
	return buildLines(*glyphs), nil
}

// buildLines groups glyphs, in drawing order, into lines: a new line starts
// when the baseline moves by more than half the font size or the text
// jumps back to the left. Within a line a space goes wherever the gap to
// the previous glyph is wider than a fifth of the font size.
func buildLines(gs []glyph) []pdfLine {
	var lines []pdfLine
	var cur strings.Builder
	var sizes sizeCounts
	var lineY, lastEnd, lastSize, prevLineY, prevLineSize float64
	started := false
	finish := func() {
		text := strings.TrimSpace(cur.String())
		if text != "" {
			size := sizes.dominant()
			gap := len(lines) > 0 && math.Abs(prevLineY-lineY) > 1.6*math.Max(size, prevLineSize)
			lines = append(lines, pdfLine{text: text, size: size, y: lineY, gap: gap})
			prevLineY, prevLineSize = lineY, size
		}
		cur.Reset()
		sizes = sizes[:0]
	}
	for _, g := range gs {
		size := math.Abs(g.size)
		if size == 0 {
			size = 1
		}
		newLine := !started || math.Abs(g.y-lineY) > 0.5*math.Max(size, lastSize) || g.x < lastEnd-2*size
		if newLine {
			if started {
				finish()
			}
			started = true
			lineY = g.y
		} else if gap := g.x - lastEnd; gap > 0.2*size && !endsWithSpace(&cur) && !strings.HasPrefix(g.s, " ") {
			cur.WriteByte(' ')
		}
		cur.WriteString(g.s)
		sizes.add(roundSize(size), utf8.RuneCountInString(g.s))
		lastEnd = g.x + g.w
		lastSize = size
	}
	if started {
		finish()
	}
	return lines
}

func endsWithSpace(b *strings.Builder) bool {
	s := b.String()
	return s == "" || s[len(s)-1] == ' '
}

func roundSize(s float64) float64 { return math.Round(s*2) / 2 }

// sizeCounts counts characters by font size within a line, which holds
// few sizes: a slice is cheaper than a map, and dominant's answer does
// not depend on the order.
type sizeCounts []struct {
	size float64
	n    int
}

func (c *sizeCounts) add(size float64, n int) {
	for i := range *c {
		if (*c)[i].size == size {
			(*c)[i].n += n
			return
		}
	}
	*c = append(*c, struct {
		size float64
		n    int
	}{size, n})
}

// dominant is the size with the most characters (the smallest of a tie).
func (c sizeCounts) dominant() float64 {
	best, n := 0.0, -1
	for _, e := range c {
		if e.n > n || (e.n == n && e.size < best) {
			best, n = e.size, e.n
		}
	}
	return best
}

func dominant(sizes map[float64]int) float64 {
	best, n := 0.0, -1
	for s, c := range sizes {
		if c > n || (c == n && s < best) {
			best, n = s, c
		}
	}
	return best
}

// bodySize is the font size most characters are set in.
func bodySize(pages [][]pdfLine) float64 {
	sizes := map[float64]int{}
	for _, lines := range pages {
		for _, l := range lines {
			sizes[l.size] += len(l.text)
		}
	}
	return dominant(sizes)
}

// headingLevels maps the font sizes clearly larger than the body's (by a
// quarter) to heading levels, largest first, at most six.
func headingLevels(pages [][]pdfLine, body float64) map[float64]int {
	set := map[float64]bool{}
	for _, lines := range pages {
		for _, l := range lines {
			if body > 0 && l.size >= 1.25*body {
				set[l.size] = true
			}
		}
	}
	var sizes []float64
	for s := range set {
		sizes = append(sizes, s)
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(sizes)))
	levels := map[float64]int{}
	for i, s := range sizes {
		levels[s] = min(i+1, 6)
	}
	return levels
}

// joinHyphenated joins a paragraph's lines with spaces, except that a word
// hyphenated across a line break ("exam-" + "ple") is joined back together.
func joinHyphenated(lines []string) string {
	var b []byte
	for i, l := range lines {
		if i > 0 {
			next, _ := utf8.DecodeRuneInString(l)
			// A soft hyphen (U+00AD, which TeX and word processors put where
			// they broke a word) ends the line: the word goes on, whatever
			// the next letter's case.
			if soft := "\u00ad"; len(b) > len(soft) && string(b[len(b)-len(soft):]) == soft && unicode.IsLetter(next) {
				b = b[:len(b)-len(soft)]
				b = append(b, l...)
				continue
			}
			prevLetter, _ := utf8.DecodeLastRune(b[:max(0, len(b)-1)])
			if len(b) > 1 && b[len(b)-1] == '-' && unicode.IsLetter(prevLetter) && unicode.IsLower(next) {
				b = b[:len(b)-1]
			} else {
				b = append(b, ' ')
			}
		}
		b = append(b, l...)
	}
	return string(b)
}
