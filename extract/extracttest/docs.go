// Package extracttest makes small, real documents for tests: PDFs with
// headings, pages and kerned text, encrypted ones, and Word documents with
// styles, lists and tables; and hostile ones, built to hurt a parser (deep
// nesting, reference loops, lying lengths, huge cross-reference tables).
package extracttest

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
)

// MakePDF writes a PDF with one content stream per page, in Courier (whose
// widths are given, so every reader spaces the text alike).
func MakePDF(pages []string) []byte {
	w := newPDFWriter("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	obj := w.obj
	kids := make([]string, len(pages))
	for i := range pages {
		kids[i] = fmt.Sprintf("%d 0 R", 4+2*i)
	}
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), len(pages)))
	widths := strings.TrimSpace(strings.Repeat("600 ", 95))
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Courier /Encoding /WinAnsiEncoding /FirstChar 32 /LastChar 126 /Widths [" + widths + "] >>")
	for i, content := range pages {
		obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>", 5+2*i))
		obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content))
	}
	return w.finish()
}

// pdfWriter numbers objects from 1 (object 1 must be the catalog), records
// their offsets, and writes the cross-reference table and trailer.
type pdfWriter struct {
	b       bytes.Buffer
	offsets []int
}

func newPDFWriter(header string) *pdfWriter {
	w := &pdfWriter{}
	w.b.WriteString(header)
	return w
}

func (w *pdfWriter) obj(body string) {
	w.offsets = append(w.offsets, w.b.Len())
	fmt.Fprintf(&w.b, "%d 0 obj\n%s\nendobj\n", len(w.offsets), body)
}

func (w *pdfWriter) finish() []byte {
	xref := w.b.Len()
	fmt.Fprintf(&w.b, "xref\n0 %d\n0000000000 65535 f \n", len(w.offsets)+1)
	for _, off := range w.offsets {
		fmt.Fprintf(&w.b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&w.b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(w.offsets)+1, xref)
	return w.b.Bytes()
}

func pdfEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "(", `\(`, ")", `\)`).Replace(s)
}

// PDFText draws one line of text at (x, y).
func PDFText(x, y, size float64, s string) string {
	return fmt.Sprintf("BT /F1 %g Tf %g %g Td (%s) Tj ET\n", size, x, y, pdfEscape(s))
}

// PDFKerned draws words in one TJ array, spaced only by kerning, as LaTeX
// and many generators do.
func PDFKerned(x, y, size float64, words ...string) string {
	parts := make([]string, len(words))
	for i, w := range words {
		parts[i] = "(" + pdfEscape(w) + ")"
	}
	return fmt.Sprintf("BT /F1 %g Tf %g %g Td [%s] TJ ET\n", size, x, y, strings.Join(parts, "-400"))
}

// ReportPDF is a two-page report with headings in larger type, body
// paragraphs, and a line spaced only by kerning.
func ReportPDF() []byte {
	p1 := PDFText(72, 720, 20, "Introduction") +
		PDFText(72, 690, 11, "Retrieval augmented generation answers questions") +
		PDFText(72, 676, 11, "from a tenant's own documents.") +
		PDFText(72, 640, 11, "Each chunk keeps its page and heading.") +
		PDFKerned(72, 626, 11, "Kerned", "words", "stay", "apart.")
	p2 := PDFText(72, 720, 20, "Methods") +
		PDFText(72, 690, 15, "Data") +
		PDFText(72, 668, 11, "We split documents by tokens and embed them.") +
		PDFText(72, 654, 11, "Vectors live in Qdrant with a tenant filter.")
	return MakePDF([]string{p1, p2})
}

// WordNS is Word's main XML namespace.
const WordNS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"

// documentStart and documentEnd enclose a Word body; the root declares the
// namespaces Word declares for text boxes, so WTextBox's markup is valid.
const (
	documentStart = `<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="` + WordNS + `"` +
		` xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"` +
		` xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"` +
		` xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"` +
		` xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape"` +
		` xmlns:v="urn:schemas-microsoft-com:vml"><w:body>`
	documentEnd = `</w:body></w:document>`
)

