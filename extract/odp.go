package extract

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"
)

// extractODP reads an OpenDocument presentation: the zip (.odp, its
// content.xml and meta.xml) or the flat XML file (.fodp, one
// office:document). Each draw:page is a slide (see slides.go for the
// structure kept); its heading is the text of its shape of
// presentation:class "title", else the page's draw:name unless that is
// Impress's default ("page3"), else "Slide N". Shapes are read in the
// order the page lists them, groups (draw:g) opened; presentation:notes
// gives the speaker notes. Embedded objects, images' descriptions and
// comments (office:annotation) are not read. An encrypted package fails
// with encrypted.
func extractODP(ctx context.Context, data []byte, lim Limits) (Extracted, error) {
	const what = "OpenDocument presentation"
	if !bytes.HasPrefix(data, []byte("PK\x03\x04")) {
		return odpFromXML(ctx, bytes.NewReader(data), lim, "")
	}
	p, err := openSlideParts(data, lim, what)
	if err != nil {
		return Extracted{}, err
	}
	if encrypted, err := odfEncrypted(ctx, p); err != nil {
		return Extracted{}, err
	} else if encrypted {
		return Extracted{}, fail(CodeEncrypted, "the OpenDocument presentation is encrypted (password-protected); save it without a password and upload it again")
	}
	rc, ok, err := p.open("content.xml")
	if !ok {
		return Extracted{}, fail(CodeUnsupportedType, "the archive is not an OpenDocument presentation (no content.xml)")
	}
	if err != nil {
		return Extracted{}, err
	}
	defer rc.Close()
	return odpFromXML(ctx, rc, lim, slideDCTitle(ctx, p, "meta.xml"))
}

// odfEncrypted says whether the package's manifest gives content.xml (or
// any part) encryption data.
func odfEncrypted(ctx context.Context, p *slideParts) (bool, error) {
	encrypted := false
	_, err := p.walk(ctx, "META-INF/manifest.xml", func(tok xml.Token, _ int) error {
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "encryption-data" {
			encrypted = true
		}
		return nil
	})
	if e, ok := AsError(err); ok && e.Code != CodeUnsupportedType {
		return false, err // over a limit
	}
	return encrypted, nil // a damaged manifest says nothing either way
}

// odpFromXML reads content.xml or a flat presentation from r; metaTitle
// is meta.xml's dc:title (a flat file has its own).
func odpFromXML(ctx context.Context, r io.Reader, lim Limits, metaTitle string) (Extracted, error) {
	const what = "OpenDocument presentation"
	b := newBuilder(lim.MaxTextBytes)
	w := odpWalker{maxText: lim.MaxTextBytes}
	w.emit = func(s slideContent) error {
		w.n++
		if w.n > lim.MaxPages {
			return fail(CodeTooManyPages, "the presentation has more than %d slides", lim.MaxPages)
		}
		if w.n == 1 {
			w.firstTitle = s.title
		}
		writeSlide(b, w.n, s)
		if b.tooLarge {
			return errSlideStop
		}
		return nil
	}
	err := walkSlideXML(ctx, r, what, w.visit)
	if err != nil && !errors.Is(err, errSlideStop) {
		return Extracted{}, err
	}
	if !w.sawPresentation {
		return Extracted{}, fail(CodeUnsupportedType, "the file is not an OpenDocument presentation (no office:presentation)")
	}
	ext, err := b.result()
	if err != nil {
		if e, ok := AsError(err); ok && e.Code == CodeNoText && w.n == 0 {
			return Extracted{}, fail(CodeNoText, "the presentation has no slides")
		}
		return Extracted{}, err
	}
	ext.PageCount = w.n
	if metaTitle == "" {
		metaTitle = string(w.metaTitle)
	}
	ext.Title = firstTitle(metaTitle, w.firstTitle)
	return ext, nil
}

// errSlideStop ends a walk early without an error of its own: the
// builder is over its limit and says so.
var errSlideStop = errors.New("stop: the text is over the limit")

// odpWalker collects an OpenDocument presentation's slides one token at a
// time and hands each to emit when its draw:page ends. A shape is the
// outermost draw: element (other than a group or a hyperlink) in a page or
// its notes; its paragraphs (text:p, text:h, in lists or not) are its
// lines, and a table in it adds a line per row.
type odpWalker struct {
	maxText int
	emit    func(slideContent) error

	n               int
	firstTitle      string
	sawPresentation bool
	metaTitle       []byte
	metaFrom        int // depth of the open dc:title, 0 when none
	metaDone        bool

	skipFrom int

	pres     int // depth of office:presentation, 0 when none
	page     int // depth of the open draw:page, 0 when none
	pageName string
	notesAt  int // depth of the open presentation:notes, 0 when none
	cur      slideContent
	text     slideText

	shape     int
	shapeKind pptxShapeKind
	lines     []string

	paraFrom int
	para     []byte

	tables     int // open tables in the shape; only the outermost one's rows and cells count
	rows       []string
	row        []string
	rowRepeat  int
	cellOn     bool
	cell       []string
	cellRepeat int
}

