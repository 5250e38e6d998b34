package extract

import "bytes"

// xrefLoop reports whether following data's cross-reference sections, as
// ledongthuc/pdf follows them (from the last startxref back through each
// section's /Prev), comes back to a section already read, or whether a
// section's /XRefStm names one of them. The library follows a /Prev
// chain until it ends, so a loop would keep it reading the same few bytes
// until the extraction's clock ran out. A chain it cannot follow (a
// dangling /Prev, an unreadable section) is not a loop: the library
// refuses those itself.
//
// Offsets are compared where their section starts (after white space and
// comments), so a /Prev that points a few spaces before a section already
// read is found at once too.
func xrefLoop(data []byte) bool {
	off, err := lastStartxref(data)
	if err != nil {
		return false
	}
	f := &pdfFile{data: data}
	seen := map[int]bool{}
	for range maxXrefSections {
		start, dict, ok := f.xrefSectionDict(off)
		if !ok {
			return false
		}
		if seen[start] {
			return true
		}
		seen[start] = true
		if xs, ok := pdfInt(dict["XRefStm"]); ok {
			if at, _, ok := f.xrefSectionDict(xs); ok && seen[at] {
				return true
			}
		}
		prev, ok := pdfInt(dict["Prev"])
		if !ok {
			return false
		}
		off = prev
	}
	// A chain this long without a loop ends; reading it is bounded work.
	return false
}

// xrefSectionDict finds the cross-reference section at off: where it
// starts, and its trailer (a table's) or its stream's dictionary.
func (f *pdfFile) xrefSectionDict(off int) (start int, dict pdfDict, ok bool) {
	if off < 0 || off >= len(f.data) {
		return 0, nil, false
	}
	l := &pdfLexer{data: f.data, pos: off}
	l.skipSpace()
	start = l.pos
	tok, err := l.token()
	if err != nil {
		return 0, nil, false
	}
	if tok == pdfKeyword("xref") {
		// The table holds only numbers and the letters f and n: its
		// trailer is the next "trailer".
		i := bytes.Index(f.data[l.pos:], []byte("trailer"))
		if i < 0 {
			return 0, nil, false
		}
		tl := &pdfLexer{data: f.data, pos: l.pos + i + len("trailer")}
		t, err := tl.object(0)
		d, isDict := t.(pdfDict)
		return start, d, err == nil && isDict
	}
	in, err := f.readObjectAt(start)
	if err != nil || in.dict == nil {
		return 0, nil, false
	}
	return start, in.dict, true
}

// xrefLoopError is the failure of a PDF whose cross-reference sections
// form a loop (see xrefLoop).
func xrefLoopError() *Error {
	return fail(CodePDFMalformed, "the PDF's cross-reference sections form a loop (an update's /Prev leads back to a section already read), so its objects cannot be found; the file is damaged: save or print it to PDF again")
}
