package extracttest

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image/color"
	"image/jpeg"
	"os/exec"
	"strings"
	"testing"
)

// ScanPDF writes a PDF whose pages are given either as text (a Courier
// content stream, as MakePDF) or as a JPEG image filling a Letter page
// (a scan: no text layer). A page is an image when its JPEG is non-nil.
func ScanPDF(texts []string, jpegs [][]byte) []byte {
	w := newPDFWriter("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	n := len(texts)
	kids := make([]string, n)
	for i := range n {
		kids[i] = fmt.Sprintf("%d 0 R", 4+3*i)
	}
	w.obj("<< /Type /Catalog /Pages 2 0 R >>")
	w.obj(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), n))
	widths := strings.TrimSpace(strings.Repeat("600 ", 95))
	w.obj("<< /Type /Font /Subtype /Type1 /BaseFont /Courier /Encoding /WinAnsiEncoding /FirstChar 32 /LastChar 126 /Widths [" + widths + "] >>")
	for i := range n {
		content, img := 5+3*i, 6+3*i
		var stream string
		if i < len(jpegs) && jpegs[i] != nil {
			cfg, err := jpeg.DecodeConfig(bytes.NewReader(jpegs[i]))
			if err != nil {
				panic(err)
			}
			cs := "/DeviceGray"
			if cfg.ColorModel != color.GrayModel {
				cs = "/DeviceRGB"
			}
			stream = "q 612 0 0 792 0 0 cm /Im1 Do Q"
			w.obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /XObject << /Im1 %d 0 R >> >> /Contents %d 0 R >>", img, content))
			w.obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(stream), stream))
			w.obj(fmt.Sprintf("<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s /BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n%s\nendstream",
				cfg.Width, cfg.Height, cs, len(jpegs[i]), jpegs[i]))
			continue
		}
		stream = texts[i]
		w.obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>", content))
		w.obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(stream), stream))
		w.obj("<< >>") // keeps every page three objects apart
	}
	return w.finish()
}

// RenderPage renders page n (from 1) of a PDF with poppler's pdftoppm at
// dpi, as a grey JPEG (format "jpeg") or PNG ("png"); the test is skipped
// without pdftoppm.
func RenderPage(tb testing.TB, pdf []byte, n, dpi int, format string) []byte {
	tb.Helper()
	prog, err := exec.LookPath("pdftoppm")
	if err != nil {
		tb.Skip("pdftoppm is not installed (scripts/test-deps.sh installs it)")
	}
	cmd := exec.Command(prog, "-r", fmt.Sprint(dpi), "-f", fmt.Sprint(n), "-l", fmt.Sprint(n), "-gray", "-"+format, "-")
	cmd.Stdin = bytes.NewReader(pdf)
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("pdftoppm: %v", err)
	}
	return out
}

// HugePNG is a valid grey PNG of w×h pixels, all black: a few hundred
// kilobytes that decode to w×h bytes (30000×30000: 900 MB), built to
// exhaust an image decoder's memory.
func HugePNG(w, h int) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr, uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8] = 8 // bit depth; colour type 0 (grey)
	pngChunk(&b, "IHDR", ihdr)
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestSpeed)
	row := make([]byte, w+1) // filter byte 0, then the pixels
	for range h {
		_, _ = zw.Write(row)
	}
	_ = zw.Close()
	pngChunk(&b, "IDAT", z.Bytes())
	pngChunk(&b, "IEND", nil)
	return b.Bytes()
}

func pngChunk(b *bytes.Buffer, typ string, data []byte) {
	_ = binary.Write(b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	c := crc32.NewIEEE()
	c.Write([]byte(typ))
	c.Write(data)
	_ = binary.Write(b, binary.BigEndian, c.Sum32())
}
