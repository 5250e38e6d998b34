package extracttest

import (
	"archive/zip"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// Hostile PDFs: files built to hurt a parser, the shapes found in public
// PDF test suites and fuzzers. Each is small; what it asks of a reader is
// not.

// HugeXrefPDF is a valid one-page PDF whose cross-reference section
// declares 10^12 objects: a reader that sizes a table from the declared
// count asks for terabytes.
func HugeXrefPDF() []byte {
	doc := MakePDF([]string{PDFText(72, 720, 12, "Declared object count")})
	i := bytes.LastIndex(doc, []byte("xref\n0 "))
	j := i + bytes.IndexByte(doc[i+5:], '\n') + 5
	out := append([]byte{}, doc[:i]...)
	out = append(out, "xref\n0 1000000000000"...)
	return append(out, doc[j:]...)
}

// PrevLoopPDF is a PDF whose trailer's /Prev points back at its own
// cross-reference section, so following the chain of updates never ends.
func PrevLoopPDF() []byte {
	doc := MakePDF([]string{PDFText(72, 720, 12, "Prev loop")})
	xref := bytes.LastIndex(doc, []byte("xref\n"))
	return bytes.Replace(doc, []byte("/Root 1 0 R >>"), fmt.Appendf(nil, "/Root 1 0 R /Prev %d >>", xref), 1)
}

// XRefStmLoopPDF is a PDF (1.5) whose cross-reference stream names itself
// as the previous section (/Prev), the loop shape found in the wild.
func XRefStmLoopPDF() []byte {
	w := newPDFWriter("%PDF-1.5\n")
	w.obj("<< /Type /Catalog /Pages 2 0 R >>")
	w.obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
	w.obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>")
	content := PDFText(72, 720, 12, "XRefStm loop")
	w.obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content))
	xrefAt := w.b.Len()
	w.xrefStream(nil, fmt.Sprintf("/Prev %d", xrefAt))
	return w.b.Bytes()
}

// xrefStream ends the file with a cross-reference stream (the next
// object) that lists every object written so far, then those of
// compressed (object stream number, index in it), then itself; extra goes
// into its dictionary.
func (w *pdfWriter) xrefStream(compressed [][2]uint32, extra string) {
	num := len(w.offsets) + len(compressed) + 1
	at := w.b.Len()
	rows := make([]byte, 0, 9*(len(w.offsets)+len(compressed)+2))
	row := func(typ byte, a, b uint32) {
		rows = binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(append(rows, typ), a), b)
	}
	row(0, 0, 0)
	for _, off := range w.offsets {
		row(1, uint32(off), 0)
	}
	for _, c := range compressed {
		row(2, c[0], c[1])
	}
	row(1, uint32(at), 0)
	packed := zlibCompress(rows)
	fmt.Fprintf(&w.b, "%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 4] /Root 1 0 R %s /Filter /FlateDecode /Length %d >>\nstream\n", num, num+1, extra, len(packed))
	w.b.Write(packed)
	fmt.Fprintf(&w.b, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", at)
}

// SelfPagesPDF is a PDF whose page tree's /Kids holds the tree itself.
func SelfPagesPDF() []byte {
	w := newPDFWriter("%PDF-1.4\n")
	w.obj("<< /Type /Catalog /Pages 2 0 R >>")
	w.obj("<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>")
	content := PDFText(72, 720, 12, "Self-referencing page tree")
	w.obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>")
	w.obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content))
	return w.finish()
}

// NestedArraysPDF is a PDF whose catalog holds arrays nested depth deep;
// a recursive parser overflows its stack.
func NestedArraysPDF(depth int) []byte {
	return nestedPDF(strings.Repeat("[", depth) + strings.Repeat("]", depth))
}

// NestedDictsPDF is a PDF whose catalog holds dictionaries nested depth
// deep.
func NestedDictsPDF(depth int) []byte {
	return nestedPDF(strings.Repeat("<< /A ", depth) + "1" + strings.Repeat(" >>", depth))
}

