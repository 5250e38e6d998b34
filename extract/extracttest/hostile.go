package extracttest

import (
	"archive/zip"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/adler32"
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
	xref := bytes.LastIndex(doc, []byte("\nxref\n")) + 1 // not startxref's
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

// PrevMutualLoopPDF is a PDF with an incremental update whose
// cross-reference table's /Prev names the original's, which names the
// update's in turn: a loop of two sections.
func PrevMutualLoopPDF() []byte {
	doc := MakePDF([]string{PDFText(72, 720, 12, "Mutual Prev loop")})
	// A fixed-width /Prev in the original trailer, filled in once the
	// update's offset is known.
	doc = bytes.Replace(doc, []byte("/Root 1 0 R >>"), []byte("/Root 1 0 R /Prev 0000000000 >>"), 1)
	first := bytes.LastIndex(doc, []byte("\nxref\n")) + 1
	size := bytes.Count(doc, []byte(" 0 obj\n")) + 1
	second := len(doc)
	doc = fmt.Appendf(doc, "xref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size %d /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n", size, first, second)
	return bytes.Replace(doc, []byte("/Prev 0000000000"), fmt.Appendf(nil, "/Prev %010d", second), 1)
}

// KidsLoopPDF is a PDF whose page tree's root has itself as its only kid.
func KidsLoopPDF() []byte {
	w := newPDFWriter("%PDF-1.4\n")
	w.obj("<< /Type /Catalog /Pages 2 0 R >>")
	w.obj("<< /Type /Pages /Kids [2 0 R] /Count 1 >>")
	content := PDFText(72, 720, 12, "Kids self-loop")
	w.obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>")
	w.obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content))
	return w.finish()
}

// MutualKidsPDF is a PDF whose page tree's root has one kid, a /Pages
// node, whose one kid is the root: a loop of two nodes.
func MutualKidsPDF() []byte {
	w := newPDFWriter("%PDF-1.4\n")
	w.obj("<< /Type /Catalog /Pages 2 0 R >>")
	w.obj("<< /Type /Pages /Kids [5 0 R] /Count 1 >>")
	content := PDFText(72, 720, 12, "Mutual kids loop")
	w.obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>")
	w.obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content))
	w.obj("<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1 >>")
	return w.finish()
}

// DrawingPDF is an honest one-page PDF that is slow to read: a line of
// text, then a drawing of segments line segments (a dense plot or map),
// in a compressed content stream, so the file is small (about 2 KB a
// million segments) and interpreting it is not. Each million segments
// cost the reader about a second of processor time, more under the race
// detector.
func DrawingPDF(segments int) []byte {
	text := PDFText(72, 720, 12, "A dense drawing")
	const seg = "10 10 m 20 20 l S\n"
	stream, size := zlibRepeated([]repeated{{text + "\n", 1}, {seg, segments}})
	w := newPDFWriter("%PDF-1.4\n")
	w.obj("<< /Type /Catalog /Pages 2 0 R >>")
	w.obj("<< /Type /Pages /Kids [4 0 R] /Count 1 >>")
	w.obj("<< /Type /Font /Subtype /Type1 /BaseFont /Courier >>")
	w.obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>")
	w.offsets = append(w.offsets, w.b.Len())
	fmt.Fprintf(&w.b, "5 0 obj\n<< /Filter /FlateDecode /Length %d /DL %d >>\nstream\n", len(stream), size)
	w.b.Write(stream)
	w.b.WriteString("\nendstream\nendobj\n")
	return w.finish()
}

// zlibRepeated is parts as zlib data (deflateRepeated's stream in zlib's
// header and Adler-32 trailer), and its inflated size.
func zlibRepeated(parts []repeated) (stream []byte, size uint64) {
	deflated, _, size := deflateRepeated(parts)
	sum := uint32(1) // Adler-32 of nothing
	for _, p := range parts {
		// p.s repeated p.n times, by doubling.
		pow, powLen := adler32.Checksum([]byte(p.s)), int64(len(p.s))
		for n := p.n; n > 0; n >>= 1 {
			if n&1 == 1 {
				sum = adler32Combine(sum, pow, powLen)
			}
			pow, powLen = adler32Combine(pow, pow, powLen), 2*powLen
		}
	}
	stream = append([]byte{0x78, 0x9c}, deflated...)
	return binary.BigEndian.AppendUint32(stream, sum), size
}

// adler32Combine is the Adler-32 of a's data followed by b's, b's being
// lenB bytes long (zlib's adler32_combine).
func adler32Combine(a, b uint32, lenB int64) uint32 {
	const mod = 65521
	rem := uint64(lenB % mod)
	s1 := uint64(a & 0xffff)
	s2 := rem * s1 % mod
	s1 += uint64(b&0xffff) + mod - 1
	s2 += uint64(a>>16) + uint64(b>>16) + mod - rem
	s1 %= mod
	s2 %= mod
	return uint32(s2<<16 | s1)
}
