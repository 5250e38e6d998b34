package extract

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strconv"
)

// This file reads just enough PDF syntax to rewrite an encrypted file
// without its encryption (pdfcrypt.go): tokens, objects, the
// cross-reference sections and the streams they point at. It keeps what
// it does not need to understand as it found it (numbers and keywords by
// their text), so that writing an object back changes only its strings.

// PDF objects as this file reads them.
type (
	pdfKeyword string // true, false, null, and anything unexpected
	pdfName    string // decoded, without the slash
	pdfNum     string // the number's text, written back unchanged
	pdfString  string // the string's bytes, escapes resolved
	pdfRef     struct{ num, gen int }
	pdfArray   []any
	pdfDict    map[pdfName]any
)

// int reads an integer token.
func (n pdfNum) int() (int, bool) {
	v, err := strconv.Atoi(string(n))
	return v, err == nil
}

// pdfInt is o as an integer, if it is one.
func pdfInt(o any) (int, bool) {
	if n, ok := o.(pdfNum); ok {
		return n.int()
	}
	return 0, false
}

// errPDFSyntax: the file is not the PDF it claims to be where the
// rewriter looked.
var errPDFSyntax = errors.New("pdf syntax")

func syntaxErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errPDFSyntax, fmt.Sprintf(format, args...))
}

// maxPDFDepth bounds the nesting of arrays and dictionaries.
const maxPDFDepth = 200

// pdfLexer reads tokens from data starting at pos.
type pdfLexer struct {
	data []byte
	pos  int
}

func isPDFSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0
}

func isPDFDelim(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

// skipSpace skips white space and comments.
func (l *pdfLexer) skipSpace() {
	for l.pos < len(l.data) {
		c := l.data[l.pos]
		switch {
		case isPDFSpace(c):
			l.pos++
		case c == '%':
			for l.pos < len(l.data) && l.data[l.pos] != '\n' && l.data[l.pos] != '\r' {
				l.pos++
			}
		default:
			return
		}
	}
}

// token reads one token: a pdfKeyword for delimiters ("[", "<<", ...) and
// bare words, pdfNum, pdfName or pdfString. It returns io.EOF at the end.
func (l *pdfLexer) token() (any, error) {
	l.skipSpace()
	if l.pos >= len(l.data) {
		return nil, io.EOF
	}
	c := l.data[l.pos]
	switch c {
	case '[', ']', '{', '}':
		l.pos++
		return pdfKeyword(c), nil
	case '<':
		if l.pos+1 < len(l.data) && l.data[l.pos+1] == '<' {
			l.pos += 2
			return pdfKeyword("<<"), nil
		}
		return l.hexString()
	case '>':
		if l.pos+1 < len(l.data) && l.data[l.pos+1] == '>' {
			l.pos += 2
			return pdfKeyword(">>"), nil
		}
		l.pos++
		return nil, syntaxErr("stray > at %d", l.pos-1)
	case '(':
		return l.literalString()
	case ')':
		l.pos++
		return nil, syntaxErr("stray ) at %d", l.pos-1)
	case '/':
		l.pos++
		return l.name(), nil
	}
	start := l.pos
	for l.pos < len(l.data) && !isPDFSpace(l.data[l.pos]) && !isPDFDelim(l.data[l.pos]) {
		l.pos++
	}
	word := string(l.data[start:l.pos])
	if isPDFNumber(word) {
		return pdfNum(word), nil
	}
	return pdfKeyword(word), nil
}

func isPDFNumber(s string) bool {
	digits := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case (c == '+' || c == '-') && i == 0, c == '.':
		default:
			return false
		}
	}
	return digits > 0
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// name reads a name after its slash, resolving #xx escapes.
func (l *pdfLexer) name() pdfName {
	var b []byte
	for l.pos < len(l.data) && !isPDFSpace(l.data[l.pos]) && !isPDFDelim(l.data[l.pos]) {
		c := l.data[l.pos]
		if c == '#' && l.pos+2 < len(l.data) {
			hi, ok1 := unhex(l.data[l.pos+1])
			lo, ok2 := unhex(l.data[l.pos+2])
			if ok1 && ok2 {
				b = append(b, hi<<4|lo)
				l.pos += 3
				continue
			}
		}
		b = append(b, c)
		l.pos++
	}
	return pdfName(b)
}