func nestedPDF(value string) []byte {
	w := newPDFWriter("%PDF-1.4\n")
	w.obj("<< /Type /Catalog /Pages 2 0 R /Nested " + value + " >>")
	w.obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
	content := PDFText(72, 720, 12, "Deeply nested catalog")
	w.obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << >> /Contents 4 0 R >>")
	w.obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content))
	return w.finish()
}

// ObjectStreamPDF is a PDF (1.5) with an object stream of n objects, all
// of them referenced from the page tree's kids as pages, and a
// cross-reference stream; both streams are compressed, so the file is
// small and the reader's work large.
func ObjectStreamPDF(n int) []byte {
	w := newPDFWriter("%PDF-1.5\n")
	// 1 catalog, 2 pages, 3 the page, 4 its content, 5 the object stream,
	// 6.. the n objects inside it, then the xref stream.
	w.obj("<< /Type /Catalog /Pages 2 0 R >>")
	w.obj("<< /Type /Pages /Kids [3 0 R] /Count 1 /Extra 5 0 R >>")
	content := PDFText(72, 720, 12, "Object stream")
	w.obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /XObject << /X 6 0 R >> >> /Contents 4 0 R >>")
	w.obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content))
	var index, body []byte
	for i := range n {
		index = strconv.AppendInt(append(strconv.AppendInt(index, int64(6+i), 10), ' '), int64(len(body)), 10)
		index = append(index, ' ')
		body = append(body, "[1] "...)
	}
	payload := zlibCompress(append(index, body...))
	w.offsets = append(w.offsets, w.b.Len())
	fmt.Fprintf(&w.b, "5 0 obj\n<< /Type /ObjStm /N %d /First %d /Filter /FlateDecode /Length %d >>\nstream\n", n, len(index), len(payload))
	w.b.Write(payload)
	w.b.WriteString("\nendstream\nendobj\n")

	compressed := make([][2]uint32, n)
	for i := range compressed {
		compressed[i] = [2]uint32{5, uint32(i)}
	}
	w.xrefStream(compressed, "")
	return w.b.Bytes()
}

// LyingLengthPDF is a PDF whose content stream's /Length claims far more
// bytes than the file holds.
func LyingLengthPDF() []byte {
	content := PDFText(72, 720, 12, "The length lies")
	doc := MakePDF([]string{content})
	return bytes.Replace(doc, fmt.Appendf(nil, "<< /Length %d >>", len(content)), []byte("<< /Length 999999999 >>"), 1)
}

// ShortLengthPDF is a PDF whose content stream's /Length claims fewer
// bytes than the stream holds.
func ShortLengthPDF() []byte {
	content := PDFText(72, 720, 12, "The length is short")
	doc := MakePDF([]string{content})
	return bytes.Replace(doc, fmt.Appendf(nil, "<< /Length %d >>", len(content)), []byte("<< /Length 5 >>"), 1)
}

// zlibCompress wraps b as zlib data in stored blocks: valid FlateDecode
// data that costs nothing to make (the fixtures are large, and the race
// detector makes compressing them take many seconds).
func zlibCompress(b []byte) []byte {
	var out bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&out, zlib.NoCompression)
	zw.Write(b)
	zw.Close()
	return out.Bytes()
}

// ZipBombDOCX is a DOCX whose body inflates to size bytes (a multiple of
// 1 MiB) of one letter: about a kilobyte a gigabyte. It is cheap to make:
// deflateRepeated compresses the MiB once and repeats its bytes.
func ZipBombDOCX(size int) []byte {
	stream, crc, n := deflateRepeated([]repeated{{strings.Repeat("a", 1<<20), size >> 20}})
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.CreateRaw(&zip.FileHeader{Name: "word/document.xml", Method: zip.Deflate, CRC32: crc,
		CompressedSize64: uint64(len(stream)), UncompressedSize64: n})
	w.Write(stream)
	zw.Close()
	return buf.Bytes()
}
