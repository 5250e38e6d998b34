package extract

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Slides (PowerPoint and OpenDocument presentations) become one section
// per slide, in the deck's order, its heading the slide's title (the title
// placeholder's text, else "Slide N"), its page the slide's number (its
// position in the deck, hidden slides counted as PowerPoint and Impress
// count them). Under the heading come the slide's text boxes and tables,
// in the order the file lists its shapes (the order a screen reader reads
// them in), each box a block of lines (one a paragraph) and each table row
// a line with its cells joined by " | "; then the speaker notes, their
// first line marked "Notes:". Dates, footers and slide numbers are left
// out: they repeat on every slide and say nothing about it.
//
// Hidden slides are kept: hiding a slide takes it out of the slide show,
// not out of the deck (backup and appendix slides are the usual ones), and
// a team searching its decks wants what it wrote there.
//
// The document's title is the presentation's own (core properties or
// meta.xml dc:title), else the first slide's title.

// maxSlideParts bounds the parts of a presentation's archive: a deck of
// a thousand slides with notes, layouts, media and relationships has a few
// thousand.
const maxSlideParts = 20000

// maxSlideTableRepeat bounds how many times one table cell or row of an
// OpenDocument presentation is repeated (table:number-columns-repeated,
// table:number-rows-repeated); empty ones are not repeated at all.
const maxSlideTableRepeat = 100

// slide is what a slide holds, in order.
type slideContent struct {
	title  string
	blocks [][]string // text boxes and tables, each a block of lines
	notes  []string
}

// writeSlide adds slide n (1-based) to b: its page, its heading and its
// text. A slide without text (a picture, a chart, an empty layout) adds
// nothing: a section saying only "Slide 4" would be found by no search
// worth answering, and a deck of such slides has no text.
func writeSlide(b *builder, n int, s slideContent) {
	title := cleanInline(s.title)
	hasText := func(ls []string) bool {
		for _, l := range ls {
			if cleanInline(l) != "" {
				return true
			}
		}
		return false
	}
	empty := title == "" && !hasText(s.notes)
	for _, blk := range s.blocks {
		empty = empty && !hasText(blk)
	}
	if empty {
		return
	}
	b.startPage(n)
	if title == "" {
		title = "Slide " + strconv.Itoa(n)
	}
	b.heading(1, title)
	for _, blk := range s.blocks {
		b.lines(blk)
	}
	notes := s.notes
	for i, l := range notes {
		if cleanInline(l) != "" {
			notes = append([]string{"Notes: " + l}, notes[i+1:]...)
			b.lines(notes)
			break
		}
	}
}

// slideText counts the bytes of text a slide part has given so far, so
// that a part holding more than the document may have fails early rather
// than after all of it is held in memory.
type slideText struct {
	left int
}

func (t *slideText) add(s string) error {
	t.left -= len(s)
	if t.left < 0 {
		return errSlideTooMuchText
	}
	return nil
}

var errSlideTooMuchText = errors.New("slide text over the limit")

// walkSlideXML streams r's XML tokens to visit, under officeXML's limits
// (no DTD, nesting at most maxOfficeXMLDepth, damaged XML refused); what names the format in
// messages ("PowerPoint presentation"). Errors from r (an *Error: over
// the inflated size limit) and from visit pass through.
func walkSlideXML(ctx context.Context, r io.Reader, what string, visit func(tok xml.Token, depth int) error) error {
	x := newOfficeXML(ctx, r, what)
	for {
		tok, err := x.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := visit(tok, x.depth); err != nil {
			if errors.Is(err, errSlideTooMuchText) {
				return fail(CodeTooLarge, "the %s has more than the document's limit of text in one slide", what)
			}
			return err
		}
	}
}

func slideAttr(se xml.StartElement, space, local string) (string, bool) {
	for _, a := range se.Attr {
		if a.Name.Local == local && (space == "*" || a.Name.Space == space) {
			return a.Value, true
		}
	}
	return "", false
}

// ---- PowerPoint

