package extract

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
)

// This file inflates a PDF's object streams once, ahead of reading it.
// ledongthuc/pdf keeps no object cache: every time it resolves an object
// stored in a compressed object stream (fonts, their widths, page
// dictionaries, the page tree of most PDFs written since 2005) it inflates
// the whole stream again and parses it up to the object. That was a third
// of the extraction time on real manuals. Rather than change the library,
// the file is given to it with an incremental update appended: a copy of
// each object stream, uncompressed, and a cross-reference stream that
// points the streams' numbers at the copies and links to the file's own
// cross-reference sections with /Prev. The library then reads exactly the
// bytes it read before, from memory instead of through zlib; every other
// object is where it was. The update is kept apart from the file's bytes
// (appendedFile), so the file is not copied.

// maxObjectsPerPage, with 100,000 more, bounds the objects a file may
// declare for its object streams to be inflated.
const maxObjectsPerPage = 1000

// maxInflatedObjStm bounds the bytes of object streams inflated ahead for
// one document; streams beyond it stay compressed (slower, not wrong).
const maxInflatedObjStm = 64 << 20

// inflateObjectStreams returns the update that appends the object streams
// of data, a PDF of pages pages, uncompressed; or nil when there is
// nothing to gain or the file's structure is not the plain kind this is
// sure to get right: the newest cross-reference section must be a stream
// (as in every file with object streams that the library reads), and only
// streams whose /Length is exact and whose only filter is FlateDecode
// without parameters, inflating without error, are copied. A file that
// declares far more objects than its pages could use (real manuals have
// up to about 25 a page; a hostile one a million for one page) is left
// as it is: reading its cross-reference table again would cost more
// memory and time than inflating could save.
func inflateObjectStreams(data []byte, pages int) []byte {
	if !bytes.Contains(data, []byte("/ObjStm")) {
		return nil
	}
	startxref, err := lastStartxref(data)
	if err != nil {
		return nil
	}
	newest, err := (&pdfFile{data: data}).readObjectAt(startxref)
	if err != nil || newest.dict["Type"] != pdfName("XRef") {
		return nil
	}
	if size, ok := pdfInt(newest.dict["Size"]); !ok || size > maxObjectsPerPage*pages+100_000 {
		return nil
	}
	f, err := readXrefChain(data)
	if err != nil || f.trailer["Type"] != pdfName("XRef") || f.trailer["Encrypt"] != nil {
		return nil
	}
	size, ok := pdfInt(f.trailer["Size"])
	if !ok || size <= 0 || size >= maxPDFObjects {
		return nil
	}
	streams := map[int]bool{}
	for _, e := range f.xref {
		if e.kind == 2 {
			streams[e.strm] = true
		}
	}
	type copied struct{ num, gen, off int }
	var done []copied
	// Offsets in the update count from the start of data.
	out := bytes.NewBuffer(make([]byte, 0, 1<<20))
	out.WriteByte('\n')
	at := func() int { return len(data) + out.Len() }
	budget := maxInflatedObjStm
	for _, num := range slices.Sorted(maps.Keys(streams)) {
		raw, in, ok := inflateObjStm(f, num, budget)
		if !ok {
			continue
		}
		budget -= len(raw)
		d := pdfDict{}
		for k, v := range in.dict {
			if k != "Filter" && k != "DecodeParms" {
				d[k] = v
			}
		}
		d["Length"] = pdfNum(strconv.Itoa(len(raw)))
		done = append(done, copied{num, in.gen, at()})
		fmt.Fprintf(out, "%d %d obj\n", num, in.gen)
		writePDFObject(out, d, nil)
		out.WriteString("\nstream\n")
		out.Write(raw)
		out.WriteString("\nendstream\nendobj\n")
	}
	if len(done) == 0 {
		return nil
	}

	// The cross-reference stream: one row per copied stream (type 1, its
	// offset, its generation), the trailer entries the library reads, and
	// /Prev to the file's own sections, which it reads after this one
	// (the first entry it reads for an object number wins).
	xrefOff := at()
	var index pdfArray
	rows := make([]byte, 0, len(done)*11)
	for _, c := range done {
		index = append(index, pdfNum(strconv.Itoa(c.num)), pdfNum("1"))
		rows = append(rows, 1)
		for sh := 56; sh >= 0; sh -= 8 {
			rows = append(rows, byte(c.off>>sh))
		}
		rows = append(rows, byte(c.gen>>8), byte(c.gen))
	}
	x := pdfDict{
		"Type":   pdfName("XRef"),
		"Size":   pdfNum(strconv.Itoa(size + 1)),
		"Index":  index,
		"W":      pdfArray{pdfNum("1"), pdfNum("8"), pdfNum("2")},
		"Prev":   pdfNum(strconv.Itoa(startxref)),
		"Length": pdfNum(strconv.Itoa(len(rows))),
	}
	for _, k := range []pdfName{"Root", "Info", "ID"} {
		if v, ok := f.trailer[k]; ok {
			x[k] = v
		}
	}
	fmt.Fprintf(out, "%d 0 obj\n", size)
	writePDFObject(out, x, nil)
	out.WriteString("\nstream\n")
	out.Write(rows)
	out.WriteString("\nendstream\nendobj\n")
	fmt.Fprintf(out, "startxref\n%d\n%%%%EOF\n", xrefOff)
	return out.Bytes()
}

// inflateObjStm reads object stream num and inflates it, when it is of
// the plain kind (see inflateObjectStreams) and fits in budget bytes.
func inflateObjStm(f *pdfFile, num, budget int) ([]byte, indirect, bool) {
	e, ok := f.xref[num]
	if !ok || e.kind != 1 {
		return nil, indirect{}, false
	}
	in, err := f.readObjectAt(e.off)
	if err != nil || in.num != num || in.gen > 0xffff || in.data == nil || in.dict["Type"] != pdfName("ObjStm") {
		return nil, indirect{}, false
	}
	// The library reads /Length bytes from just after "stream" and its
	// end of line; take the stream only when that is what was read here.
	n, ok := pdfInt(in.dict["Length"])
	if !ok || n != len(in.data) {
		return nil, indirect{}, false
	}
	start := cap(f.data) - cap(in.data) // in.data is a slice of f.data
	if start < 7 || (f.data[start-1] != '\n' && f.data[start-1] != '\r') {
		return nil, indirect{}, false
	}
	filter := in.dict["Filter"]
	if a, ok := filter.(pdfArray); ok && len(a) == 1 {
		filter = a[0]
	}
	if filter != pdfName("FlateDecode") || in.dict["DecodeParms"] != nil {
		return nil, indirect{}, false
	}
	zr, err := zlib.NewReader(bytes.NewReader(in.data))
	if err != nil {
		return nil, indirect{}, false
	}
	raw, err := io.ReadAll(io.LimitReader(zr, int64(budget)+1))
	if err != nil || len(raw) > budget {
		return nil, indirect{}, false
	}
	return raw, in, true
}

// appendedFile reads as the bytes of file followed by those of update.
// Like a bytes.Reader, it serves concurrent ReadAt calls.
type appendedFile struct{ file, update []byte }

func (a appendedFile) size() int64 { return int64(len(a.file) + len(a.update)) }

func (a appendedFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("appendedFile.ReadAt: negative offset")
	}
	n := 0
	if off < int64(len(a.file)) {
		n = copy(p, a.file[off:])
	}
	if rest := off + int64(n) - int64(len(a.file)); n < len(p) && rest < int64(len(a.update)) {
		n += copy(p[n:], a.update[rest:])
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
