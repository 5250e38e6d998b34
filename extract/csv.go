package extract

import (
	"context"
	"encoding/csv"
	"errors"
	"io"
	"strings"
)

// extractCSV reads delimited text (.csv, .tsv, .psv) as one sheet without
// a heading (see sheets.go): UTF-8 with or without a byte order mark,
// UTF-16 with one, else Latin-1 (decodeText); the delimiter sniffed from
// the first lines (sniffDelimiter), since the file's name does not reach
// the extractor; quotes read leniently (a stray quote is text) and rows
// of any length. Old Mac files with CR line ends are read as lines.
func extractCSV(ctx context.Context, data []byte, lim Limits) (Extracted, error) {
	text, err := decodeText(data)
	if err != nil {
		return Extracted{}, err
	}
	if !strings.Contains(text, "\n") {
		text = strings.ReplaceAll(text, "\r", "\n")
	}
	r := csv.NewReader(strings.NewReader(text))
	r.Comma = sniffDelimiter(text)
	r.LazyQuotes = true
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	b := newBuilder(lim.MaxTextBytes)
	w := newSheetWriter(b)
	var row sheetRow
	for n := 1; !w.full(); n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return Extracted{}, ctx.Err()
		}
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// With LazyQuotes and any field count, encoding/csv has no
			// syntax errors left to report; this is a safety net.
			return Extracted{}, &Error{Code: CodeUnsupportedType, Message: "the CSV file cannot be read", Err: err}
		}
		row.reset()
		for i, f := range rec {
			if err := row.add(i, 1, f, lim.MaxTextBytes); err != nil {
				return Extracted{}, err
			}
		}
		w.rows(row.cells, 1)
	}
	w.endSheet()
	return b.result()
}

// csvDelimiters are the delimiters sniffDelimiter chooses from, the
// default first.
var csvDelimiters = []rune{',', ';', '\t', '|'}

// sniffDelimiter chooses the delimiter of delimited text from its first
// 50 lines (at most 64 KiB): the one that splits the most lines into the
// same number of fields, more than one, counting outside quotes only (a
// ';' file whose numbers have decimal commas splits its lines evenly on
// ';' and unevenly on ','); ties go to more fields, then to the order of
// csvDelimiters. Text no candidate splits is one column, read with ','.
func sniffDelimiter(text string) rune {
	sample := text[:min(len(text), 64<<10)]
	counts := make([][]int, len(csvDelimiters)) // per delimiter, per line
	line := make([]int, len(csvDelimiters))
	quoted, lines, blank := false, 0, true
	endLine := func() {
		if !blank {
			for i := range csvDelimiters {
				counts[i] = append(counts[i], line[i])
			}
			lines++
		}
		clear(line)
		blank = true
	}
	for _, c := range sample {
		if lines >= 50 {
			break
		}
		switch {
		case c == '"':
			quoted = !quoted
			blank = false
		case quoted:
		case c == '\n':
			endLine()
		case c == '\r':
		default:
			for i, d := range csvDelimiters {
				if c == d {
					line[i]++
				}
			}
			if c != ' ' {
				blank = false
			}
		}
	}
	if lines < 50 {
		endLine()
	}
	best, bestLines, bestFields := csvDelimiters[0], 0, 0
	for i, d := range csvDelimiters {
		freq := map[int]int{}
		for _, n := range counts[i] {
			if n > 0 {
				freq[n]++
			}
		}
		mode, modeLines := 0, 0
		for n, k := range freq {
			if k > modeLines || (k == modeLines && n > mode) {
				mode, modeLines = n, k
			}
		}
		if modeLines > bestLines || (modeLines == bestLines && modeLines > 0 && mode > bestFields) {
			best, bestLines, bestFields = d, modeLines, mode
		}
	}
	return best
}