// slideParts is a zip archive's parts by lower-cased name (OPC part names
// are case-insensitive), read against one budget of inflated bytes.
type slideParts struct {
	files    map[string]*zip.File
	budget   int64
	tooLarge error
	what     string
}

func openSlideParts(data []byte, lim Limits, what string) (*slideParts, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, &Error{Code: CodeUnsupportedType, Message: "the file is not a readable " + what + " (damaged zip?)", Err: err}
	}
	if len(zr.File) > maxSlideParts {
		return nil, fail(CodeTooLarge, "the %s has %d parts; that is not a normal presentation", what, len(zr.File))
	}
	p := &slideParts{
		files:    make(map[string]*zip.File, len(zr.File)),
		budget:   lim.MaxUnzippedBytes,
		tooLarge: fail(CodeTooLarge, "the %s inflates to more than %d bytes", what, lim.MaxUnzippedBytes),
		what:     what,
	}
	for _, f := range zr.File {
		name := strings.ToLower(strings.TrimPrefix(f.Name, "/"))
		if _, dup := p.files[name]; !dup {
			p.files[name] = f
		}
	}
	return p, nil
}

func (p *slideParts) has(name string) bool { return p.files[strings.ToLower(name)] != nil }

// open opens a part for reading within the budget; ok is false when the
// archive has no such part.
func (p *slideParts) open(name string) (rc io.ReadCloser, ok bool, err error) {
	f := p.files[strings.ToLower(name)]
	if f == nil {
		return nil, false, nil
	}
	r, err := f.Open()
	if err != nil {
		return nil, true, &Error{Code: CodeUnsupportedType, Message: "the " + p.what + " is damaged (part " + truncateRunes(name, 80) + ")", Err: err}
	}
	// Never trust the size in the zip header: read at most what is left.
	return struct {
		io.Reader
		io.Closer
	}{&cappedReader{r: r, left: &p.budget, err: p.tooLarge}, r}, true, nil
}

// walk streams a part's XML to visit; ok is false when there is no such
// part.
func (p *slideParts) walk(ctx context.Context, name string, visit func(tok xml.Token, depth int) error) (ok bool, err error) {
	rc, ok, err := p.open(name)
	if !ok || err != nil {
		return ok, err
	}
	defer rc.Close()
	return true, walkSlideXML(ctx, rc, p.what, visit)
}

// slideRel is one relationship of an OPC part.
type slideRel struct {
	typ, target string // target resolved to a part name
}

// rels reads the relationships of part name (its _rels/NAME.rels), by
// id, external targets left out. A part without relationships has none.
func (p *slideParts) rels(ctx context.Context, name string) (map[string]slideRel, error) {
	dir, file := path.Split(name)
	out := map[string]slideRel{}
	_, err := p.walk(ctx, dir+"_rels/"+file+".rels", func(tok xml.Token, _ int) error {
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "Relationship" {
			return nil
		}
		if mode, _ := slideAttr(se, "", "TargetMode"); strings.EqualFold(mode, "External") {
			return nil
		}
		id, _ := slideAttr(se, "", "Id")
		typ, _ := slideAttr(se, "", "Type")
		target, _ := slideAttr(se, "", "Target")
		if id == "" || target == "" || len(out) >= maxSlideParts {
			return nil
		}
		if strings.HasPrefix(target, "/") {
			target = path.Clean(target)[1:]
		} else {
			target = path.Join(dir, target)
		}
		out[id] = slideRel{typ: typ, target: target}
		return nil
	})
	return out, err
}