func (l *pdfLexer) hexString() (any, error) {
	l.pos++ // <
	var b []byte
	var hi byte
	half := false
	for l.pos < len(l.data) {
		c := l.data[l.pos]
		l.pos++
		if c == '>' {
			if half {
				b = append(b, hi<<4)
			}
			return pdfString(b), nil
		}
		if isPDFSpace(c) {
			continue
		}
		v, ok := unhex(c)
		if !ok {
			return nil, syntaxErr("bad hex string at %d", l.pos-1)
		}
		if half {
			b = append(b, hi<<4|v)
		} else {
			hi = v
		}
		half = !half
	}
	return nil, syntaxErr("unterminated hex string")
}

func (l *pdfLexer) literalString() (any, error) {
	l.pos++ // (
	var b []byte
	depth := 1
	for l.pos < len(l.data) {
		c := l.data[l.pos]
		l.pos++
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return pdfString(b), nil
			}
		case '\r':
			// An end of line in a string is a line feed, whatever it was.
			if l.pos < len(l.data) && l.data[l.pos] == '\n' {
				l.pos++
			}
			c = '\n'
		case '\\':
			if l.pos >= len(l.data) {
				return nil, syntaxErr("unterminated string")
			}
			e := l.data[l.pos]
			l.pos++
			switch e {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case '\r':
				if l.pos < len(l.data) && l.data[l.pos] == '\n' {
					l.pos++
				}
				continue // a line continuation
			case '\n':
				continue
			default:
				if e >= '0' && e <= '7' {
					v := e - '0'
					for k := 0; k < 2 && l.pos < len(l.data) && l.data[l.pos] >= '0' && l.data[l.pos] <= '7'; k++ {
						v = v<<3 | (l.data[l.pos] - '0')
						l.pos++
					}
					c = v
				} else {
					c = e // \( \) \\ and unknown escapes: the character itself
				}
			}
		}
		b = append(b, c)
	}
	return nil, syntaxErr("unterminated string")
}

// object reads one object; "N G R" is a reference.
func (l *pdfLexer) object(depth int) (any, error) {
	if depth > maxPDFDepth {
		return nil, syntaxErr("objects nested more than %d deep", maxPDFDepth)
	}
	tok, err := l.token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case pdfKeyword:
		switch t {
		case "[":
			var arr pdfArray
			for {
				l.skipSpace()
				if l.pos < len(l.data) && l.data[l.pos] == ']' {
					l.pos++
					return arr, nil
				}
				o, err := l.object(depth + 1)
				if err != nil {
					return nil, err
				}
				arr = append(arr, o)
			}
		case "<<":
			d := pdfDict{}
			for {
				k, err := l.token()
				if err != nil {
					return nil, err
				}
				if k == pdfKeyword(">>") {
					return d, nil
				}
				key, ok := k.(pdfName)
				if !ok {
					return nil, syntaxErr("dictionary key %v is not a name", k)
				}
				v, err := l.object(depth + 1)
				if err != nil {
					return nil, err
				}
				d[key] = v
			}
		case "]", ">>", "}":
			return nil, syntaxErr("unexpected %s at %d", t, l.pos)
		}
		return t, nil
	case pdfNum:
		num, ok := t.int()
		if !ok || num < 0 {
			return t, nil
		}
		save := l.pos
		if g, err := l.token(); err == nil {
			if gen, ok := pdfInt(g); ok && gen >= 0 {
				if r, err := l.token(); err == nil && r == pdfKeyword("R") {
					return pdfRef{num, gen}, nil
				}
			}
		}
		l.pos = save
		return t, nil
	}
	return tok, nil
}

// xrefEntry says where an object is: in the file at off (kind 1, with its
// generation), or the index'th object of object stream num (kind 2).
type xrefEntry struct {
	kind  byte
	off   int
	gen   int
	strm  int
	index int
}

// pdfFile is a PDF read as far as the rewriter needs.
type pdfFile struct {
	data    []byte
	xref    map[int]xrefEntry
	trailer pdfDict // the newest trailer
}

// maxXrefSections bounds a chain of /Prev links (incremental updates).
const maxXrefSections = 1000

