package ingest

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
// style or outline level) as sections, list items and tables row by row.
// Inflated parts are capped (zip bombs fail with too_large), document.xml
// is streamed rather than held in memory, and encoding/xml neither expands
// entity declarations nor fetches anything.
func extractDOCX(ctx context.Context, data []byte, lim Limits) (Extracted, error) {
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
	return b.result()
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

// walkDOCX streams document.xml into the builder.
func walkDOCX(ctx context.Context, r io.Reader, headingStyles map[string]int, b *builder) error {
	dec := xml.NewDecoder(r)
	dec.Strict = true
	var (
		para      strings.Builder
		level     int  // heading level of the current paragraph, 0 for body text
		listItem  bool // the current paragraph is numbered or bulleted
		inText    bool // inside w:t
		skip      int  // depth inside deleted text, field codes and the like
		tableRows []string
		cells     []string
		cell      strings.Builder
		tableDeep int
		paraCount int
	)
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if _, ok := AsError(err); ok {
				return err // from the reader: over the inflated size limit
			}
			return &Error{Code: CodeUnsupportedType, Message: "the Word document's XML is damaged", Err: err}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if skip > 0 {
				skip++
				continue
			}
			switch t.Name.Local {
			case "delText", "instrText", "footnoteReference", "commentReference":
				skip = 1
			case "p":
				para.Reset()
				level, listItem = 0, false
				if paraCount++; paraCount%1024 == 0 && ctx.Err() != nil {
					return ctx.Err()
				}
			case "pStyle":
				level = headingStyles[wattr(t, "val")]
			case "outlineLvl":
				if l, err := strconv.Atoi(wattr(t, "val")); err == nil && l >= 0 && l < 9 {
					level = min(l+1, 6)
				}
			case "numPr":
				listItem = true
			case "t":
				inText = true
			case "tab":
				para.WriteByte('\t')
			case "br", "cr":
				para.WriteByte('\n')
			case "tbl":
				tableDeep++
				if tableDeep == 1 {
					tableRows = tableRows[:0]
				}
			case "tr":
				cells = cells[:0]
			case "tc":
				cell.Reset()
			}
		case xml.EndElement:
			if skip > 0 {
				skip--
				continue
			}
			switch t.Name.Local {
			case "t":
				inText = false
			case "p":
				text := para.String()
				switch {
				case tableDeep > 0:
					if cell.Len() > 0 {
						cell.WriteByte(' ')
					}
					cell.WriteString(text)
				case level > 0:
					b.heading(level, text)
				case listItem:
					b.lines([]string{"- " + text})
				default:
					b.paragraph(text)
				}
			case "tc":
				cells = append(cells, cleanInline(cell.String()))
			case "tr":
				if strings.Join(cells, "") != "" {
					tableRows = append(tableRows, strings.Join(cells, " | "))
				}
			case "tbl":
				tableDeep--
				if tableDeep == 0 {
					b.lines(tableRows)
				}
			}
		case xml.CharData:
			if inText && skip == 0 {
				para.Write(t)
			}
		case xml.Directive:
			// A DTD in a Word part is not something Word writes; refuse it
			// rather than reason about what it declares.
			return fail(CodeUnsupportedType, "the Word document contains a DTD (%s)", truncateRunes(string(t), 40))
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}