// extractPPTX reads a PowerPoint presentation (.pptx, .pptm; transitional
// or strict OOXML): the slides in the order ppt/presentation.xml lists
// them, each slide's shapes and its notes slide. Parts are streamed, their
// inflated bytes capped together by lim.MaxUnzippedBytes; pictures,
// charts, SmartArt, embedded objects and comments are not read.
func extractPPTX(ctx context.Context, data []byte, lim Limits) (Extracted, error) {
	if isCFB(data) {
		return Extracted{}, cfbFailure(data, "presentation")
	}
	const what = "PowerPoint presentation"
	p, err := openSlideParts(data, lim, what)
	if err != nil {
		return Extracted{}, err
	}
	const pres = "ppt/presentation.xml"
	if !p.has(pres) {
		return Extracted{}, fail(CodeUnsupportedType, "the archive is not a PowerPoint presentation (no %s)", pres)
	}
	order, err := pptxSlideOrder(ctx, p, pres, lim.MaxPages)
	if err != nil {
		return Extracted{}, err
	}
	b := newBuilder(lim.MaxTextBytes)
	var firstSlideTitle string
	n := 0
	for _, name := range order {
		s, ok, err := pptxSlide(ctx, p, name, lim.MaxTextBytes)
		if err != nil {
			return Extracted{}, err
		}
		if !ok {
			continue // the presentation names a part the archive lacks
		}
		n++
		if n == 1 {
			firstSlideTitle = s.title
		}
		writeSlide(b, n, s)
		if b.tooLarge {
			break
		}
	}
	ext, err := b.result()
	if err != nil {
		if e, ok := AsError(err); ok && e.Code == CodeNoText && n == 0 {
			return Extracted{}, fail(CodeNoText, "the presentation has no slides")
		}
		return Extracted{}, err
	}
	ext.PageCount = n
	ext.Title = firstTitle(pptxCoreTitle(ctx, p), firstSlideTitle)
	return ext, nil
}

// pptxSlideOrder lists the slides' part names in presentation order: the
// p:sldIdLst of presentation.xml through its relationships. A package
// whose presentation.xml names no slide it has (a generator that wrote no
// list) falls back to ppt/slides/slideN.xml in the order of N. More than
// maxSlides slides fail with too_many_pages.
func pptxSlideOrder(ctx context.Context, p *slideParts, pres string, maxSlides int) ([]string, error) {
	rels, err := p.rels(ctx, pres)
	if err != nil {
		return nil, err
	}
	var order []string
	seen := map[string]bool{}
	tooMany := fail(CodeTooManyPages, "the presentation has more than %d slides", maxSlides)
	_, err = p.walk(ctx, pres, func(tok xml.Token, _ int) error {
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "sldId" {
			return nil
		}
		for _, a := range se.Attr {
			// r:id, in the transitional or the strict namespace; the
			// unqualified id is the slide's own number.
			if a.Name.Local != "id" || a.Name.Space == "" {
				continue
			}
			if r, ok := rels[a.Value]; ok && strings.HasSuffix(r.typ, "/slide") && !seen[r.target] && p.has(r.target) {
				if len(order) >= maxSlides {
					return tooMany
				}
				seen[r.target] = true
				order = append(order, r.target)
			}
		}
		return nil
	})
	if err != nil || len(order) > 0 {
		return order, err
	}
	type numbered struct {
		n    int
		name string
	}
	var found []numbered
	for name := range p.files {
		rest, ok := strings.CutPrefix(name, "ppt/slides/slide")
		if !ok {
			continue
		}
		if num, ok := strings.CutSuffix(rest, ".xml"); ok {
			if n, err := strconv.Atoi(num); err == nil {
				found = append(found, numbered{n, name})
			}
		}
	}
	if len(found) > maxSlides {
		return nil, tooMany
	}
	sort.Slice(found, func(i, j int) bool { return found[i].n < found[j].n })
	for _, f := range found {
		order = append(order, f.name)
	}
	return order, nil
}

// pptxSlide reads slide part name and its notes slide; ok is false when
// the archive has no such part.
func pptxSlide(ctx context.Context, p *slideParts, name string, maxText int) (slideContent, bool, error) {
	w := pptxWalker{text: slideText{left: maxText}}
	ok, err := p.walk(ctx, name, w.visit)
	if !ok || err != nil {
		return slideContent{}, ok, err
	}
	s := slideContent{title: w.title, blocks: w.blocks}
	rels, err := p.rels(ctx, name)
	if err != nil {
		return slideContent{}, true, err
	}
	for _, d := range w.diagrams {
		r, ok := rels[d.rel]
		if !ok {
			continue
		}
		dw := pptxWalker{smartArt: true, text: slideText{left: maxText}}
		if _, err := p.walk(ctx, r.target, dw.visit); err != nil {
			return slideContent{}, true, err
		}
		for _, blk := range dw.blocks {
			s.blocks[d.block] = append(s.blocks[d.block], blk...)
		}
	}
	for _, r := range rels {
		if !strings.HasSuffix(r.typ, "/notesSlide") {
			continue
		}
		nw := pptxWalker{notes: true, text: slideText{left: maxText}}
		if _, err := p.walk(ctx, r.target, nw.visit); err != nil {
			return slideContent{}, true, err
		}
		for _, blk := range nw.blocks {
			s.notes = append(s.notes, blk...)
		}
		break
	}
	return s, true, nil
}

