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

// odsKind names the format in messages.
const odsKind = "OpenDocument spreadsheet"

// extractODS reads an OpenDocument spreadsheet: a zipped .ods
// (content.xml, the title from meta.xml) or a flat .fods (one XML file
// whose root is office:document, meta and body in it). Each table:table
// of the body is a sheet, in document order, as the sheets section of
// sheets.go describes. A cell gives its text (text:p paragraphs, which
// hold what the cell shows: a formula's cached result, a number as
// formatted), else its office:value (or date, time, boolean or string
// value); annotations (comments), embedded objects (charts) and covered
// cells are left out.
//
// Repeats are bounded without being materialised: an empty row or cell
// repeated 10^9 times is skipped at the cost of reading it once; a
// non-empty cell is repeated up to column maxSheetColumns, and a
// non-empty row is written until the text is over its limit (too_large).
// A password-protected file fails with unsupported_type and says so.
func extractODS(ctx context.Context, data []byte, lim Limits) (Extracted, error) {
	b := newBuilder(lim.MaxTextBytes)
	w := newSheetWriter(b)
	var title string
	if !bytes.HasPrefix(data, []byte("PK\x03\x04")) {
		left := lim.MaxUnzippedBytes
		r := &cappedReader{r: bytes.NewReader(data), left: &left,
			err: fail(CodeTooLarge, "the %s is larger than %d bytes", odsKind, lim.MaxUnzippedBytes)}
		if err := walkODS(ctx, r, w, lim.MaxTextBytes, &title); err != nil {
			return Extracted{}, err
		}
	} else {
		z, err := openSheetZip(data, lim, odsKind)
		if err != nil {
			return Extracted{}, err
		}
		if m, err := z.readAll("META-INF/manifest.xml", 1<<20); err == nil && bytes.Contains(m, []byte("encryption-data")) {
			return Extracted{}, fail(CodeEncrypted, "the spreadsheet is protected with a password; save it without one and upload it again")
		} else if _, ok := AsError(err); ok {
			return Extracted{}, err
		}
		for _, part := range []string{"meta.xml", "content.xml"} {
			rc, err := z.open(part)
			if errors.Is(err, errNoPart) {
				if part == "content.xml" {
					return Extracted{}, fail(CodeUnsupportedType, "the archive is not an OpenDocument spreadsheet (no content.xml)")
				}
				continue
			}
			if err != nil {
				return Extracted{}, err
			}
			err = walkODS(ctx, rc, w, lim.MaxTextBytes, &title)
			rc.Close()
			// Damaged metadata only costs the title.
			if err != nil && (part == "content.xml" || ctx.Err() != nil) {
				return Extracted{}, err
			}
		}
	}
	w.endSheet()
	ext, err := b.result()
	if err != nil {
		return Extracted{}, err
	}
	ext.Title = firstTitle(title)
	return ext, nil
}

