package extract

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"
)

// Word's main namespace; element names below are its local names.
const wordNS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"

// extractDOCX reads word/document.xml: paragraphs, headings (by paragraph
// style or outline level) as sections, list items, tables row by row, and
// text boxes (see walkDOCX for their order). Inflated parts are capped (zip
// bombs fail with too_large), document.xml is streamed rather than held in
// memory, and encoding/xml neither expands entity declarations nor fetches
// anything.
func extractDOCX(ctx context.Context, data []byte, lim Limits) (Extracted, error) {
	if isCFB(data) {
		return Extracted{}, cfbFailure(data, "Word document")
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return Extracted{}, &Error{Code: CodeUnsupportedType, Message: "the file is not a readable Word document (damaged zip?)", Err: err}
	}
	if len(zr.File) > 10000 {
		return Extracted{}, fail(CodeTooLarge, "the Word document has %d parts; that is not a normal document", len(zr.File))
	}
	budget := lim.MaxUnzippedBytes
	tooLarge := fail(CodeTooLarge, "the Word document inflates to more than %d bytes", lim.MaxUnzippedBytes)
	find := func(name string) *zip.File {
		for _, f := range zr.File {
			if f.Name == name {
				return f
			}
		}
		return nil
	}

	doc := find("word/document.xml")
	if doc == nil {
		return Extracted{}, fail(CodeUnsupportedType, "the archive is not a Word document (no word/document.xml)")
	}
	// Styles first, whole (they are small); then the body, streamed.
	var styles []byte
	if f := find("word/styles.xml"); f != nil {
		rc, err := f.Open()
		if err == nil {
			// Never trust the size in the zip header: read at most what is left.
			styles, err = io.ReadAll(&cappedReader{r: rc, left: &budget, err: tooLarge})
			rc.Close()
		}
		if _, ok := AsError(err); ok {
			return Extracted{}, err
		}
		if err != nil {
			styles = nil // headings then come from style ids and outline levels alone
		}
	}
	headingStyles := docxHeadingStyles(styles)

	rc, err := doc.Open()
	if err != nil {
		return Extracted{}, &Error{Code: CodeUnsupportedType, Message: "the Word document is damaged", Err: err}
	}
	defer rc.Close()
	b := newBuilder(lim.MaxTextBytes)
	if err := walkDOCX(ctx, &cappedReader{r: rc, left: &budget, err: tooLarge}, headingStyles, b); err != nil {
		return Extracted{}, err
	}
	ext, err := b.result()
	if err != nil {
		return Extracted{}, err
	}
	// The title the author set (File > Properties), else the first heading.
	ext.Title = firstTitle(ooxmlCoreTitle(zr), ext.Title, firstHeading(ext))
	return ext, nil
}

// cappedReader reads r, counting what it reads against *left, and fails
// with err once more than *left bytes have come.
type cappedReader struct {
	r    io.Reader
	left *int64
	err  error
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if int64(len(p)) > *c.left+1 {
		p = p[:*c.left+1]
	}
	n, err := c.r.Read(p)
	*c.left -= int64(n)
	if *c.left < 0 {
		return 0, c.err
	}
	return n, err
}

// docxHeadingStyles maps style ids to heading levels, from styles.xml
// names ("heading 2", "Title") and outline levels, plus the usual ids.
func docxHeadingStyles(styles []byte) map[string]int {
	levels := map[string]int{"Title": 1}
	for i := 1; i <= 9; i++ {
		levels["Heading"+strconv.Itoa(i)] = min(i, 6)
	}
	if styles == nil {
		return levels
	}
	dec := xml.NewDecoder(bytes.NewReader(styles))
	var id string
	for {
		tok, err := dec.Token()
		if err != nil {
			return levels
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "style":
			id = wattr(se, "styleId")
		case "name":
			name := strings.ToLower(wattr(se, "val"))
			if name == "title" {
				levels[id] = 1
			} else if n, ok := strings.CutPrefix(name, "heading "); ok {
				if l, err := strconv.Atoi(n); err == nil && l >= 1 {
					levels[id] = min(l, 6)
				}
			}
		case "outlineLvl":
			if l, err := strconv.Atoi(wattr(se, "val")); err == nil && l >= 0 && l < 9 && id != "" {
				levels[id] = min(l+1, 6)
			}
		}
	}
}