// pptxWalker collects a slide's (or a notes slide's, or a SmartArt data
// part's) text from its shape tree, one token at a time. Shapes (p:sp, p:graphicFrame, p:cxnSp,
// p:pic) in group shapes are read as the group lists them; a shape in a
// shape (which PowerPoint never writes) is part of the outer one. Of an
// mc:AlternateContent only the first branch is read: PowerPoint writes the
// same content again as its fallback.
type pptxWalker struct {
	notes    bool
	smartArt bool // reading a SmartArt data part: each dgm:pt is a shape
	text     slideText

	skipFrom int // depth of the element being skipped, 0 when none
	alts     []pptxAlt

	shape     int // depth of the open shape, 0 when none
	shapeKind pptxShapeKind
	lines     []string // the open shape's

	paraFrom int // depth of the open a:p, 0 when none
	para     []byte
	textFrom int // depth of the open a:t, 0 when none

	inTable bool
	rows    []string
	row     []string
	cellOn  bool
	cell    []string

	title  string
	blocks [][]string
	// diagrams are the SmartArt graphics of the slide: the index of the
	// (nil) block each one fills, and its data part's relationship id.
	diagrams []pptxDiagram
	dataRel  string // of the open shape
}

type pptxDiagram struct {
	block int
	rel   string
}

type pptxAlt struct {
	depth int
	taken bool
}

type pptxShapeKind int

const (
	shapeBody pptxShapeKind = iota
	shapeTitle
	shapeSkipped // date, footer, slide number, header, slide image
)

func (w *pptxWalker) visit(tok xml.Token, depth int) error {
	switch t := tok.(type) {
	case xml.StartElement:
		if w.skipFrom != 0 {
			return nil
		}
		w.start(t, depth)
	case xml.EndElement:
		if w.skipFrom != 0 {
			if depth == w.skipFrom {
				w.skipFrom = 0
			}
			return nil
		}
		return w.end(t, depth)
	case xml.CharData:
		if w.skipFrom == 0 && w.textFrom != 0 && w.paraFrom != 0 {
			w.para = append(w.para, t...)
			if len(w.para) > w.text.left {
				return errSlideTooMuchText
			}
		}
	}
	return nil
}

func (w *pptxWalker) start(t xml.StartElement, depth int) {
	switch t.Name.Local {
	case "AlternateContent":
		w.alts = append(w.alts, pptxAlt{depth: depth})
	case "Choice", "Fallback":
		if n := len(w.alts); n > 0 && w.alts[n-1].depth == depth-1 {
			if w.alts[n-1].taken {
				w.skipFrom = depth
			}
			w.alts[n-1].taken = true
		}
	case "sp", "graphicFrame", "cxnSp", "pic", "pt":
		if w.shape == 0 && (t.Name.Local == "pt") == w.smartArt {
			w.shape, w.shapeKind, w.lines, w.dataRel = depth, shapeBody, nil, ""
		}
	case "relIds":
		// A SmartArt graphic: its text is in the data part r:dm names.
		if w.shape != 0 {
			for _, a := range t.Attr {
				if a.Name.Local == "dm" && a.Name.Space != "" {
					w.dataRel = a.Value
				}
			}
		}
	case "ph":
		if w.shape == 0 {
			return
		}
		switch typ, _ := slideAttr(t, "", "type"); typ {
		case "title", "ctrTitle":
			if !w.notes {
				w.shapeKind = shapeTitle
			}
		case "dt", "ftr", "sldNum", "hdr", "sldImg":
			w.shapeKind = shapeSkipped
		}
	case "tc":
		// A cell covered by a merged one repeats nothing of its own.
		for _, merged := range [...]string{"hMerge", "vMerge"} {
			if v, _ := slideAttr(t, "", merged); v == "1" || v == "true" {
				w.skipFrom = depth
				return
			}
		}
		if w.inTable {
			w.cellOn, w.cell = true, nil
		}
	case "tbl":
		if w.shape != 0 && !w.inTable {
			w.inTable, w.rows = true, nil
		}
	case "tr":
		w.row = nil
	case "p":
		if w.paraFrom == 0 {
			w.paraFrom, w.para = depth, w.para[:0]
		}
	case "t":
		if w.textFrom == 0 {
			w.textFrom = depth
		}
	case "br":
		if w.paraFrom != 0 {
			w.para = append(w.para, '\n')
		}
	}
}

