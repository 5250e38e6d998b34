package extract

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ledongthuc/pdf"
)

// This file reads the text of a page from its content stream, as
// ledongthuc/pdf's Page.Content does, with differences that matter on
// real files: fonts are loaded once per document instead of once per
// glyph (the library resolves the font's FirstChar, LastChar and Widths,
// often from a compressed object stream, for every glyph, which was three
// quarters of the extraction time) and each code's text is decoded once
// per font; and Type0 (CID) fonts are read as 2-byte codes with their /W
// widths, so their glyphs get real positions.

// pdfDoc is an open PDF and what its pages share. Its methods are safe
// for concurrent use: pages are read in parallel. (The library's Reader
// keeps no state between calls: every resolve reads the file afresh, and
// a bytes.Reader serves concurrent ReadAt calls.)
type pdfDoc struct {
	r     *pdf.Reader
	pages []pdf.Page // in order, when the page tree could be walked once
	// loop: the page tree holds itself (a /Pages node among its own
	// descendants), which the library's page lookup would follow forever.
	loop  bool
	mu    sync.Mutex
	fonts map[string]*fontEntry // by the font dictionary's text
	named map[string]*fontEntry // by a /Font resource dictionary's text and a name in it
}

type fontEntry struct {
	v    pdf.Font
	once sync.Once
	f    *pdfFont
}

// newPDFDoc prepares the n pages of r to be read.
func newPDFDoc(r *pdf.Reader, n int) *pdfDoc {
	pages, loop := pageList(r, n)
	return &pdfDoc{r: r, pages: pages, loop: loop, fonts: map[string]*fontEntry{}, named: map[string]*fontEntry{}}
}

// page is page num (from 1), as r.Page(num) finds it.
func (d *pdfDoc) page(num int) pdf.Page {
	if d.pages != nil {
		return d.pages[num-1]
	}
	return d.r.Page(num)
}

// pageList lists the pages in the order Reader.Page numbers them,
// walking the page tree once (Reader.Page walks it from the root for
// every page, resolving every node on the way again). It returns nil,
// and pages are then found one by one as before, unless the walk finds
// exactly what Reader.Page would: every /Pages node's /Count must be the
// number of pages under it, so that Reader.Page, which skips subtrees by
// their /Count, numbers the pages in this walk's order. The walk is
// bounded in depth and in nodes. A branch deeper than maxPageTreeDepth is
// a tree that holds itself: loop says so (Reader.Page would follow it
// forever).
func pageList(r *pdf.Reader, n int) (pages []pdf.Page, loop bool) {
	defer func() {
		if recover() != nil {
			pages = nil
		}
	}()
	budget := 2*n + 1024
	var walk func(node pdf.Value, depth int) (int, bool)
	walk = func(node pdf.Value, depth int) (int, bool) {
		if depth > maxPageTreeDepth {
			loop = true
			return 0, false
		}
		kids := node.Key("Kids")
		count := 0
		for i := 0; i < kids.Len(); i++ {
			if budget--; budget < 0 {
				return 0, false
			}
			kid := kids.Index(i)
			switch kid.Key("Type").Name() {
			case "Pages":
				c, ok := walk(kid, depth+1)
				if !ok || int64(c) != kid.Key("Count").Int64() {
					return 0, false
				}
				count += c
			case "Page":
				pages = append(pages, pdf.Page{V: kid})
				count++
			}
		}
		return count, true
	}
	root := r.Trailer().Key("Root").Key("Pages")
	if root.Key("Type").Name() != "Pages" || root.Key("Count").Int64() != int64(n) {
		return nil, false
	}
	if c, ok := walk(root, 0); !ok || c != n {
		return nil, loop
	}
	return pages, false
}

// maxPageTreeDepth bounds a page tree's depth: a balanced tree of even
// two kids a node holds 2^64 pages at 64 levels, so a deeper branch is a
// loop.
const maxPageTreeDepth = 64

// font is the font called name in res, a page's /Font resource
// dictionary, whose text is resKey; each font is loaded once for the
// document. Fonts are told apart by their dictionaries' text, in which
// every indirect object appears as its reference ("12 0 R"): the same
// text is the same font; and so are resource dictionaries, which pages
// often share. Loading panics on some broken fonts, as it did per page:
// the page that asked fails, and so does the next one to ask.
func (d *pdfDoc) font(res pdf.Value, resKey, name string) *pdfFont {
	nk := resKey + "\x00" + name
	d.mu.Lock()
	e := d.named[nk]
	d.mu.Unlock()
	if e == nil {
		f := pdf.Font{V: res.Key(name)}
		key := f.V.String()
		d.mu.Lock()
		if e = d.fonts[key]; e == nil {
			e = &fontEntry{v: f}
			d.fonts[key] = e
		}
		d.named[nk] = e
		d.mu.Unlock()
	}
	e.once.Do(func() { e.f = loadPDFFont(e.v) })
	if e.f == nil {
		return loadPDFFont(e.v) // the first load panicked
	}
	return e.f
}

