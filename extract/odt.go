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

// Bounds of an OpenDocument text's extraction, besides
// lim.MaxUnzippedBytes for what is inflated.
const (
	maxODTParts = 10_000
	// maxODTRepeat bounds what one text:s (spaces) or a repeated table
	// cell or row may stand for.
	maxODTRepeat = 100
)

// extractODT reads an OpenDocument text, packed (.odt: content.xml, and
// meta.xml for the title) or flat (.fodt: one XML document). Like DOCX:
// headings (text:h, by text:outline-level) start sections, paragraphs,
// list items ("- item"), tables row by row (cells joined by " | ", spanned
// cells once), text:s, text:tab and text:line-break as spacing.
// Footnotes and endnotes, and the paragraphs of text boxes and captions
// anchored in a paragraph, follow that paragraph (or the table or list it
// is in) as paragraphs of their own, so a sentence is not cut by its note;
// the note's citation mark is dropped. Deleted text of tracked changes,
// comments, tables of contents and text hidden (text:hidden-text, or a
// character style that does not display) are left out. The title is
// meta.xml's dc:title, else the first heading.
//
// Inflated parts are capped (zip bombs fail with too_large), content.xml
// is streamed, a DTD is refused (no entity is ever expanded or fetched),
// and an encrypted document fails encrypted.
func extractODT(ctx context.Context, data []byte, lim Limits) (Extracted, error) {
	budget := lim.MaxUnzippedBytes
	tooLarge := fail(CodeTooLarge, "the OpenDocument text inflates to more than %d bytes", lim.MaxUnzippedBytes)
	b := newBuilder(lim.MaxTextBytes)
	w := &odtWalker{b: b, hidden: map[string]bool{}}

	if !bytes.HasPrefix(data, []byte("PK")) {
		// Flat OpenDocument: styles, meta and body in one XML document.
		trimmed := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), " \t\r\n")
		if !bytes.HasPrefix(trimmed, []byte("<")) {
			return Extracted{}, fail(CodeUnsupportedType, "the file is not an OpenDocument text (neither a zip nor XML)")
		}
		if err := w.walk(ctx, &cappedReader{r: bytes.NewReader(data), left: &budget, err: tooLarge}); err != nil {
			return Extracted{}, err
		}
		return w.result("")
	}

	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return Extracted{}, &Error{Code: CodeUnsupportedType, Message: "the file is not a readable OpenDocument text (damaged zip?)", Err: err}
	}
	if len(zr.File) > maxODTParts {
		return Extracted{}, fail(CodeTooLarge, "the OpenDocument text has %d parts; that is not a normal document", len(zr.File))
	}
	find := func(name string) *zip.File {
		for _, f := range zr.File {
			if f.Name == name {
				return f
			}
		}
		return nil
	}
	readSmall := func(name string) ([]byte, error) {
		f := find(name)
		if f == nil {
			return nil, nil
		}
		rc, err := f.Open()
		if err != nil {
			return nil, nil // a damaged side part: do without it
		}
		defer rc.Close()
		d, err := io.ReadAll(&cappedReader{r: rc, left: &budget, err: tooLarge})
		if _, ok := AsError(err); ok {
			return nil, err
		}
		return d, nil
	}
	manifest, err := readSmall("META-INF/manifest.xml")
	if err != nil {
		return Extracted{}, err
	}
	if bytes.Contains(manifest, []byte("encryption-data")) {
		return Extracted{}, fail(CodeEncrypted, "the OpenDocument text is encrypted (password-protected); save it without a password and upload it again")
	}
	content := find("content.xml")
	if content == nil {
		return Extracted{}, fail(CodeUnsupportedType, "the archive is not an OpenDocument text (no content.xml)")
	}
	meta, err := readSmall("meta.xml")
	if err != nil {
		return Extracted{}, err
	}
	rc, err := content.Open()
	if err != nil {
		return Extracted{}, &Error{Code: CodeUnsupportedType, Message: "the OpenDocument text is damaged", Err: err}
	}
	defer rc.Close()
	if err := w.walk(ctx, &cappedReader{r: rc, left: &budget, err: tooLarge}); err != nil {
		return Extracted{}, err
	}
	return w.result(odtMetaTitle(meta))
}

