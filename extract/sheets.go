package extract

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
)

// Spreadsheets (XLSX, ODS, CSV) become text the same way:
//
//   - One section per sheet, headed by the sheet's name, in the workbook's
//     order; hidden sheets are included (their data is the workbook's
//     data, often the lookup tables the visible sheets refer to). A sheet
//     without text is left out, heading and all. A CSV file is one sheet
//     without a heading: its section has an empty heading path, and the
//     file's name stands for it in citations.
//   - Empty rows are skipped, and so are empty cells.
//   - The header row is the first non-empty row that has at least half as
//     many filled cells as the widest of the sheet's first
//     sheetHeaderLookahead non-empty rows (and at least two when any of
//     them has two). On an ordinary sheet that is its first non-empty
//     row; on a sheet with a title or notes above its table (a report's
//     "Quarterly figures 2023" in A1, messytables' padding rows), the
//     sparse lines above the table stay plain lines rather than becoming
//     the names of columns.
//   - The header row is written once, as "Name | Age | City"; every row
//     after it as "Name: Ann; Age: 31; City: Oslo", each cell labelled with
//     its column's header (headerLabel), a cell whose
//     column has no header as its value alone. A row that repeats the
//     header (a table printed in pages) is written like the header.
//   - Merged cells give their value once, in their first (top-left) cell:
//     that is where XLSX and ODS keep it. ODS's covered cells (the cells a
//     merge hides) are skipped, even when a file keeps text in them:
//     nobody sees it.
//
// One line per row that names its columns, rather than blocks of rows
// under a header line, because the chunker cuts a section that does not
// fit one chunk at line boundaries (the strongest boundary in the back
// half of its window), wherever the tenant's chunk size puts them: every
// chunk of a sheet then stands alone and says which column each value is
// in. A block of rows under its header would stand alone only if the
// extractor knew the chunk size and cut the blocks to fit it. The price
// is the header's tokens on every row.
//
// Every sheet is bounded by the builder: once the text passes
// Limits.MaxTextBytes the readers stop (they check after every row) and
// the document fails with too_large; the ingest pipeline's token limit
// applies to what is under it.

// sheetHeaderLookahead is how many non-empty rows of a sheet are held
// back to choose its header row.
const sheetHeaderLookahead = 50

// maxHeaderLabel bounds, in runes, the header text repeated before each
// value of its column.
const maxHeaderLabel = 64

// maxSheetColumns bounds the columns of a row: Excel's and LibreOffice's
// 16,384 (XFD). Cells beyond it are dropped, so that an ODS repeat count
// (table:number-columns-repeated="999999999") costs nothing.
const maxSheetColumns = 16384

// sheetCell is a non-empty cell: its column (0-based) and its cleaned text.
type sheetCell struct {
	col  int
	text string
}

// sheetWriter writes sheets into a builder as described above.
type sheetWriter struct {
	b       *builder
	name    string // the current sheet's heading, written before its first row
	headed  bool   // the current sheet has written a line
	pending [][]sheetCell
	decided bool           // the header row was chosen
	header  map[int]string // column -> label
}

func newSheetWriter(b *builder) *sheetWriter { return &sheetWriter{b: b} }

// startSheet ends the current sheet and starts one called name ("": no
// heading).
func (w *sheetWriter) startSheet(name string) {
	w.endSheet()
	*w = sheetWriter{b: w.b, name: name}
}

// endSheet writes what the current sheet holds back.
func (w *sheetWriter) endSheet() {
	if !w.decided {
		w.decide()
	}
	if w.headed {
		w.b.write("\n")
		w.headed = false
	}
}

// full reports whether the text is over its limit: readers stop then.
func (w *sheetWriter) full() bool { return w.b.tooLarge }

// rows adds a row n times (an ODS row repeat). cells must be cleaned,
// non-empty and in column order; rows keeps no reference to the slice.
func (w *sheetWriter) rows(cells []sheetCell, n int) {
	if len(cells) == 0 {
		return
	}
	for ; n > 0 && !w.decided; n-- {
		w.pending = append(w.pending, slices.Clone(cells))
		if len(w.pending) >= sheetHeaderLookahead {
			w.decide()
		}
	}
	if n <= 0 {
		return
	}
	line := w.rowLine(cells)
	for ; n > 0 && !w.b.tooLarge; n-- {
		w.writeLine(line)
	}
}

// decide chooses the header row among the pending rows and writes them.
func (w *sheetWriter) decide() {
	w.decided = true
	widest := 0
	for _, r := range w.pending {
		widest = max(widest, len(r))
	}
	need := (widest + 1) / 2
	if widest >= 2 {
		need = max(need, 2)
	}
	at := -1
	for i, r := range w.pending {
		if len(r) >= need {
			at = i
			break
		}
	}
	for i, r := range w.pending {
		switch {
		case i < at:
			w.writeLine(plainRow(r))
		case i == at:
			w.header = make(map[int]string, len(r))
			for _, c := range r {
				w.header[c.col] = headerLabel(c.text)
			}
			w.writeLine(plainRow(r))
		default:
			w.writeLine(w.rowLine(r))
		}
	}
	w.pending = nil
}