// walkODS streams an OpenDocument XML part (content.xml, meta.xml, or a
// whole flat document) into w, and sets *title from office:meta's
// dc:title.
func walkODS(ctx context.Context, r io.Reader, w *sheetWriter, maxBytes int, title *string) error {
	x := newOfficeXML(ctx, r, odsKind)
	var (
		row       sheetRow
		sheets    int // table:table elements seen at the top level
		tables    int // table:table elements open
		rowRepeat int
		col       int
		cellDepth int // of the open top-level cell, 0 when none
		covered   bool
		colRepeat int
		fallback  string
		text      []byte
		paras     int // text:p and text:h open in the cell
		nParas    int // text:p and text:h started in the cell
		skipFrom  int // depth of the element being skipped, 0 when none
		inMeta    bool
		titleFrom int
		titleBuf  []byte
	)
	tooLarge := fail(CodeTooLarge, "a cell of the spreadsheet has more than %d bytes of text; split it into smaller files", maxBytes)
	for !w.full() {
		tok, err := x.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if skipFrom != 0 {
				continue
			}
			ns, local := t.Name.Space, t.Name.Local
			switch {
			case ns == odfOfficeNS && local == "annotation", ns == odfDrawNS && local == "object":
				skipFrom = x.depth
			case ns == odfOfficeNS && local == "meta":
				inMeta = true
			case ns == odfDCNS && local == "title" && inMeta && *title == "":
				titleFrom = x.depth
			case ns == odfTableNS && local == "table":
				if tables++; tables == 1 && cellDepth == 0 {
					sheets++
					name := wattr(t, "name")
					if cleanInline(name) == "" {
						name = "Sheet " + strconv.Itoa(sheets)
					}
					w.startSheet(name)
				}
			case ns == odfTableNS && local == "table-row" && tables == 1 && cellDepth == 0:
				rowRepeat = odsRepeat(t, "number-rows-repeated")
				row.reset()
				col = 0
			case ns == odfTableNS && (local == "table-cell" || local == "covered-table-cell") && tables == 1 && cellDepth == 0:
				cellDepth, covered = x.depth, local == "covered-table-cell"
				colRepeat = odsRepeat(t, "number-columns-repeated")
				fallback = odsValue(t)
				text, paras, nParas = text[:0], 0, 0
			case cellDepth == 0:
			case ns == odfTextNS && (local == "p" || local == "h"):
				if nParas > 0 {
					text = append(text, '\n')
				}
				paras++
				nParas++
			case ns == odfTextNS && local == "s" && paras > 0:
				text = append(text, ' ')
			case ns == odfTextNS && local == "tab" && paras > 0:
				text = append(text, '\t')
			case ns == odfTextNS && local == "line-break" && paras > 0:
				text = append(text, '\n')
			}
		case xml.EndElement:
			if skipFrom != 0 {
				if x.depth == skipFrom {
					skipFrom = 0
				}
				continue
			}
			ns, local := t.Name.Space, t.Name.Local
			switch {
			case x.depth == titleFrom:
				titleFrom = 0
				*title = string(titleBuf)
			case ns == odfOfficeNS && local == "meta":
				inMeta = false
			case x.depth == cellDepth:
				cellDepth = 0
				value := string(text)
				if strings.TrimSpace(value) == "" {
					value = fallback
				}
				if !covered {
					if err := row.add(col, colRepeat, value, maxBytes); err != nil {
						return err
					}
				}
				col = min(col+colRepeat, 1<<40)
			case ns == odfTableNS && local == "table":
				tables--
			case cellDepth > 0 && ns == odfTextNS && (local == "p" || local == "h"):
				paras--
			case ns == odfTableNS && local == "table-row" && tables == 1 && cellDepth == 0:
				w.rows(row.cells, rowRepeat)
				row.reset()
			}
		case xml.CharData:
			switch {
			case skipFrom != 0:
			case titleFrom != 0:
				if len(titleBuf) < maxTitleInput {
					titleBuf = append(titleBuf, t...)
				}
			case cellDepth != 0 && paras > 0:
				if text = append(text, t...); maxBytes > 0 && len(text) > maxBytes {
					return tooLarge
				}
			}
		}
	}
	return nil
}

// odsRepeat is a repeat count attribute: at least 1, at most 2^31 (the
// readers stop long before: at maxSheetColumns, or at the text limit).
func odsRepeat(se xml.StartElement, local string) int {
	n, err := strconv.ParseInt(wattr(se, local), 10, 64)
	if err != nil || n < 1 {
		if errors.Is(err, strconv.ErrRange) {
			return 1 << 31
		}
		return 1
	}
	return int(min(n, 1<<31))
}

// odsValue is a cell's value from its attributes, for a cell without
// text paragraphs.
func odsValue(se xml.StartElement) string {
	switch wattr(se, "value-type") {
	case "float", "percentage", "currency":
		return wattr(se, "value")
	case "date":
		return wattr(se, "date-value")
	case "time":
		return wattr(se, "time-value")
	case "boolean":
		switch wattr(se, "boolean-value") {
		case "true":
			return "TRUE"
		case "false":
			return "FALSE"
		}
	case "string":
		return wattr(se, "string-value")
	}
	return ""
}
