package extract

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// xlsxKind names the format in messages.
const xlsxKind = "Excel workbook"

// extractXLSX reads an Excel workbook (.xlsx, .xlsm; transitional or
// strict OOXML): its sheets in the workbook's order (xl/workbook.xml,
// their parts through its relationships), each as the sheets section of
// sheets.go describes, hidden sheets included and chart sheets (which
// hold no cells) left out. A cell gives its shared or inline string
// (without phonetic guides), its number (to 15 significant digits, as
// Excel shows it), TRUE or FALSE, an error such as #DIV/0!, or a date or
// time when its style's number format is one ("2011-01-01",
// "13:45:00"); a formula gives its cached value, never the formula.
// The title is docProps/core.xml's dc:title, when it is one.
//
// Every part is streamed and counted against Limits.MaxUnzippedBytes;
// the shared strings, the only part held whole, are held compactly. An
// encrypted workbook (an OLE2 container, not a zip) fails with
// unsupported_type and says so.
func extractXLSX(ctx context.Context, data []byte, lim Limits) (Extracted, error) {
	if isCFB(data) {
		return Extracted{}, cfbFailure(data, "workbook")
	}
	if bytes.HasPrefix(data, []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}) {
		return Extracted{}, fail(CodeUnsupportedType, "the workbook is protected with a password (or is an old binary .xls file); save it as .xlsx without a password and upload it again")
	}
	z, err := openSheetZip(data, lim, xlsxKind)
	if err != nil {
		return Extracted{}, err
	}
	wbPath := "xl/workbook.xml"
	if rels, err := xlsxRels(ctx, z, ""); err != nil {
		return Extracted{}, err
	} else if p := rels.target("/officeDocument"); p != "" && z.files[p] != nil {
		wbPath = p
	}
	book, err := readXLSXWorkbook(ctx, z, wbPath)
	if err != nil {
		return Extracted{}, err
	}
	b := newBuilder(lim.MaxTextBytes)
	w := newSheetWriter(b)
	read := 0
	for i, sh := range book.sheets {
		if w.full() {
			break
		}
		part, ok := book.sheetPart(i, sh)
		if !ok {
			continue // a chart sheet, or one a damaged workbook lost
		}
		rc, err := z.open(part)
		if errors.Is(err, errNoPart) {
			continue
		}
		if err != nil {
			return Extracted{}, err
		}
		read++
		name := sh.name
		if cleanInline(name) == "" {
			name = "Sheet " + strconv.Itoa(i+1)
		}
		w.startSheet(name)
		err = walkXLSXSheet(ctx, rc, book, w, lim.MaxTextBytes)
		rc.Close()
		if err != nil {
			return Extracted{}, err
		}
	}
	w.endSheet()
	if read == 0 && len(book.sheets) > 0 && !book.onlyCharts {
		return Extracted{}, fail(CodeUnsupportedType, "the workbook is damaged: none of its %d sheets is in the file", len(book.sheets))
	}
	ext, err := b.result()
	if err != nil {
		return Extracted{}, err
	}
	ext.Title = firstTitle(ooxmlCoreTitle(z.zr))
	return ext, nil
}

// xlsxRelations are a part's relationships by id.
type xlsxRelations map[string]xlsxRel

type xlsxRel struct{ typ, target string }

// target is the part of the first relationship whose type ends in suffix
// ("/styles"), or "".
func (r xlsxRelations) target(suffix string) string {
	best := ""
	for id, rel := range r {
		// Lowest id first, so that the choice does not depend on map order.
		if strings.HasSuffix(rel.typ, suffix) && (best == "" || id < best) {
			best = id
		}
	}
	if best == "" {
		return ""
	}
	return r[best].target
}

// xlsxRels reads the relationships of part ("" for the package's own),
// with targets resolved to part names; none when there is no such part.
func xlsxRels(ctx context.Context, z *sheetZip, part string) (xlsxRelations, error) {
	relsPath := "_rels/.rels"
	if part != "" {
		relsPath = path.Join(path.Dir(part), "_rels", path.Base(part)+".rels")
	}
	rc, err := z.open(relsPath)
	if errors.Is(err, errNoPart) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	rels := xlsxRelations{}
	x := newOfficeXML(ctx, rc, xlsxKind)
	for len(rels) < 100000 {
		tok, err := x.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "Relationship" || wattr(se, "TargetMode") == "External" {
			continue
		}
		target := wattr(se, "Target")
		if strings.HasPrefix(target, "/") {
			target = path.Clean(target[1:])
		} else {
			target = path.Join(path.Dir(part), target)
		}
		rels[wattr(se, "Id")] = xlsxRel{typ: wattr(se, "Type"), target: target}
	}
	return rels, nil
}