func (w *pptxWalker) end(t xml.EndElement, depth int) error {
	switch {
	case depth == w.textFrom:
		w.textFrom = 0
	case depth == w.paraFrom:
		w.paraFrom = 0
		text := string(w.para)
		if err := w.text.add(text); err != nil {
			return err
		}
		switch {
		case w.cellOn:
			w.cell = append(w.cell, text)
		case w.shape != 0:
			w.lines = append(w.lines, text)
		}
	case depth == w.shape:
		w.shape = 0
		switch w.shapeKind {
		case shapeTitle:
			if w.title == "" {
				w.title = strings.Join(w.lines, " ")
				break
			}
			fallthrough
		case shapeBody:
			if w.dataRel != "" {
				w.diagrams = append(w.diagrams, pptxDiagram{block: len(w.blocks), rel: w.dataRel})
				w.blocks = append(w.blocks, nil)
			} else if len(w.lines) > 0 {
				w.blocks = append(w.blocks, w.lines)
			}
		}
		w.lines, w.inTable, w.cellOn, w.dataRel = nil, false, false, ""
	}
	if n := len(w.alts); n > 0 && w.alts[n-1].depth == depth {
		w.alts = w.alts[:n-1]
	}
	if !w.inTable {
		return nil
	}
	switch t.Name.Local {
	case "tc":
		if w.cellOn {
			w.row = append(w.row, cleanInline(strings.Join(w.cell, " ")))
			w.cellOn = false
		}
	case "tr":
		if line := slideRow(w.row); line != "" {
			w.rows = append(w.rows, line)
		}
		w.row = nil
	case "tbl":
		w.lines = append(w.lines, w.rows...)
		w.rows, w.inTable = nil, false
	}
	return nil
}

// pptxCoreTitle reads dc:title from the core properties part (the one
// the package's relationships name that it has, else docProps/core.xml),
// within the budget.
func pptxCoreTitle(ctx context.Context, p *slideParts) string {
	name := "docProps/core.xml"
	if rels, err := p.rels(ctx, ""); err == nil {
		for _, r := range rels {
			// The package's own type: python-pptx's test decks carry a
			// second, older one ("officedocument/2006/...") to a stale part.
			if r.typ == "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" && p.has(r.target) {
				name = r.target
				break
			}
		}
	}
	return slideDCTitle(ctx, p, name)
}

// slideDCTitle reads the first dc:title of part name, "" when there is none
// or the part cannot be read.
func slideDCTitle(ctx context.Context, p *slideParts, name string) string {
	var title []byte
	in, done := 0, false
	_, err := p.walk(ctx, name, func(tok xml.Token, depth int) error {
		if done {
			return nil
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if in == 0 && t.Name.Local == "title" && t.Name.Space == slideDCNS {
				in = depth
			}
		case xml.EndElement:
			if depth == in {
				done = true
			}
		case xml.CharData:
			if in != 0 && len(title) < maxTitleInput {
				title = append(title, t...)
			}
		}
		return nil
	})
	if err != nil {
		return ""
	}
	return string(title)
}

const slideDCNS = "http://purl.org/dc/elements/1.1/"