// pdfFont is what text placement needs from a font.
type pdfFont struct {
	enc          pdf.TextEncoding // nil: bytes as Latin-1
	twoByte      bool
	first        int
	widths       []float64
	cidWidths    map[int]float64
	defaultWidth float64
	texts        *codeTexts // each code's text once decoded; nil: not kept
}

// codeTexts holds the text of each code decoded so far, in pages of 256
// codes made on first use. Lock-free: pages read their fonts in parallel,
// and a code decoded twice at once decodes the same either way.
type codeTexts [256]atomic.Pointer[[256]atomic.Pointer[string]]

func (t *codeTexts) get(code int) (string, bool) {
	if pg := t[code>>8&255].Load(); pg != nil {
		if s := pg[code&255].Load(); s != nil {
			return *s, true
		}
	}
	return "", false
}

func (t *codeTexts) put(code int, s string) {
	slot := &t[code>>8&255]
	pg := slot.Load()
	if pg == nil {
		slot.CompareAndSwap(nil, new([256]atomic.Pointer[string]))
		pg = slot.Load()
	}
	pg[code&255].Store(&s)
}

func loadPDFFont(f pdf.Font) *pdfFont {
	pf := &pdfFont{enc: f.Encoder(), texts: new(codeTexts)}
	if f.V.Key("Subtype").Name() == "Type0" {
		pf.twoByte = true
		desc := f.V.Key("DescendantFonts").Index(0)
		pf.defaultWidth = 1000
		if dw := desc.Key("DW"); dw.Kind() == pdf.Integer || dw.Kind() == pdf.Real {
			pf.defaultWidth = dw.Float64()
		}
		pf.cidWidths = map[int]float64{}
		w := desc.Key("W")
		// W holds "c [w1 w2 ...]" and "cfirst clast w" entries.
		for i := 0; i+1 < w.Len() && len(pf.cidWidths) < 1<<16; {
			c := int(w.Index(i).Int64())
			if next := w.Index(i + 1); next.Kind() == pdf.Array {
				for j := 0; j < next.Len() && j < 1<<16; j++ {
					pf.cidWidths[c+j] = next.Index(j).Float64()
				}
				i += 2
				continue
			}
			if i+2 >= w.Len() {
				break
			}
			last, width := int(w.Index(i+1).Int64()), w.Index(i+2).Float64()
			for c2 := c; c2 <= last && c2-c < 1<<16; c2++ {
				pf.cidWidths[c2] = width
			}
			i += 3
		}
		return pf
	}
	pf.first = f.FirstChar()
	pf.widths = f.Widths()
	return pf
}

func (f *pdfFont) width(code int) float64 {
	if f.twoByte {
		if w, ok := f.cidWidths[code]; ok {
			return w
		}
		return f.defaultWidth
	}
	if i := code - f.first; i >= 0 && i < len(f.widths) {
		return f.widths[i]
	}
	return 0
}

// text is the text of one code, raw its bytes (one or two).
func (f *pdfFont) text(code int, raw string) string {
	if f.texts == nil {
		return f.decode(raw)
	}
	if s, ok := f.texts.get(code); ok {
		return s
	}
	s := f.decode(raw)
	f.texts.put(code, s)
	return s
}

func (f *pdfFont) decode(raw string) string {
	if f.enc != nil {
		return f.enc.Decode(raw)
	}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		b.WriteRune(rune(raw[i]))
	}
	return b.String()
}

type pdfMatrix [3][3]float64

var pdfIdent = pdfMatrix{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}

func (x pdfMatrix) mul(y pdfMatrix) pdfMatrix {
	var z pdfMatrix
	for i := range 3 {
		for j := range 3 {
			for k := range 3 {
				z[i][j] += x[i][k] * y[k][j]
			}
		}
	}
	return z
}

func translate(tx, ty float64) pdfMatrix { return pdfMatrix{{1, 0, 0}, {0, 1, 0}, {tx, ty, 1}} }

// The two products below are computed per glyph. Text and graphics
// matrices are affine (their third column is 0, 0, 1), so they skip the
// terms that are products with those constants and compute the others in
// mul's order: for finite numbers the results are mul's, bit for bit, but
// for the sign of a zero, which no comparison sees.

// advance is translate(tx, 0).mul(m).
func advance(tx float64, m pdfMatrix) pdfMatrix {
	m[2][0] = tx*m[0][0] + m[2][0]
	m[2][1] = tx*m[0][1] + m[2][1]
	return m
}

// glyphOrigin is the x, y and horizontal scale (font size) of the glyph
// rendering matrix {{fs*h, 0, 0}, {0, fs, 0}, {0, rise, 1}}.mul(tm).mul(ctm).
func glyphOrigin(fs, h, rise float64, tm, ctm pdfMatrix) (x, y, scale float64) {
	a := fs * h
	p00, p01 := a*tm[0][0], a*tm[0][1]
	p20, p21 := rise*tm[1][0]+tm[2][0], rise*tm[1][1]+tm[2][1]
	return p20*ctm[0][0] + p21*ctm[1][0] + ctm[2][0], p20*ctm[0][1] + p21*ctm[1][1] + ctm[2][1], p00*ctm[0][0] + p01*ctm[1][0]
}