func wattr(se xml.StartElement, local string) string {
	for _, a := range se.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// walkDOCX streams document.xml into the builder, in one pass with work
// and memory linear in its size: every piece of text is written to at most
// one place, and what waits to be written is at most one top-level
// paragraph or table and what it contains.
//
// Paragraphs can nest: a run may anchor a text box (w:txbxContent) whose
// paragraphs sit inside the anchoring paragraph's XML. The anchoring
// paragraph is kept whole and its text boxes' paragraphs follow it, in
// document order (depth first, as the XML has them). Word writes a text box
// twice, as mc:AlternateContent with a DrawingML mc:Choice and a VML
// mc:Fallback holding the same paragraphs; only the first branch of an
// mc:AlternateContent is read. Paragraphs and tables in a table cell, text
// boxes and nested tables included, become that cell's text.
//
// The XML is read under officeXML's limits (nesting deeper than
// maxOfficeXMLDepth fails too_complex); text over the builder's limit
// stops the walk (the builder then fails with too_large).
func walkDOCX(ctx context.Context, r io.Reader, headingStyles map[string]int, b *builder) error {
	x := newOfficeXML(ctx, r, "Word document")
	w := &docxWalker{headingStyles: headingStyles, b: b}
	w.sinks = []*docxSink{&w.body}
	for !b.tooLarge {
		tok, err := x.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		w.depth = x.depth
		switch t := tok.(type) {
		case xml.StartElement:
			if w.skipFrom == 0 {
				w.start(t)
			}
		case xml.EndElement:
			if w.skipFrom == 0 {
				w.end()
			} else if w.depth == w.skipFrom {
				w.skipFrom = 0
			}
		case xml.CharData:
			if w.textFrom != 0 && w.skipFrom == 0 && w.para != nil {
				w.para.text = append(w.para.text, t...)
			}
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}

// docxWalker is walkDOCX's state. Elements that make output (paragraphs,
// tables, rows, cells) and mc:AlternateContent push a frame while open.
// A paragraph or table reserves a slot in the innermost sink (the body, or
// the table cell it is in) when it opens and fills it when it closes, so a
// paragraph's slot comes before those of the text boxes it anchors.
type docxWalker struct {
	headingStyles map[string]int
	b             *builder
	body          docxSink
	sinks         []*docxSink // innermost last
	frames        []*docxFrame
	para          *docxFrame // paragraph that text goes to; nil inside a table part or outside paragraphs
	textFrom      int        // depth of the open w:t, 0 when none
	depth         int        // of the current element, the root being 1
	skipFrom      int        // depth of the element being skipped, 0 when none
}

// docxSink holds the blocks of the body or of one table cell in document
// order, with the number of slots still unfilled.
type docxSink struct {
	blocks []docxBlock
	open   int
}

type docxBlockKind int

const (
	blockParagraph docxBlockKind = iota
	blockHeading
	blockListItem
	blockRows
)

// docxBlock is a paragraph (text) or a table (rows, cells joined).
type docxBlock struct {
	kind  docxBlockKind
	level int
	text  string
	rows  []string
}

type docxFrameKind int

const (
	framePara docxFrameKind = iota
	frameTable
	frameRow
	frameCell
	frameAlternate
)

// docxFrame is an open element that makes output, or an
// mc:AlternateContent.
type docxFrame struct {
	kind  docxFrameKind
	depth int
	sink  *docxSink // where slot is; nil for a row in a table and a cell in a row
	slot  int

	text  []byte // paragraph
	level int    // paragraph: heading level, 0 for body text
	list  bool   // paragraph: numbered or bulleted

	rows  []string  // table
	cells []string  // row
	own   *docxSink // cell: its content
	taken bool      // alternate: a branch was read
}

func (w *docxWalker) top() *docxFrame {
	if len(w.frames) == 0 {
		return nil
	}
	return w.frames[len(w.frames)-1]
}

func (w *docxWalker) push(f *docxFrame, reserve bool) {
	f.depth = w.depth
	if reserve {
		f.sink = w.sinks[len(w.sinks)-1]
		f.sink.blocks = append(f.sink.blocks, docxBlock{})
		f.slot = len(f.sink.blocks) - 1
		f.sink.open++
	}
	w.frames = append(w.frames, f)
	w.setPara()
}

// setPara points para at the innermost paragraph, unless a table, row or
// cell is open inside it: Word writes no text directly in those, and what
// a file puts there is dropped.
func (w *docxWalker) setPara() {
	w.para = nil
	for i := len(w.frames) - 1; i >= 0; i-- {
		switch f := w.frames[i]; f.kind {
		case frameAlternate:
			continue
		case framePara:
			w.para = f
		}
		return
	}
}

// start handles the start of an element at w.depth, outside skipped ones.
func (w *docxWalker) start(t xml.StartElement) {
	top := w.top()
	switch t.Name.Local {
	case "delText", "instrText", "footnoteReference", "commentReference":
		w.skipFrom = w.depth
	case "AlternateContent":
		w.push(&docxFrame{kind: frameAlternate}, false)
	case "Choice", "Fallback":
		if top != nil && top.kind == frameAlternate && top.depth == w.depth-1 {
			if top.taken {
				w.skipFrom = w.depth
			}
			top.taken = true
		}
	case "p":
		w.push(&docxFrame{kind: framePara}, true)
	case "pStyle":
		if w.para != nil {
			w.para.level = w.headingStyles[wattr(t, "val")]
		}
	case "outlineLvl":
		if l, err := strconv.Atoi(wattr(t, "val")); err == nil && l >= 0 && l < 9 && w.para != nil {
			w.para.level = min(l+1, 6)
		}
	case "numPr":
		if w.para != nil {
			w.para.list = true
		}
	case "t":
		if w.textFrom == 0 {
			w.textFrom = w.depth
		}
	case "tab":
		if w.para != nil {
			w.para.text = append(w.para.text, '\t')
		}
	case "br", "cr":
		if w.para != nil {
			w.para.text = append(w.para.text, '\n')
		}
	case "tbl":
		w.push(&docxFrame{kind: frameTable}, true)
	case "tr":
		w.push(&docxFrame{kind: frameRow}, top == nil || top.kind != frameTable)
	case "tc":
		w.push(&docxFrame{kind: frameCell, own: &docxSink{}}, top == nil || top.kind != frameRow)
		w.sinks = append(w.sinks, w.top().own)
	}
}

// end handles the end of the element at w.depth.
func (w *docxWalker) end() {
	if w.depth == w.textFrom {
		w.textFrom = 0
	}
	f := w.top()
	if f == nil || f.depth != w.depth {
		return
	}
	w.frames = w.frames[:len(w.frames)-1]
	w.setPara()
	var blk docxBlock
	switch f.kind {
	case frameAlternate:
		return
	case framePara:
		blk = docxBlock{kind: blockParagraph, text: string(f.text)}
		switch {
		case f.level > 0:
			blk.kind, blk.level = blockHeading, f.level
		case f.list:
			blk.kind = blockListItem
		}
	case frameTable:
		blk = docxBlock{kind: blockRows, rows: f.rows}
	case frameRow:
		var rows []string
		if strings.Join(f.cells, "") != "" {
			rows = []string{strings.Join(f.cells, " | ")}
		}
		if f.sink == nil {
			table := w.top()
			table.rows = append(table.rows, rows...)
			return
		}
		blk = docxBlock{kind: blockRows, rows: rows}
	case frameCell:
		w.sinks = w.sinks[:len(w.sinks)-1]
		text := cellText(f.own.blocks)
		if f.sink == nil {
			w.top().cells = append(w.top().cells, text)
			return
		}
		blk = docxBlock{kind: blockParagraph, text: text}
	}
	if f.sink != nil {
		w.fill(f.sink, f.slot, blk)
	}
}

// fill puts a closed element's block in its slot. When the body has no
// slot left open, its blocks go to the builder.
func (w *docxWalker) fill(s *docxSink, slot int, blk docxBlock) {
	s.blocks[slot] = blk
	if s.open--; s != &w.body || s.open > 0 {
		return
	}
	for _, blk := range s.blocks {
		switch blk.kind {
		case blockParagraph:
			w.b.paragraph(blk.text)
		case blockHeading:
			w.b.heading(blk.level, blk.text)
		case blockListItem:
			w.b.lines([]string{"- " + blk.text})
		case blockRows:
			w.b.lines(blk.rows)
		}
	}
	clear(s.blocks)
	s.blocks = s.blocks[:0]
}

// cellText joins what a table cell holds into one line.
func cellText(blocks []docxBlock) string {
	var b strings.Builder
	for _, blk := range blocks {
		b.WriteByte(' ')
		if blk.kind == blockRows {
			b.WriteString(strings.Join(blk.rows, " "))
		} else {
			b.WriteString(blk.text)
		}
	}
	return cleanInline(b.String())
}