// rowLine is a row after the header row: its cells labelled.
func (w *sheetWriter) rowLine(cells []sheetCell) string {
	if w.isHeader(cells) {
		return plainRow(cells)
	}
	var b strings.Builder
	for i, c := range cells {
		if i > 0 {
			b.WriteString("; ")
		}
		if h := w.header[c.col]; h != "" {
			b.WriteString(h)
			b.WriteString(": ")
		}
		b.WriteString(c.text)
	}
	return b.String()
}

// isHeader: every cell of the row is its column's header.
func (w *sheetWriter) isHeader(cells []sheetCell) bool {
	if len(w.header) == 0 {
		return false
	}
	for _, c := range cells {
		if w.header[c.col] != headerLabel(c.text) {
			return false
		}
	}
	return true
}

// headerLabel is a header cell's text as the label of its column's
// values: cut to maxHeaderLabel runes, without a colon of its own
// ("Total:" labels "Total: 237", not "Total:: 237").
func headerLabel(s string) string {
	return strings.TrimRight(truncateRunes(s, maxHeaderLabel), ":： ")
}

func plainRow(cells []sheetCell) string {
	var b strings.Builder
	for i, c := range cells {
		if i > 0 {
			b.WriteString(" | ")
		}
		b.WriteString(c.text)
	}
	return b.String()
}

func (w *sheetWriter) writeLine(s string) {
	if !w.headed {
		w.headed = true
		if w.name != "" {
			w.b.heading(1, w.name)
		}
	}
	w.b.write(s)
	w.b.write("\n")
}

// sheetRow gathers a row's cells for a reader, bounding its text.
type sheetRow struct {
	cells []sheetCell
	bytes int
}

// add adds a cell of raw text at col, n times (an ODS column repeat),
// dropping what is empty or beyond maxSheetColumns. It fails with
// too_large when the row alone holds more text than the document may.
func (r *sheetRow) add(col, n int, raw string, maxBytes int) error {
	if col >= maxSheetColumns || n <= 0 {
		return nil
	}
	text := cleanInline(raw)
	if text == "" {
		return nil
	}
	for ; n > 0 && col < maxSheetColumns; n-- {
		r.cells = append(r.cells, sheetCell{col: col, text: text})
		col++
		if r.bytes += len(text) + 2; maxBytes > 0 && r.bytes > maxBytes {
			return fail(CodeTooLarge, "a row of the spreadsheet has more than %d bytes of text; split it into smaller files", maxBytes)
		}
	}
	return nil
}

func (r *sheetRow) reset() {
	clear(r.cells)
	r.cells, r.bytes = r.cells[:0], 0
}

// ---- zip parts and XML, shared by XLSX and ODS

// sheetZip is a spreadsheet's zip archive; what its parts inflate to is
// counted against one budget, Limits.MaxUnzippedBytes.
type sheetZip struct {
	zr       *zip.Reader
	files    map[string]*zip.File
	left     int64
	tooLarge error
	kind     string // "Excel workbook", for messages
}

// openSheetZip opens data as a zip archive of at most 10,000 parts.
func openSheetZip(data []byte, lim Limits, kind string) (*sheetZip, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, &Error{Code: CodeUnsupportedType, Message: "the file is not a readable " + kind + " (damaged zip?)", Err: err}
	}
	if len(zr.File) > 10000 {
		return nil, fail(CodeTooLarge, "the %s has %d parts; that is not a normal document", kind, len(zr.File))
	}
	z := &sheetZip{zr: zr, files: make(map[string]*zip.File, len(zr.File)), left: lim.MaxUnzippedBytes, kind: kind,
		tooLarge: fail(CodeTooLarge, "the %s inflates to more than %d bytes", kind, lim.MaxUnzippedBytes)}
	for _, f := range zr.File {
		if _, dup := z.files[f.Name]; !dup {
			z.files[f.Name] = f
		}
	}
	return z, nil
}

// errNoPart: the archive has no part of that name.
var errNoPart = errors.New("no such part")

// open opens a part, reading at most what is left of the budget (the
// sizes in the zip's headers are never trusted).
func (z *sheetZip) open(name string) (io.ReadCloser, error) {
	f := z.files[name]
	if f == nil {
		return nil, errNoPart
	}
	rc, err := f.Open()
	if err != nil {
		return nil, &Error{Code: CodeUnsupportedType, Message: "the " + z.kind + " is damaged (its part " + truncateRunes(name, 80) + " cannot be read)", Err: err}
	}
	return struct {
		io.Reader
		io.Closer
	}{&cappedReader{r: rc, left: &z.left, err: z.tooLarge}, rc}, nil
}

// readAll reads a whole part, at most limit bytes of it (it and the
// budget); a longer part is cut, which for the small parts read whole
// (relationships, workbook, manifest) only loses what nobody writes.
func (z *sheetZip) readAll(name string, limit int64) ([]byte, error) {
	rc, err := z.open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit))
	if err != nil {
		if _, ok := AsError(err); ok {
			return nil, err
		}
		return nil, &Error{Code: CodeUnsupportedType, Message: "the " + z.kind + " is damaged (its part " + truncateRunes(name, 80) + " cannot be read)", Err: err}
	}
	return b, nil
}