type textState struct {
	tc, tw, th, tl, tfs, trise float64
	font                       *pdfFont
	tm, tlm, ctm               pdfMatrix
}

// pageGlyphs interprets a page's content stream and appends its text to
// out as positioned glyphs, in drawing order. Malformed operators panic,
// as in the library; the caller recovers.
func pageGlyphs(d *pdfDoc, p pdf.Page, out []glyph) []glyph {
	contents := p.V.Key("Contents")
	if contents.IsNull() {
		return out
	}
	fonts := map[string]*pdfFont{}
	var res pdf.Value // the page's /Font resources, once a font is used
	var resKey string
	g := textState{th: 1, ctm: pdfIdent, tm: pdfIdent, tlm: pdfIdent}
	var stack []textState
	show := func(s string) {
		f := g.font
		if f == nil {
			f = &pdfFont{}
		}
		step := 1
		if f.twoByte {
			step = 2
		}
		for i := 0; i+step <= len(s); i += step {
			raw := s[i : i+step]
			code := int(raw[0])
			if step == 2 {
				code = code<<8 | int(raw[1])
			}
			w0 := f.width(code)
			if text := f.text(code, raw); text != "" {
				x, y, scale := glyphOrigin(g.tfs, g.th, g.trise, g.tm, g.ctm)
				out = append(out, glyph{x: x, y: y, w: w0 / 1000 * scale, size: scale, s: text})
			}
			tx := w0/1000*g.tfs + g.tc
			if step == 1 && code == ' ' {
				tx += g.tw
			}
			g.tm = advance(tx*g.th, g.tm)
		}
	}
	num := func(args []pdf.Value, n int) bool { return len(args) == n }
	var args []pdf.Value // the operator's operands, reused
	pdf.Interpret(contents, func(stk *pdf.Stack, op string) {
		args = slices.Grow(args[:0], stk.Len())[:stk.Len()]
		for i := len(args) - 1; i >= 0; i-- {
			args[i] = stk.Pop()
		}
		switch op {
		case "q":
			if len(stack) < 1024 {
				stack = append(stack, g)
			}
		case "Q":
			if n := len(stack); n > 0 {
				g, stack = stack[n-1], stack[:n-1]
			}
		case "cm":
			if num(args, 6) {
				var m pdfMatrix
				for i := range 6 {
					m[i/2][i%2] = args[i].Float64()
				}
				m[2][2] = 1
				g.ctm = m.mul(g.ctm)
			}
		case "BT":
			g.tm, g.tlm = pdfIdent, pdfIdent
		case "Tc":
			if num(args, 1) {
				g.tc = args[0].Float64()
			}
		case "Tw":
			if num(args, 1) {
				g.tw = args[0].Float64()
			}
		case "Tz":
			if num(args, 1) {
				g.th = args[0].Float64() / 100
			}
		case "TL":
			if num(args, 1) {
				g.tl = args[0].Float64()
			}
		case "Ts":
			if num(args, 1) {
				g.trise = args[0].Float64()
			}
		case "Tf":
			if num(args, 2) {
				name := args[0].Name()
				if fonts[name] == nil {
					if resKey == "" {
						res = p.Resources().Key("Font")
						resKey = res.String()
					}
					fonts[name] = d.font(res, resKey, name)
				}
				g.font, g.tfs = fonts[name], args[1].Float64()
			}
		case "TD", "Td":
			if num(args, 2) {
				if op == "TD" {
					g.tl = -args[1].Float64()
				}
				g.tlm = translate(args[0].Float64(), args[1].Float64()).mul(g.tlm)
				g.tm = g.tlm
			}
		case "Tm":
			if num(args, 6) {
				var m pdfMatrix
				for i := range 6 {
					m[i/2][i%2] = args[i].Float64()
				}
				m[2][2] = 1
				g.tm, g.tlm = m, m
			}
		case "T*":
			g.tlm = translate(0, -g.tl).mul(g.tlm)
			g.tm = g.tlm
		case "Tj":
			if num(args, 1) {
				show(args[0].RawString())
			}
		case "'", "\"":
			if op == "\"" && num(args, 3) {
				g.tw, g.tc = args[0].Float64(), args[1].Float64()
				args = args[2:]
			}
			if num(args, 1) {
				g.tlm = translate(0, -g.tl).mul(g.tlm)
				g.tm = g.tlm
				show(args[0].RawString())
			}
		case "TJ":
			if num(args, 1) {
				v := args[0]
				for i := 0; i < v.Len(); i++ {
					x := v.Index(i)
					if x.Kind() == pdf.String {
						show(x.RawString())
					} else {
						g.tm = advance(-x.Float64()/1000*g.tfs*g.th, g.tm)
					}
				}
			}
		}
	})
	return out
}