// DOCXPart is one part of a Word document.
type DOCXPart struct{ Name, Body string }

// MakeDOCX zips a Word document whose body is the given XML.
func MakeDOCX(body string, extra ...DOCXPart) []byte {
	return zipDOCX([]repeated{{body, 1}}, extra...)
}

// repeated is s written n times.
type repeated struct {
	s string
	n int
}

// zipDOCX zips a Word document whose body is the concatenation of body,
// with a style sheet that names "Berschrift1" a heading and gives "Sub" an
// outline level.
func zipDOCX(body []repeated, extra ...DOCXPart) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name, body string) {
		w, _ := zw.Create(name)
		io.WriteString(w, body)
	}
	add("[Content_Types].xml", `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`)
	doc := append(append([]repeated{{documentStart, 1}}, body...), repeated{documentEnd, 1})
	stream, crc, size := deflateRepeated(doc)
	w, _ := zw.CreateRaw(&zip.FileHeader{Name: "word/document.xml", Method: zip.Deflate,
		CRC32: crc, CompressedSize64: uint64(len(stream)), UncompressedSize64: size})
	w.Write(stream)
	add("word/styles.xml", `<?xml version="1.0" encoding="UTF-8"?><w:styles xmlns:w="`+WordNS+`"><w:style w:styleId="Berschrift1"><w:name w:val="heading 1"/></w:style><w:style w:styleId="Sub"><w:name w:val="Subheading"/><w:pPr><w:outlineLvl w:val="1"/></w:pPr></w:style></w:styles>`)
	for _, f := range extra {
		add(f.Name, f.Body)
	}
	zw.Close()
	return buf.Bytes()
}

// deflateRepeated compresses the concatenation of parts into one raw
// deflate stream, with its CRC-32 and length. A part repeated many times
// is compressed once, as a unit of up to 256 KiB of repetitions ended by a
// sync flush (so its blocks refer to nothing before them), and the unit's
// bytes are repeated: a million-level NestedDOCX is written in
// milliseconds, even under the race detector, where compress/flate runs
// about a hundred times slower.
func deflateRepeated(parts []repeated) (stream []byte, crc uint32, size uint64) {
	var out bytes.Buffer
	unit := func(s string, n, times int) {
		text := []byte(strings.Repeat(s, n))
		var c bytes.Buffer
		fw, _ := flate.NewWriter(&c, flate.DefaultCompression)
		fw.Write(text)
		fw.Flush()
		for range times {
			out.Write(c.Bytes())
			crc = crc32.Update(crc, crc32.IEEETable, text)
		}
		size += uint64(len(text) * times)
	}
	for _, p := range parts {
		per := max(1, min(p.n, (256<<10)/max(1, len(p.s))))
		if p.n >= per {
			unit(p.s, per, p.n/per)
		}
		if p.n%per > 0 {
			unit(p.s, p.n%per, 1)
		}
	}
	// The final block: stored, empty (LEN 0, NLEN its complement). A sync
	// flush leaves the stream byte-aligned, as a stored block wants.
	out.Write([]byte{1, 0, 0, 0xff, 0xff})
	return out.Bytes(), crc, size
}

// WPara is a Word paragraph with an optional style id.
func WPara(style, text string) string {
	ppr := ""
	if style != "" {
		ppr = `<w:pPr><w:pStyle w:val="` + style + `"/></w:pPr>`
	}
	return `<w:p>` + ppr + `<w:r><w:t xml:space="preserve">` + text + `</w:t></w:r></w:p>`
}

// WRun is a Word run of text.
func WRun(text string) string {
	return `<w:r><w:t xml:space="preserve">` + text + `</w:t></w:r>`
}