// odtMetaTitle is meta.xml's dc:title ("" without one).
func odtMetaTitle(meta []byte) string {
	if meta == nil {
		return ""
	}
	dec := xml.NewDecoder(bytes.NewReader(meta))
	dec.Strict = false
	in := false
	var title strings.Builder
	for depth := 0; ; {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth++; depth > maxOfficeXMLDepth {
				return ""
			}
			in = t.Name.Space == odfDCNS && t.Name.Local == "title"
		case xml.EndElement:
			depth--
			if in {
				return cleanInline(title.String())
			}
		case xml.CharData:
			if in && title.Len() < 4096 {
				title.Write(t)
			}
		case xml.Directive:
			return ""
		}
	}
}

// odtWalker is the state of one pass over content.xml (or a flat
// document).
type odtWalker struct {
	b      *builder
	hidden map[string]bool // character and paragraph styles not displayed

	depth    int
	skipFrom int // depth of the element being skipped, 0 when none
	inText   int // depth of office:text, 0 outside it
	inMeta   bool
	title    strings.Builder

	style      string // the style being read in office:automatic-styles / office:styles
	paras      []*odtPara
	lists      int       // open text:list elements
	table      *odtTable // the outermost open table
	tableDepth int       // open tables (nested ones are flattened into cells)
	pending    []string  // floating paragraphs (notes, text boxes) to follow the current block
	listLines  []string  // items of the open list, written when it closes
}

type odtPara struct {
	depth    int
	text     []byte
	level    int  // heading level, 0 for a paragraph
	floating bool // opened inside another paragraph (a note, a text box)
}

type odtTable struct {
	rows       []string
	cells      []string
	cell       []string // paragraphs of the open cell
	cellRepeat int
	rowRepeat  int
}

func odtAttr(se xml.StartElement, space, local string) string {
	for _, a := range se.Attr {
		if a.Name.Local == local && a.Name.Space == space {
			return a.Value
		}
	}
	return ""
}

// walk streams an OpenDocument XML document into the builder.
func (w *odtWalker) walk(ctx context.Context, r io.Reader) error {
	x := newOfficeXML(ctx, r, "OpenDocument text")
	for !w.b.tooLarge {
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
				w.end(t)
			} else if w.depth == w.skipFrom {
				w.skipFrom = 0
			}
		case xml.CharData:
			if w.skipFrom != 0 {
				continue
			}
			if w.inMeta {
				if w.title.Len() < 4096 {
					w.title.Write(t)
				}
			} else if p := w.para(); p != nil {
				p.text = append(p.text, t...)
			}
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}

func (w *odtWalker) para() *odtPara {
	if len(w.paras) == 0 {
		return nil
	}
	return w.paras[len(w.paras)-1]
}

func (w *odtWalker) start(t xml.StartElement) {
	ns, name := t.Name.Space, t.Name.Local
	if ns == odfDCNS && name == "title" && w.inText == 0 {
		w.inMeta = w.title.Len() == 0
		return
	}
	if ns == odfStyleNS {
		switch name {
		case "style":
			w.style = odtAttr(t, odfStyleNS, "name")
		case "text-properties":
			if odtAttr(t, odfTextNS, "display") == "none" && w.style != "" {
				w.hidden[w.style] = true
			}
		}
		return
	}
	if ns == odfOfficeNS {
		switch name {
		case "text":
			w.inText = w.depth
		case "annotation", "forms", "scripts", "event-listeners", "binary-data":
			w.skipFrom = w.depth
		}
		return
	}
	if w.inText == 0 {
		return
	}
	if ns == odfTextNS && w.hidden[odtAttr(t, odfTextNS, "style-name")] {
		w.skipFrom = w.depth
		return
	}
	switch ns {
	case odfTextNS:
		switch name {
		case "note-citation", "tracked-changes", "table-of-content", "hidden-text", "hidden-paragraph",
			"sequence-decls", "variable-decls", "user-field-decls", "alphabetical-index", "illustration-index",
			"bibliography", "user-index", "object-index", "table-index":
			w.skipFrom = w.depth
		case "p", "h":
			if odtAttr(t, odfTextNS, "is-hidden") == "true" {
				w.skipFrom = w.depth
				return
			}
			p := &odtPara{depth: w.depth, floating: len(w.paras) > 0}
			if name == "h" {
				p.level = 1
				if l, err := strconv.Atoi(odtAttr(t, odfTextNS, "outline-level")); err == nil && l >= 1 {
					p.level = min(l, 6)
				}
			}
			w.paras = append(w.paras, p)
		case "list":
			w.lists++
		case "s":
			if p := w.para(); p != nil {
				n := 1
				if c, err := strconv.Atoi(odtAttr(t, odfTextNS, "c")); err == nil && c > 1 {
					n = min(c, maxODTRepeat)
				}
				p.text = append(p.text, strings.Repeat(" ", n)...)
			}
		case "tab":
			if p := w.para(); p != nil {
				p.text = append(p.text, '\t')
			}
		case "line-break":
			if p := w.para(); p != nil {
				p.text = append(p.text, '\n')
			}
		}
	case odfTableNS:
		switch name {
		case "table":
			if w.tableDepth++; w.tableDepth == 1 && len(w.paras) == 0 {
				w.table = &odtTable{}
			}
		case "table-row":
			if w.table != nil && w.tableDepth == 1 {
				w.table.cells = w.table.cells[:0]
				w.table.rowRepeat = odtRepeat(odtAttr(t, odfTableNS, "number-rows-repeated"))
			}
		case "table-cell":
			if w.table != nil && w.tableDepth == 1 {
				w.table.cell = w.table.cell[:0]
				w.table.cellRepeat = odtRepeat(odtAttr(t, odfTableNS, "number-columns-repeated"))
			}
		case "covered-table-cell":
			w.skipFrom = w.depth // the spanning cell has the text
		}
	default:
		switch name {
		case "title", "desc": // svg:title, svg:desc: descriptions of drawings
			w.skipFrom = w.depth
		case "object", "object-ole":
			w.skipFrom = w.depth
		}
	}
}