// xlsxBook is what the sheets are read with.
type xlsxBook struct {
	sheets     []xlsxSheet
	rels       xlsxRelations // nil when the workbook has none (damaged)
	dir        string        // of the workbook part
	onlyCharts bool          // every sheet listed is a chart sheet
	date1904   bool
	strings    sharedStrings
	formats    []byte // number format kind (fmtNumber...) by cell style index
}

type xlsxSheet struct{ name, rid string }

// sheetPart is the part of the i-th sheet; false for a chart sheet (or
// dialog or macro sheet) and for one the workbook does not point to. A
// workbook without relationships (damaged) is read as Excel names its
// parts, sheetN.xml for the N-th sheet.
func (bk *xlsxBook) sheetPart(i int, sh xlsxSheet) (string, bool) {
	if bk.rels == nil {
		return path.Join(bk.dir, "worksheets", "sheet"+strconv.Itoa(i+1)+".xml"), true
	}
	rel, ok := bk.rels[sh.rid]
	if !ok || !strings.HasSuffix(rel.typ, "/worksheet") {
		return "", false
	}
	return rel.target, true
}

func readXLSXWorkbook(ctx context.Context, z *sheetZip, wbPath string) (*xlsxBook, error) {
	bk := &xlsxBook{dir: path.Dir(wbPath)}
	rc, err := z.open(wbPath)
	if errors.Is(err, errNoPart) {
		return nil, fail(CodeUnsupportedType, "the archive is not an Excel workbook (no %s)", wbPath)
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	x := newOfficeXML(ctx, rc, xlsxKind)
	for len(bk.sheets) < 100000 {
		tok, err := x.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "workbookPr":
			v := wattr(se, "date1904")
			bk.date1904 = v == "1" || v == "true"
		case "sheet":
			bk.sheets = append(bk.sheets, xlsxSheet{name: wattr(se, "name"), rid: wattr(se, "id")})
		}
	}
	if bk.rels, err = xlsxRels(ctx, z, wbPath); err != nil {
		return nil, err
	}
	if bk.rels != nil && len(bk.sheets) > 0 {
		bk.onlyCharts = true
		for _, sh := range bk.sheets {
			if !strings.HasSuffix(bk.rels[sh.rid].typ, "/chartsheet") {
				bk.onlyCharts = false
			}
		}
	}
	ssPath, stylesPath := path.Join(bk.dir, "sharedStrings.xml"), path.Join(bk.dir, "styles.xml")
	if bk.rels != nil {
		ssPath, stylesPath = bk.rels.target("/sharedStrings"), bk.rels.target("/styles")
	}
	if err := bk.strings.read(ctx, z, ssPath); err != nil {
		return nil, err
	}
	if bk.formats, err = readXLSXStyles(ctx, z, stylesPath); err != nil {
		return nil, err
	}
	return bk, nil
}

// sharedStrings is the shared string table, held as one buffer and the
// end of each string in it: 8 bytes of overhead a string, where a
// []string would take 16 and a header a string.
type sharedStrings struct {
	data []byte
	ends []int
}

func (s *sharedStrings) get(i int) string {
	if i < 0 || i >= len(s.ends) {
		return ""
	}
	start := 0
	if i > 0 {
		start = s.ends[i-1]
	}
	return string(s.data[start:s.ends[i]])
}

// read reads the table from part (none when there is no such part):
// each si's text runs, without phonetic guides (rPh).
func (s *sharedStrings) read(ctx context.Context, z *sheetZip, part string) error {
	if part == "" {
		return nil
	}
	rc, err := z.open(part)
	if errors.Is(err, errNoPart) {
		return nil
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	x := newOfficeXML(ctx, rc, xlsxKind)
	var si []byte
	var inSI, inT, inRPh bool
	for {
		tok, err := x.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "si":
				inSI, si = true, si[:0]
			case "t":
				inT = true
			case "rPh":
				inRPh = true
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "si":
				inSI = false
				s.data = append(s.data, decodeXEscapes(si)...)
				s.ends = append(s.ends, len(s.data))
			case "t":
				inT = false
			case "rPh":
				inRPh = false
			}
		case xml.CharData:
			if inSI && inT && !inRPh {
				si = append(si, t...)
			}
		}
	}
}