// WParaRuns is a Word paragraph made of the given runs (WRun, WTextBox).
func WParaRuns(runs ...string) string {
	return `<w:p>` + strings.Join(runs, "") + `</w:p>`
}

// WTextBox is a run anchoring a text box that holds the given paragraphs,
// written the way Word 2010 and later write one: an mc:AlternateContent
// whose mc:Choice (Requires="wps") draws it as a DrawingML shape and whose
// mc:Fallback draws it in VML for older readers, each with its own copy of
// the paragraphs.
func WTextBox(paras ...string) string {
	content := `<w:txbxContent>` + strings.Join(paras, "") + `</w:txbxContent>`
	return `<w:r><w:rPr><w:noProof/></w:rPr><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing>` +
		`<wp:anchor distT="45720" distB="45720" distL="114300" distR="114300" simplePos="0" relativeHeight="251659264" behindDoc="0" locked="0" layoutInCell="1" allowOverlap="1">` +
		`<wp:simplePos x="0" y="0"/><wp:positionH relativeFrom="column"><wp:posOffset>0</wp:posOffset></wp:positionH>` +
		`<wp:positionV relativeFrom="paragraph"><wp:posOffset>0</wp:posOffset></wp:positionV>` +
		`<wp:extent cx="2360930" cy="1404620"/><wp:effectExtent l="0" t="0" r="0" b="0"/><wp:wrapSquare wrapText="bothSides"/>` +
		`<wp:docPr id="1" name="Text Box 2"/><wp:cNvGraphicFramePr/>` +
		`<a:graphic><a:graphicData uri="http://schemas.microsoft.com/office/word/2010/wordprocessingShape"><wps:wsp>` +
		`<wps:cNvSpPr txBox="1"><a:spLocks noChangeArrowheads="1"/></wps:cNvSpPr>` +
		`<wps:spPr bwMode="auto"><a:xfrm><a:off x="0" y="0"/><a:ext cx="2360930" cy="1404620"/></a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom></wps:spPr>` +
		`<wps:txbx>` + content + `</wps:txbx>` +
		`<wps:bodyPr rot="0" vert="horz" wrap="square" anchor="t" anchorCtr="0"><a:spAutoFit/></wps:bodyPr>` +
		`</wps:wsp></a:graphicData></a:graphic></wp:anchor></w:drawing></mc:Choice>` +
		`<mc:Fallback><w:pict><v:shape id="Text Box 2" type="#_x0000_t202" style="position:absolute;margin-left:0;margin-top:0;width:185.9pt;height:110.6pt;z-index:251659264">` +
		`<v:textbox style="mso-fit-shape-to-text:t">` + content + `</v:textbox></v:shape></w:pict></mc:Fallback>` +
		`</mc:AlternateContent></w:r>`
}

// TextBoxDOCX is a Word document of three paragraphs, the second anchoring
// a text box whose paragraph reads "Inside the box." (once in the text a
// reader wants, though Word writes the box twice).
func TextBoxDOCX() []byte {
	return MakeDOCX(WPara("", "Before the box.") +
		WParaRuns(WRun("Anchor text."), WTextBox(WPara("", "Inside the box."))) +
		WPara("", "After the box."))
}

// NestedDOCX is a Word document of depth paragraphs nested in one another:
// each but the last anchors a VML text box (w:p > w:r > w:pict > v:textbox
// > w:txbxContent) holding the next, and the last reads "nested"; depth
// below 1 counts as 1. It is built for hostile-file tests: its XML is 93
// bytes a level, so a million levels (93 MB) stay under the default cap on
// inflated bytes and reach the XML reader, yet zip to under 300 KB and
// are written in tens of milliseconds (half a second under -race).
func NestedDOCX(depth int) []byte {
	const (
		open  = `<w:p><w:r><w:pict><v:textbox><w:txbxContent>`
		close = `</w:txbxContent></v:textbox></w:pict></w:r></w:p>`
	)
	return zipDOCX([]repeated{{open, depth - 1}, {`<w:p><w:r><w:t>nested</w:t></w:r></w:p>`, 1}, {close, depth - 1}})
}