// maxPDFObjects bounds object numbers: entries past it are ignored, so
// that a cross-reference section cannot make the rewriter's tables huge.
// (A PDF with millions of objects is far over any upload limit.)
const maxPDFObjects = 4 << 20

// parsePDFFile reads the cross-reference sections from the last
// startxref back through /Prev and /XRefStm, newest entries first. When
// they cannot be read (a wrong startxref, a damaged table), the objects
// are found by scanning the file instead.
func parsePDFFile(data []byte) (*pdfFile, error) {
	f, err := readXrefChain(data)
	if err == nil && f.trailer != nil {
		return f, nil
	}
	if g, rerr := scanPDFObjects(data); rerr == nil {
		return g, nil
	}
	return nil, err
}

// objHeader matches "num gen obj".
var objHeader = regexp.MustCompile(`(\d+)[ \t\r\n\f\x00]+(\d+)[ \t\r\n\f\x00]+obj\b`)

// scanPDFObjects rebuilds the cross-reference table from the objects'
// headers (a later one with the same number wins, as in an incremental
// update) and takes the trailer from the last "trailer" keyword, or else
// from the last cross-reference stream, whose entries for objects in
// object streams are kept too.
func scanPDFObjects(data []byte) (*pdfFile, error) {
	f := &pdfFile{data: data, xref: map[int]xrefEntry{}}
	var xrefStreams []int
	for _, m := range objHeader.FindAllSubmatchIndex(data, -1) {
		num, err1 := strconv.Atoi(string(data[m[2]:m[3]]))
		gen, err2 := strconv.Atoi(string(data[m[4]:m[5]]))
		if err1 != nil || err2 != nil || num <= 0 || num >= maxPDFObjects {
			continue
		}
		f.xref[num] = xrefEntry{kind: 1, off: m[0], gen: gen}
		if bytes.Contains(data[m[1]:min(len(data), m[1]+200)], []byte("/XRef")) {
			xrefStreams = append(xrefStreams, m[0])
		}
	}
	if i := bytes.LastIndex(data, []byte("trailer")); i >= 0 {
		l := &pdfLexer{data: data, pos: i + len("trailer")}
		if t, err := l.object(0); err == nil {
			f.trailer, _ = t.(pdfDict)
		}
	}
	for i := len(xrefStreams) - 1; i >= 0; i-- {
		in, err := f.readObjectAt(xrefStreams[i])
		if err != nil || in.dict["Type"] != pdfName("XRef") {
			continue
		}
		if f.trailer == nil {
			f.trailer = in.dict
		}
		g := &pdfFile{data: data, xref: map[int]xrefEntry{}}
		if _, err := g.readXrefStream(xrefStreams[i]); err == nil {
			for num, e := range g.xref {
				if _, known := f.xref[num]; !known && e.kind == 2 {
					f.xref[num] = e
				}
			}
		}
	}
	if f.trailer == nil || len(f.xref) == 0 {
		return nil, syntaxErr("no trailer or objects found by scanning")
	}
	return f, nil
}

// readXrefChain follows startxref and the /Prev chain.
func readXrefChain(data []byte) (*pdfFile, error) {
	f := &pdfFile{data: data, xref: map[int]xrefEntry{}}
	off, err := lastStartxref(data)
	if err != nil {
		return nil, err
	}
	seen := map[int]bool{}
	for n := 0; ; n++ {
		if n >= maxXrefSections || seen[off] || off < 0 || off >= len(data) {
			if n == 0 {
				return nil, syntaxErr("startxref %d points nowhere", off)
			}
			break // a /Prev loop or a dangling /Prev: what was read stands
		}
		seen[off] = true
		trailer, err := f.readXrefSection(off, seen)
		if err != nil {
			if n == 0 {
				return nil, err
			}
			break
		}
		if f.trailer == nil {
			f.trailer = trailer
		}
		if len(f.xref) > maxPDFObjects {
			return nil, syntaxErr("more than %d objects", maxPDFObjects)
		}
		prev, ok := pdfInt(trailer["Prev"])
		if !ok {
			break
		}
		off = prev
	}
	if len(f.xref) == 0 {
		return nil, syntaxErr("the cross-reference sections list no objects")
	}
	return f, nil
}