func odtRepeat(v string) int {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 1
	}
	return min(n, maxODTRepeat)
}

func (w *odtWalker) end(t xml.EndElement) {
	ns, name := t.Name.Space, t.Name.Local
	if w.inMeta && ns == odfDCNS && name == "title" {
		w.inMeta = false
		return
	}
	if ns == odfOfficeNS && name == "text" && w.depth == w.inText {
		w.inText = 0
		return
	}
	if w.inText == 0 {
		return
	}
	switch ns {
	case odfTextNS:
		switch name {
		case "p", "h":
			p := w.para()
			if p == nil || p.depth != w.depth {
				return
			}
			w.paras = w.paras[:len(w.paras)-1]
			w.closePara(p)
		case "list":
			if w.lists--; w.lists == 0 {
				w.flushList()
			}
		}
	case odfTableNS:
		switch name {
		case "table":
			if w.tableDepth--; w.tableDepth == 0 && w.table != nil {
				rows := w.table.rows
				w.table = nil
				w.flushList()
				w.b.lines(rows)
				w.flushPending()
			}
		case "table-row":
			if w.table != nil && w.tableDepth == 1 {
				cells := w.table.cells
				for len(cells) > 0 && cells[len(cells)-1] == "" {
					cells = cells[:len(cells)-1]
				}
				if len(cells) > 0 {
					row := strings.Join(cells, " | ")
					for range w.table.rowRepeat {
						w.table.rows = append(w.table.rows, row)
					}
				}
			}
		case "table-cell":
			if w.table != nil && w.tableDepth == 1 {
				text := cleanInline(strings.Join(w.table.cell, " "))
				n := w.table.cellRepeat
				if text == "" {
					n = 1
				}
				for range n {
					w.table.cells = append(w.table.cells, text)
				}
			}
		}
	}
}

// closePara sends a finished paragraph where it belongs: a table cell, the
// floating paragraphs that follow the current block, or the builder.
func (w *odtWalker) closePara(p *odtPara) {
	text := string(p.text)
	switch {
	case w.table != nil:
		w.table.cell = append(w.table.cell, text)
	case p.floating:
		w.pending = append(w.pending, text)
	case p.level > 0:
		w.flushList()
		w.b.heading(p.level, text)
		w.flushPending()
	case w.lists > 0:
		if t := cleanInline(text); t != "" {
			w.listLines = append(w.listLines, "- "+t)
		}
	default:
		w.flushList()
		w.b.paragraph(text)
		w.flushPending()
	}
}

// flushList writes the list items read so far as one block, and the notes
// anchored in them after it.
func (w *odtWalker) flushList() {
	if len(w.listLines) > 0 {
		w.b.lines(w.listLines)
		w.listLines = w.listLines[:0]
		w.flushPending()
	}
}

func (w *odtWalker) flushPending() {
	for _, p := range w.pending {
		w.b.paragraph(p)
	}
	w.pending = w.pending[:0]
}

func (w *odtWalker) result(metaTitle string) (Extracted, error) {
	w.flushList()
	w.flushPending()
	ext, err := w.b.result()
	if err != nil {
		return Extracted{}, err
	}
	ext.Title = firstTitle(metaTitle, cleanInline(w.title.String()), firstHeading(ext))
	return ext, nil
}