// WListItem is a bulleted Word paragraph.
func WListItem(text string) string {
	return `<w:p><w:pPr><w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr></w:pPr><w:r><w:t>` + text + `</w:t></w:r></w:p>`
}

// WTable is a Word table, one row per slice.
func WTable(rows ...[]string) string {
	var b strings.Builder
	b.WriteString("<w:tbl>")
	for _, r := range rows {
		b.WriteString("<w:tr>")
		for _, c := range r {
			b.WriteString("<w:tc>" + WPara("", c) + "</w:tc>")
		}
		b.WriteString("</w:tr>")
	}
	b.WriteString("</w:tbl>")
	return b.String()
}

// MakeCIDPDF writes a one-page PDF whose text is set in a Type0 (CID) font
// with 2-byte codes, as Word and LaTeX write TrueType fonts: CIDs 1 to 26
// are the letters a to z, each 500 units wide, and a ToUnicode CMap maps
// them back. Each line's words are placed by kerning alone, with no space
// glyph between them.
func MakeCIDPDF(lines ...[]string) []byte {
	cid := func(word string) string {
		var b strings.Builder
		for _, r := range word {
			fmt.Fprintf(&b, "%04X", int(r-'a'+1))
		}
		return "<" + b.String() + ">"
	}
	var content strings.Builder
	for i, words := range lines {
		parts := make([]string, len(words))
		for j, w := range words {
			parts[j] = cid(w)
		}
		fmt.Fprintf(&content, "BT /F1 12 Tf 72 %d Td [%s] TJ ET\n", 720-20*i, strings.Join(parts, " -350 "))
	}
	cmap := "/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /Test def 1 begincodespacerange <0000> <FFFF> endcodespacerange 1 beginbfrange <0001> <001A> <0061> endbfrange endcmap CMapName currentdict /CMap defineresource pop end end"
	w := newPDFWriter("%PDF-1.5\n")
	obj := w.obj
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
	obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>")
	obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", content.Len(), content.String()))
	obj("<< /Type /Font /Subtype /Type0 /BaseFont /TestSans /Encoding /Identity-H /DescendantFonts [6 0 R] /ToUnicode 7 0 R >>")
	obj("<< /Type /Font /Subtype /CIDFontType2 /BaseFont /TestSans /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /DW 1000 /W [1 26 500] >>")
	obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(cmap), cmap))
	return w.finish()
}

// BookPDF has n pages, each a heading and 40 lines of body text.
func BookPDF(n int) []byte {
	pages := make([]string, n)
	for p := range n {
		var b strings.Builder
		b.WriteString(PDFText(72, 740, 18, fmt.Sprintf("Chapter %d", p+1)))
		for l := range 40 {
			b.WriteString(PDFText(72, float64(710-l*15), 10, fmt.Sprintf("Line %d of page %d: tenants upload documents and search them by meaning.", l, p+1)))
		}
		pages[p] = b.String()
	}
	return MakePDF(pages)
}

// ChapterPDF is a PDF of n pages, each headed "Chapter N" (18 pt) over 30
// lines of body text (10 pt) about tenants and search, except line `line`
// of page `page` (both from 0), which is text: a document one page of
// which alone answers a question, for tests of hits, pages and snippets.
func ChapterPDF(n, page, line int, text string) []byte {
	pages := make([]string, n)
	for p := range pages {
		var s strings.Builder
		s.WriteString(PDFText(72, 740, 18, fmt.Sprintf("Chapter %d", p+1)))
		for l := range 30 {
			body := fmt.Sprintf("Line %d of page %d: tenants upload documents and search them by meaning.", l, p+1)
			if p == page && l == line {
				body = text
			}
			s.WriteString(PDFText(72, float64(710-l*15), 10, body))
		}
		pages[p] = s.String()
	}
	return MakePDF(pages)
}