// lastStartxref is the offset the file's last startxref names.
func lastStartxref(data []byte) (int, error) {
	tail := data[max(0, len(data)-1024):]
	i := bytes.LastIndex(tail, []byte("startxref"))
	if i < 0 {
		return 0, syntaxErr("no startxref")
	}
	l := &pdfLexer{data: tail, pos: i + len("startxref")}
	tok, _ := l.token()
	off, ok := pdfInt(tok)
	if !ok {
		return 0, syntaxErr("startxref is not followed by an offset")
	}
	return off, nil
}

// readXrefSection reads the table or stream at off into f.xref (entries
// already known are newer and stay) and returns its trailer dictionary.
func (f *pdfFile) readXrefSection(off int, seen map[int]bool) (pdfDict, error) {
	l := &pdfLexer{data: f.data, pos: off}
	tok, err := l.token()
	if err != nil {
		return nil, syntaxErr("no cross-reference section at %d", off)
	}
	if tok != pdfKeyword("xref") {
		return f.readXrefStream(off)
	}
	type row struct {
		num int
		e   xrefEntry
	}
	var rows []row
	for {
		tok, err := l.token()
		if err != nil {
			return nil, syntaxErr("cross-reference table at %d has no trailer", off)
		}
		if tok == pdfKeyword("trailer") {
			break
		}
		start, ok1 := pdfInt(tok)
		t, _ := l.token()
		count, ok2 := pdfInt(t)
		if !ok1 || !ok2 || start < 0 || count < 0 || count > len(f.data)/18 {
			return nil, syntaxErr("bad cross-reference subsection at %d", l.pos)
		}
		for k := range count {
			t1, _ := l.token()
			t2, _ := l.token()
			t3, _ := l.token()
			o, ok1 := pdfInt(t1)
			g, ok2 := pdfInt(t2)
			if !ok1 || !ok2 || (t3 != pdfKeyword("n") && t3 != pdfKeyword("f")) {
				return nil, syntaxErr("bad cross-reference entry at %d", l.pos)
			}
			e := xrefEntry{}
			if t3 == pdfKeyword("n") {
				e = xrefEntry{kind: 1, off: o, gen: g}
			}
			rows = append(rows, row{start + k, e})
		}
	}
	t, err := l.object(0)
	if err != nil {
		return nil, err
	}
	trailer, ok := t.(pdfDict)
	if !ok {
		return nil, syntaxErr("trailer is not a dictionary")
	}
	// A hybrid file's table leaves its compressed objects free and lists
	// them in the stream at /XRefStm, which is read before the table.
	if xs, ok := pdfInt(trailer["XRefStm"]); ok && !seen[xs] {
		seen[xs] = true
		_, _ = f.readXrefStream(xs)
	}
	for _, r := range rows {
		if _, known := f.xref[r.num]; !known && r.num < maxPDFObjects {
			f.xref[r.num] = r.e
		}
	}
	return trailer, nil
}

// readXrefStream reads the cross-reference stream object at off.
func (f *pdfFile) readXrefStream(off int) (pdfDict, error) {
	obj, err := f.readObjectAt(off)
	if err != nil {
		return nil, err
	}
	if obj.dict["Type"] != pdfName("XRef") || obj.data == nil {
		return nil, syntaxErr("no cross-reference table or stream at %d", off)
	}
	raw, err := decodeStream(obj.dict, obj.data, 64<<20)
	if err != nil {
		return nil, err
	}
	var w [3]int
	wa, _ := obj.dict["W"].(pdfArray)
	if len(wa) != 3 {
		return nil, syntaxErr("xref stream /W is not three widths")
	}
	rowLen := 0
	for i, x := range wa {
		n, ok := pdfInt(x)
		if !ok || n < 0 || n > 8 {
			return nil, syntaxErr("xref stream /W %v", wa)
		}
		w[i] = n
		rowLen += n
	}
	if rowLen == 0 {
		return nil, syntaxErr("xref stream rows are empty")
	}
	index, _ := obj.dict["Index"].(pdfArray)
	if index == nil {
		size, _ := pdfInt(obj.dict["Size"])
		index = pdfArray{pdfNum("0"), pdfNum(strconv.Itoa(size))}
	}
	field := func(b []byte, def int) int {
		if len(b) == 0 {
			return def
		}
		v := 0
		for _, c := range b {
			v = v<<8 | int(c)
		}
		return v
	}
	for len(index) >= 2 {
		start, ok1 := pdfInt(index[0])
		count, ok2 := pdfInt(index[1])
		index = index[2:]
		if !ok1 || !ok2 || start < 0 || count < 0 {
			return nil, syntaxErr("xref stream /Index")
		}
		for k := 0; k < count && len(raw) >= rowLen; k++ {
			row := raw[:rowLen]
			raw = raw[rowLen:]
			typ := field(row[:w[0]], 1)
			a := field(row[w[0]:w[0]+w[1]], 0)
			b := field(row[w[0]+w[1]:], 0)
			num := start + k
			if _, known := f.xref[num]; known || num >= maxPDFObjects {
				continue
			}
			switch typ {
			case 0:
				f.xref[num] = xrefEntry{}
			case 1:
				f.xref[num] = xrefEntry{kind: 1, off: a, gen: b}
			case 2:
				f.xref[num] = xrefEntry{kind: 2, strm: a, index: b}
			}
		}
	}
	return obj.dict, nil
}