func (w *odpWalker) visit(tok xml.Token, depth int) error {
	switch t := tok.(type) {
	case xml.StartElement:
		if w.skipFrom == 0 {
			w.start(t, depth)
		}
	case xml.EndElement:
		if w.skipFrom != 0 {
			if depth == w.skipFrom {
				w.skipFrom = 0
			}
			return nil
		}
		return w.end(t, depth)
	case xml.CharData:
		if w.skipFrom != 0 {
			return nil
		}
		if w.metaFrom != 0 && len(w.metaTitle) < maxTitleInput {
			w.metaTitle = append(w.metaTitle, t...)
		}
		if w.paraFrom != 0 {
			w.para = append(w.para, t...)
			if len(w.para) > w.text.left {
				return errSlideTooMuchText
			}
		}
	}
	return nil
}

func (w *odpWalker) start(t xml.StartElement, depth int) {
	space, local := t.Name.Space, t.Name.Local
	switch {
	case space == slideDCNS && local == "title" && w.pres == 0 && !w.metaDone && w.metaFrom == 0:
		w.metaFrom = depth
	case space == odfOfficeNS && (local == "annotation" || local == "annotation-end" || local == "event-listeners"),
		space == odfSVGNS && (local == "title" || local == "desc"),
		space == odfTextNS && (local == "note" || local == "tracked-changes" || local == "page-number" || local == "page-count"),
		space == odfPresentationNS && (local == "date-time" || local == "footer" || local == "header"),
		space == odfTableNS && local == "covered-table-cell":
		w.skipFrom = depth
	case space == odfOfficeNS && local == "presentation":
		if w.pres == 0 {
			w.pres, w.sawPresentation = depth, true
		}
	case space == odfDrawNS && local == "page" && w.pres != 0 && w.page == 0:
		w.page, w.cur = depth, slideContent{}
		w.pageName, _ = slideAttr(t, odfDrawNS, "name")
		w.text = slideText{left: w.maxText}
	case space == odfPresentationNS && local == "notes" && w.page != 0 && w.notesAt == 0 && w.shape == 0:
		w.notesAt = depth
	case space == odfDrawNS && w.page != 0 && w.shape == 0 && local != "g" && local != "a":
		w.shape, w.shapeKind, w.lines = depth, shapeBody, nil
		switch class, _ := slideAttr(t, odfPresentationNS, "class"); class {
		case "title":
			if w.notesAt == 0 {
				w.shapeKind = shapeTitle
			}
		case "page", "page-number", "footer", "date-time", "header", "handout":
			w.shapeKind = shapeSkipped
		}
	case space == odfTextNS && (local == "p" || local == "h"):
		if w.paraFrom == 0 && w.shape != 0 {
			w.paraFrom, w.para = depth, w.para[:0]
		}
	case space == odfTextNS && (local == "s" || local == "tab" || local == "line-break"):
		if w.paraFrom != 0 {
			w.para = append(w.para, ' ')
		}
	case space == odfTableNS && local == "table" && w.shape != 0:
		if w.tables++; w.tables == 1 {
			w.rows = nil
		}
	case space == odfTableNS && local == "table-row" && w.tables == 1:
		w.row, w.rowRepeat = nil, odfRepeat(t, "number-rows-repeated")
	case space == odfTableNS && local == "table-cell" && w.tables == 1:
		w.cellOn, w.cell, w.cellRepeat = true, nil, odfRepeat(t, "number-columns-repeated")
	}
}

// odfRepeat is an element's repeat count, 1 when it has none and at most
// maxSlideTableRepeat.
func odfRepeat(t xml.StartElement, name string) int {
	v, _ := slideAttr(t, odfTableNS, name)
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 1
	}
	return min(n, maxSlideTableRepeat)
}

func (w *odpWalker) end(t xml.EndElement, depth int) error {
	space, local := t.Name.Space, t.Name.Local
	switch {
	case depth == w.metaFrom:
		w.metaFrom, w.metaDone = 0, true
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
	case space == odfTableNS && local == "table-cell" && w.tables == 1 && w.cellOn:
		w.cellOn = false
		text := cleanInline(strings.Join(w.cell, " "))
		n := w.cellRepeat
		if text == "" {
			n = 1
		}
		for range n {
			w.row = append(w.row, text)
		}
	case space == odfTableNS && local == "table-row" && w.tables == 1:
		if line := slideRow(w.row); line != "" {
			for range w.rowRepeat {
				w.rows = append(w.rows, line)
			}
		}
	case space == odfTableNS && local == "table" && w.tables > 0:
		if w.tables--; w.tables == 0 {
			w.lines = append(w.lines, w.rows...)
			w.rows = nil
		}
	case depth == w.shape:
		w.shape = 0
		switch w.shapeKind {
		case shapeTitle:
			if w.cur.title == "" {
				w.cur.title = strings.Join(w.lines, " ")
				break
			}
			fallthrough
		case shapeBody:
			switch {
			case len(w.lines) == 0:
			case w.notesAt != 0:
				w.cur.notes = append(w.cur.notes, w.lines...)
			default:
				w.cur.blocks = append(w.cur.blocks, w.lines)
			}
		}
		w.lines, w.tables, w.cellOn = nil, 0, false
	case depth == w.notesAt:
		w.notesAt = 0
	case depth == w.page:
		w.page = 0
		if cleanInline(w.cur.title) == "" && CleanTitle(w.pageName, 200) != "" {
			w.cur.title = w.pageName
		}
		return w.emit(w.cur)
	case depth == w.pres:
		w.pres = 0
	}
	return nil
}

// slideRow joins a table row's cells with " | ", empty cells at its end
// left out; "" when all are empty.
func slideRow(cells []string) string {
	for len(cells) > 0 && cells[len(cells)-1] == "" {
		cells = cells[:len(cells)-1]
	}
	return strings.Join(cells, " | ")
}
