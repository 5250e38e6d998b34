package ingest

import (
	"strings"

	"github.com/ledongthuc/pdf"
)

// This file reads the text of a page from its content stream, as
// ledongthuc/pdf's Page.Content does, with two differences that matter on
// real files: fonts are looked up once per page instead of once per glyph
// (the library resolves the font's FirstChar, LastChar and Widths, often
// from a compressed object stream, for every glyph, which was three
// quarters of the extraction time), and Type0 (CID) fonts are read as
// 2-byte codes with their /W widths, so their glyphs get real positions.

// pdfFont is what text placement needs from a font.
type pdfFont struct {
	enc          pdf.TextEncoding // nil: bytes as Latin-1
	twoByte      bool
	first        int
	widths       []float64
	cidWidths    map[int]float64
	defaultWidth float64
}

func loadPDFFont(p pdf.Page, name string) *pdfFont {
	f := p.Font(name)
	pf := &pdfFont{enc: f.Encoder()}
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

type textState struct {
	tc, tw, th, tl, tfs, trise float64
	font                       *pdfFont
	tm, tlm, ctm               pdfMatrix
}

// pageGlyphs interprets a page's content stream and returns its text as
// positioned glyphs, in drawing order. Malformed operators panic, as in
// the library; the caller recovers.
func pageGlyphs(p pdf.Page) []glyph {
	contents := p.V.Key("Contents")
	if contents.IsNull() {
		return nil
	}
	fonts := map[string]*pdfFont{}
	g := textState{th: 1, ctm: pdfIdent, tm: pdfIdent, tlm: pdfIdent}
	var stack []textState
	var out []glyph
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
			trm := pdfMatrix{{g.tfs * g.th, 0, 0}, {0, g.tfs, 0}, {0, g.trise, 1}}.mul(g.tm).mul(g.ctm)
			if text := f.decode(raw); text != "" {
				out = append(out, glyph{x: trm[2][0], y: trm[2][1], w: w0 / 1000 * trm[0][0], size: trm[0][0], s: text})
			}
			tx := w0/1000*g.tfs + g.tc
			if step == 1 && code == ' ' {
				tx += g.tw
			}
			g.tm = translate(tx*g.th, 0).mul(g.tm)
		}
	}
	num := func(args []pdf.Value, n int) bool { return len(args) == n }
	pdf.Interpret(contents, func(stk *pdf.Stack, op string) {
		args := make([]pdf.Value, stk.Len())
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
					fonts[name] = loadPDFFont(p, name)
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
						g.tm = translate(-x.Float64()/1000*g.tfs*g.th, 0).mul(g.tm)
					}
				}
			}
		}
	})
	return out
}