// indirect is an object read from the file: "num gen obj ... endobj",
// and for a stream its dictionary and raw (still encrypted) data.
type indirect struct {
	num, gen int
	obj      any
	dict     pdfDict // obj's dictionary when it is a stream
	data     []byte  // the stream's bytes; nil when not a stream
}

// readObjectAt reads the indirect object at off.
func (f *pdfFile) readObjectAt(off int) (indirect, error) {
	if off < 0 || off >= len(f.data) {
		return indirect{}, syntaxErr("object offset %d outside the file", off)
	}
	l := &pdfLexer{data: f.data, pos: off}
	t1, _ := l.token()
	t2, _ := l.token()
	t3, _ := l.token()
	num, ok1 := pdfInt(t1)
	gen, ok2 := pdfInt(t2)
	if !ok1 || !ok2 || t3 != pdfKeyword("obj") {
		return indirect{}, syntaxErr("no object at %d", off)
	}
	obj, err := l.object(0)
	if err != nil {
		return indirect{}, err
	}
	in := indirect{num: num, gen: gen, obj: obj}
	d, isDict := obj.(pdfDict)
	save := l.pos
	if tok, _ := l.token(); !isDict || tok != pdfKeyword("stream") {
		l.pos = save
		return in, nil
	}
	// The data starts after the end of line that follows "stream".
	start := l.pos
	if start < len(f.data) && f.data[start] == '\r' {
		start++
	}
	if start < len(f.data) && f.data[start] == '\n' {
		start++
	}
	in.dict, in.data = d, f.streamData(d, start)
	return in, nil
}

// streamData is the stream starting at start: /Length bytes when
// "endstream" follows them, else up to the next "endstream".
func (f *pdfFile) streamData(d pdfDict, start int) []byte {
	n, ok := pdfInt(d["Length"])
	if ref, isRef := d["Length"].(pdfRef); isRef {
		n, ok = f.lengthObject(ref)
	}
	if ok && n >= 0 && start+n <= len(f.data) {
		rest := f.data[start+n:]
		rest = bytes.TrimLeft(rest[:min(len(rest), 64)], " \t\r\n\f\x00")
		if bytes.HasPrefix(rest, []byte("endstream")) {
			return f.data[start : start+n]
		}
	}
	end := bytes.Index(f.data[start:], []byte("endstream"))
	if end < 0 {
		return f.data[start:]
	}
	data := f.data[start : start+end]
	if bytes.HasSuffix(data, []byte("\r\n")) {
		return data[:len(data)-2]
	}
	return bytes.TrimSuffix(bytes.TrimSuffix(data, []byte("\n")), []byte("\r"))
}

// lengthObject resolves an indirect /Length (an integer object in the file).
func (f *pdfFile) lengthObject(ref pdfRef) (int, bool) {
	e, ok := f.xref[ref.num]
	if !ok || e.kind != 1 {
		return 0, false
	}
	l := &pdfLexer{data: f.data, pos: e.off}
	for _, want := range []any{pdfNum(strconv.Itoa(ref.num)), nil, pdfKeyword("obj")} {
		tok, err := l.token()
		if err != nil || (want != nil && tok != want) {
			return 0, false
		}
	}
	tok, _ := l.token()
	return pdfInt(tok)
}