// decodeXEscapes decodes OOXML's _xHHHH_ escapes (ST_Xstring: "_x000D_"
// is a carriage return, "_x005F_" an underscore).
func decodeXEscapes(s []byte) []byte {
	if !bytes.Contains(s, []byte("_x")) {
		return s
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		if i+7 <= len(s) && s[i] == '_' && s[i+1] == 'x' && s[i+6] == '_' {
			if v, err := strconv.ParseUint(string(s[i+2:i+6]), 16, 16); err == nil {
				out = append(out, string(rune(v))...)
				i += 7
				continue
			}
		}
		out = append(out, s[i])
		i++
	}
	return out
}

// Number format kinds of a cell style.
const (
	fmtNumber byte = iota
	fmtDate
	fmtTime
	fmtDateTime
)

// readXLSXStyles returns the number format kind of each cell style
// (cellXfs), from the built-in format ids and the workbook's own format
// codes.
func readXLSXStyles(ctx context.Context, z *sheetZip, part string) ([]byte, error) {
	if part == "" {
		return nil, nil
	}
	rc, err := z.open(part)
	if errors.Is(err, errNoPart) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	custom := map[int]byte{}
	var kinds []byte
	inXfs := false
	x := newOfficeXML(ctx, rc, xlsxKind)
	for len(kinds) < 1<<20 {
		tok, err := x.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "numFmt":
				if id, err := strconv.Atoi(wattr(t, "numFmtId")); err == nil {
					custom[id] = formatCodeKind(wattr(t, "formatCode"))
				}
			case "cellXfs":
				inXfs = true
			case "xf":
				if inXfs {
					id, _ := strconv.Atoi(wattr(t, "numFmtId"))
					k, ok := custom[id]
					if !ok {
						k = builtinFormatKind(id)
					}
					kinds = append(kinds, k)
				}
			}
		case xml.EndElement:
			if t.Name.Local == "cellXfs" {
				inXfs = false
			}
		}
	}
	return kinds, nil
}

// builtinFormatKind is the kind of Excel's built-in number format id
// (ECMA-376 part 1, 18.8.30, and the East Asian ids 27-36 and 50-58).
// Durations ([h]:mm:ss, 46) stay numbers.
func builtinFormatKind(id int) byte {
	switch {
	case id >= 14 && id <= 17, id >= 27 && id <= 36, id >= 50 && id <= 58:
		return fmtDate
	case id >= 18 && id <= 21, id == 45, id == 47:
		return fmtTime
	case id == 22:
		return fmtDateTime
	}
	return fmtNumber
}

// formatCodeKind tells a date or time format code ("yyyy-mm-dd",
// "h:mm AM/PM") from a number format ("#,##0.00", "0%"): a y or d (a
// date) or an h or s (a time) outside quoted text, brackets and escaped
// characters. Elapsed times ("[h]:mm") are durations, and stay numbers.
func formatCodeKind(code string) byte {
	code = strings.ToLower(code)
	if strings.Contains(code, "[h") || strings.Contains(code, "[m") || strings.Contains(code, "[s") {
		return fmtNumber
	}
	var b strings.Builder
	for i := 0; i < len(code); i++ {
		switch c := code[i]; c {
		case '"':
			if j := strings.IndexByte(code[i+1:], '"'); j >= 0 {
				i += j + 1
			} else {
				i = len(code)
			}
		case '[':
			if j := strings.IndexByte(code[i+1:], ']'); j >= 0 {
				i += j + 1
			} else {
				i = len(code)
			}
		case '\\', '_', '*':
			i++
		case ';':
			i = len(code) // the positive section decides
		default:
			b.WriteByte(c)
		}
	}
	s := b.String()
	date, clock := strings.ContainsAny(s, "yd"), strings.ContainsAny(s, "hs")
	switch {
	case date && clock:
		return fmtDateTime
	case date:
		return fmtDate
	case clock:
		return fmtTime
	}
	return fmtNumber
}