// decodeStream undoes a cross-reference stream's filters: none, or
// FlateDecode with an optional PNG predictor. At most limit bytes.
func decodeStream(d pdfDict, data []byte, limit int64) ([]byte, error) {
	filter := d["Filter"]
	if a, ok := filter.(pdfArray); ok && len(a) == 1 {
		filter = a[0]
	}
	parms, _ := d["DecodeParms"].(pdfDict)
	if a, ok := d["DecodeParms"].(pdfArray); ok && len(a) == 1 {
		parms, _ = a[0].(pdfDict)
	}
	switch filter {
	case nil:
		return data, nil
	case pdfName("FlateDecode"):
	default:
		return nil, syntaxErr("xref stream filter %v", filter)
	}
	zr, err := zlib.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, syntaxErr("xref stream: %v", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, limit+1))
	if int64(len(out)) > limit {
		return nil, syntaxErr("xref stream inflates past %d bytes", limit)
	}
	if err != nil && len(out) == 0 {
		return nil, syntaxErr("xref stream: %v", err)
	}
	pred, _ := pdfInt(parms["Predictor"])
	if pred < 10 {
		return out, nil
	}
	cols, ok := pdfInt(parms["Columns"])
	if !ok {
		cols = 1
	}
	if cols <= 0 || cols > 1<<16 {
		return nil, syntaxErr("xref stream predictor columns %d", cols)
	}
	return unpredictPNG(out, cols), nil
}

// unpredictPNG reverses PNG row filters for one byte per pixel (what
// cross-reference streams use).
func unpredictPNG(in []byte, cols int) []byte {
	prev := make([]byte, cols)
	var out []byte
	for len(in) >= cols+1 {
		ft, row := in[0], bytes.Clone(in[1:cols+1])
		in = in[cols+1:]
		for i := range row {
			var left, upLeft byte
			if i > 0 {
				left, upLeft = row[i-1], prev[i-1]
			}
			up := prev[i]
			switch ft {
			case 1:
				row[i] += left
			case 2:
				row[i] += up
			case 3:
				row[i] += byte((int(left) + int(up)) / 2)
			case 4:
				row[i] += paeth(left, up, upLeft)
			}
		}
		out = append(out, row...)
		prev = row
	}
	return out
}

func paeth(a, b, c byte) byte {
	p := int(a) + int(b) - int(c)
	pa, pb, pc := abs(p-int(a)), abs(p-int(b)), abs(p-int(c))
	switch {
	case pa <= pb && pa <= pc:
		return a
	case pb <= pc:
		return b
	}
	return c
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// writePDFObject writes o in PDF syntax, passing every string through str.
func writePDFObject(buf *bytes.Buffer, o any, str func(pdfString) pdfString) {
	switch v := o.(type) {
	case pdfNum:
		buf.WriteString(string(v))
	case pdfKeyword:
		buf.WriteString(string(v))
	case pdfName:
		writePDFName(buf, v)
	case pdfString:
		if str != nil {
			v = str(v)
		}
		buf.WriteByte('<')
		const digits = "0123456789abcdef"
		for i := 0; i < len(v); i++ {
			buf.WriteByte(digits[v[i]>>4])
			buf.WriteByte(digits[v[i]&15])
		}
		buf.WriteByte('>')
	case pdfRef:
		fmt.Fprintf(buf, "%d %d R", v.num, v.gen)
	case pdfArray:
		buf.WriteByte('[')
		for i, x := range v {
			if i > 0 {
				buf.WriteByte(' ')
			}
			writePDFObject(buf, x, str)
		}
		buf.WriteByte(']')
	case pdfDict:
		buf.WriteString("<<")
		for _, k := range sortedKeys(v) {
			writePDFName(buf, k)
			buf.WriteByte(' ')
			writePDFObject(buf, v[k], str)
			buf.WriteByte('\n')
		}
		buf.WriteString(">>")
	default:
		buf.WriteString("null")
	}
}

func writePDFName(buf *bytes.Buffer, n pdfName) {
	buf.WriteByte('/')
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c < 0x21 || c > 0x7e || c == '#' || isPDFDelim(c) {
			fmt.Fprintf(buf, "#%02x", c)
			continue
		}
		buf.WriteByte(c)
	}
}

func sortedKeys(d pdfDict) []pdfName { return slices.Sorted(maps.Keys(d)) }