// walkXLSXSheet streams a worksheet's rows into w, stopping once the text
// is over its limit.
func walkXLSXSheet(ctx context.Context, r io.Reader, bk *xlsxBook, w *sheetWriter, maxBytes int) error {
	x := newOfficeXML(ctx, r, xlsxKind)
	var row sheetRow
	type cell struct {
		open           bool
		col, style     int
		typ            string
		v, is          []byte
		inV, inIs, inT bool
		inRPh          bool
	}
	var c cell
	next := 0 // column of a cell without a reference
	tooLarge := fail(CodeTooLarge, "a cell of the spreadsheet has more than %d bytes of text; split it into smaller files", maxBytes)
	for !w.full() {
		tok, err := x.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "row":
				row.reset()
				next = 0
			case "c":
				col, ok := cellColumn(wattr(t, "r"))
				if !ok {
					col = next
				}
				next = col + 1
				style, _ := strconv.Atoi(wattr(t, "s"))
				c = cell{open: true, col: col, style: style, typ: wattr(t, "t"), v: c.v[:0], is: c.is[:0]}
			case "v":
				c.inV = c.open
			case "is":
				c.inIs = c.open
			case "t":
				c.inT = c.inIs
			case "rPh":
				c.inRPh = true
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "v":
				c.inV = false
			case "is":
				c.inIs = false
			case "t":
				c.inT = false
			case "rPh":
				c.inRPh = false
			case "c":
				if c.open {
					if err := row.add(c.col, 1, bk.cellText(c.typ, c.style, c.v, c.is), maxBytes); err != nil {
						return err
					}
				}
				c.open = false
			case "row":
				if !slices.IsSortedFunc(row.cells, func(a, b sheetCell) int { return a.col - b.col }) {
					slices.SortStableFunc(row.cells, func(a, b sheetCell) int { return a.col - b.col })
				}
				w.rows(row.cells, 1)
				row.reset()
			}
		case xml.CharData:
			switch {
			case c.inV:
				c.v = append(c.v, t...)
			case c.inT && !c.inRPh:
				c.is = append(c.is, t...)
			default:
				continue
			}
			if maxBytes > 0 && len(c.v)+len(c.is) > maxBytes {
				return tooLarge
			}
		}
	}
	return nil
}

// cellText is a cell's value as text: see extractXLSX.
func (bk *xlsxBook) cellText(typ string, style int, v, inline []byte) string {
	switch typ {
	case "s":
		i, err := strconv.Atoi(strings.TrimSpace(string(v)))
		if err != nil {
			return ""
		}
		return bk.strings.get(i)
	case "inlineStr":
		if len(inline) == 0 {
			return string(decodeXEscapes(v))
		}
		return string(decodeXEscapes(inline))
	case "str":
		return string(decodeXEscapes(v))
	case "b":
		switch strings.TrimSpace(string(v)) {
		case "1", "true":
			return "TRUE"
		case "0", "false":
			return "FALSE"
		}
		return ""
	case "e", "d":
		return string(v)
	}
	if style >= 0 && style < len(bk.formats) && bk.formats[style] != fmtNumber {
		if s, ok := excelDate(string(v), bk.formats[style], bk.date1904); ok {
			return s
		}
	}
	return excelNumber(string(v))
}

// excelNumber writes a number as Excel's General format shows it: at most
// 15 significant digits ("0.30000000000000004" is 0.3), in plain
// notation from 1e-6 to 1e15.
func excelNumber(v string) string {
	v = strings.TrimSpace(v)
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return v
	}
	g, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'g', 15, 64), 64)
	if a := math.Abs(g); g == 0 || (a >= 1e-6 && a < 1e15) {
		return strconv.FormatFloat(g, 'f', -1, 64)
	}
	return strconv.FormatFloat(g, 'g', -1, 64)
}

// excelDate writes a serial date as ISO 8601: days since 1899-12-30
// (Excel's 1900 system, whose fictitious 1900-02-29 is day 60) or since
// 1904-01-01, the fraction the time of day. False for a number that is no
// date (negative, past 9999, not a number).
func excelDate(v string, kind byte, date1904 bool) (string, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || !(f >= 0 && f < 2958466) {
		return "", false
	}
	base := time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC)
	switch {
	case date1904:
		base = time.Date(1904, 1, 1, 0, 0, 0, 0, time.UTC)
	case f < 60:
		base = time.Date(1899, 12, 31, 0, 0, 0, 0, time.UTC)
	}
	days := math.Floor(f)
	t := base.AddDate(0, 0, int(days)).Add(time.Duration(math.Round((f-days)*86400)) * time.Second)
	switch {
	case kind == fmtDate:
		return t.Format("2006-01-02"), true
	case kind == fmtTime && days == 0:
		return t.Format("15:04:05"), true
	}
	return t.Format("2006-01-02 15:04:05"), true
}

// cellColumn is the 0-based column of a cell reference ("B7" is 1).
func cellColumn(ref string) (int, bool) {
	col, n := 0, 0
	for ; n < len(ref) && n < 4; n++ {
		c := ref[n] | 0x20 // lower case
		if c < 'a' || c > 'z' {
			break
		}
		col = col*26 + int(c-'a') + 1
	}
	if n == 0 {
		return 0, false
	}
	return col - 1, true
}
