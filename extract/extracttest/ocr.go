package extracttest

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	_ "image/png" // DecodeGray reads pdftoppm's PNGs
	"math"
	"math/rand/v2"
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
	w.obj("<< /Type /Catalog /Pages 2 0 R >>")
	w.obj(pagesObj(4, n))
	widths := strings.TrimSpace(strings.Repeat("600 ", 95))
	w.obj("<< /Type /Font /Subtype /Type1 /BaseFont /Courier /Encoding /WinAnsiEncoding /FirstChar 32 /LastChar 126 /Widths [" + widths + "] >>")
	for i := range n {
		if i < len(jpegs) && jpegs[i] != nil {
			w.imagePage(ImagePage{Width: 612, Height: 792, JPEG: jpegs[i]})
			continue
		}
		stream := texts[i]
		w.obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>", len(w.offsets)+2))
		w.obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(stream), stream))
		w.obj("<< >>") // keeps every page three objects apart
	}
	return w.finish()
}

// ImagePage is a page of ImagePDF: one image filling a page of Width ×
// Height points, and nothing else (a scan: no text layer). The image is
// JPEG (DCTDecode, grey or RGB) or, when JPEG is nil, Gray's pixels
// (FlateDecode: lossless, so a reader renders the very pixels given).
type ImagePage struct {
	Width, Height float64
	JPEG          []byte
	Gray          *image.Gray
}

// ImagePDF writes a PDF of image-only pages, as a scanner does.
func ImagePDF(pages []ImagePage) []byte {
	w := newPDFWriter("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	w.obj("<< /Type /Catalog /Pages 2 0 R >>")
	w.obj(pagesObj(3, len(pages)))
	for _, p := range pages {
		w.imagePage(p)
	}
	return w.finish()
}

// pagesObj is the page tree of n pages that are three objects apart, the
// first at object number first.
func pagesObj(first, n int) string {
	kids := make([]string, n)
	for i := range n {
		kids[i] = fmt.Sprintf("%d 0 R", first+3*i)
	}
	return fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), n)
}

// imagePage writes p as three objects: the page, its content stream
// (which draws the image over the whole page) and the image XObject.
func (w *pdfWriter) imagePage(p ImagePage) {
	page := len(w.offsets) + 1
	var dict string
	var data []byte
	if p.JPEG != nil {
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(p.JPEG))
		if err != nil {
			panic(err)
		}
		cs := "/DeviceGray"
		if cfg.ColorModel != color.GrayModel {
			cs = "/DeviceRGB"
		}
		dict = fmt.Sprintf("/Width %d /Height %d /ColorSpace %s /BitsPerComponent 8 /Filter /DCTDecode", cfg.Width, cfg.Height, cs)
		data = p.JPEG
	} else {
		b := p.Gray.Bounds()
		var z bytes.Buffer
		zw := zlib.NewWriter(&z)
		for y := b.Min.Y; y < b.Max.Y; y++ {
			i := p.Gray.PixOffset(b.Min.X, y)
			_, _ = zw.Write(p.Gray.Pix[i : i+b.Dx()])
		}
		_ = zw.Close()
		dict = fmt.Sprintf("/Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode", b.Dx(), b.Dy())
		data = z.Bytes()
	}
	stream := fmt.Sprintf("q %g 0 0 %g 0 0 cm /Im1 Do Q", p.Width, p.Height)
	w.obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %g %g] /Resources << /XObject << /Im1 %d 0 R >> >> /Contents %d 0 R >>",
		p.Width, p.Height, page+2, page+1))
	w.obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(stream), stream))
	w.obj(fmt.Sprintf("<< /Type /XObject /Subtype /Image %s /Length %d >>\nstream\n%s\nendstream", dict, len(data), data))
}

// DecodeGray decodes a PNG or JPEG (pdftoppm's, say: its PNGs are RGB
// even with -gray) into grey pixels.
func DecodeGray(tb testing.TB, data []byte) *image.Gray {
	tb.Helper()
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		tb.Fatalf("decode image: %v", err)
	}
	if g, ok := img.(*image.Gray); ok {
		return g
	}
	g := image.NewGray(img.Bounds())
	draw.Draw(g, g.Bounds(), img, img.Bounds().Min, draw.Src)
	return g
}

// WithDPI returns a PNG or JPEG of Go's encoders (which write no
// resolution) stating dpi, as a scanner's images do: a pHYs chunk after a
// PNG's header, a JFIF segment after a JPEG's start. Tesseract reads it;
// without it, it guesses the resolution from the text's height.
func WithDPI(img []byte, dpi int) []byte {
	var b bytes.Buffer
	switch {
	case bytes.HasPrefix(img, []byte("\x89PNG\r\n\x1a\n")):
		const ihdrEnd = 8 + 4 + 4 + 13 + 4 // signature, IHDR's length, type, data, CRC
		perMetre := uint32(math.Round(float64(dpi) / 0.0254))
		phys := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, perMetre), perMetre)
		b.Write(img[:ihdrEnd])
		pngChunk(&b, "pHYs", append(phys, 1)) // 1: per metre
		b.Write(img[ihdrEnd:])
	case bytes.HasPrefix(img, []byte{0xff, 0xd8}):
		b.Write(img[:2])
		b.Write([]byte{0xff, 0xe0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 2, 1}) // APP0, JFIF 1.2, dots per inch
		_ = binary.Write(&b, binary.BigEndian, [2]uint16{uint16(dpi), uint16(dpi)})
		b.Write([]byte{0, 0}) // no thumbnail
		b.Write(img[2:])
	default:
		panic("WithDPI: neither a PNG nor a JPEG")
	}
	return b.Bytes()
}

// Rotate turns img by degrees anticlockwise about its centre, as a sheet
// fed askew into a scanner: the same canvas, bilinear, the corners that
// the turned page leaves uncovered white.
func Rotate(img *image.Gray, degrees float64) *image.Gray {
	b := img.Bounds()
	out := image.NewGray(b)
	sin, cos := math.Sincos(degrees * math.Pi / 180)
	cx, cy := float64(b.Min.X+b.Max.X-1)/2, float64(b.Min.Y+b.Max.Y-1)/2
	at := func(x, y int) float64 {
		if !(image.Point{x, y}.In(b)) {
			return 255
		}
		return float64(img.Pix[img.PixOffset(x, y)])
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			// The source of (x, y): turned back, y pointing down.
			dx, dy := float64(x)-cx, float64(y)-cy
			sx, sy := cx+dx*cos-dy*sin, cy+dx*sin+dy*cos
			x0, y0 := int(math.Floor(sx)), int(math.Floor(sy))
			fx, fy := sx-float64(x0), sy-float64(y0)
			v := (at(x0, y0)*(1-fx)+at(x0+1, y0)*fx)*(1-fy) + (at(x0, y0+1)*(1-fx)+at(x0+1, y0+1)*fx)*fy
			out.Pix[out.PixOffset(x, y)] = uint8(math.Round(v))
		}
	}
	return out
}

// Noise adds Gaussian noise of standard deviation sigma (grey levels) to
// every pixel of img and then sets a share saltPepper of the pixels black
// or white (dust, a photocopier's specks), the same for the same seed.
func Noise(img *image.Gray, sigma, saltPepper float64, seed uint64) *image.Gray {
	rng := rand.New(rand.NewPCG(seed, seed))
	b := img.Bounds()
	out := image.NewGray(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			v := float64(img.Pix[img.PixOffset(x, y)]) + rng.NormFloat64()*sigma
			switch r := rng.Float64(); {
			case r < saltPepper/2:
				v = 0
			case r < saltPepper:
				v = 255
			}
			out.Pix[out.PixOffset(x, y)] = uint8(max(0, min(255, math.Round(v))))
		}
	}
	return out
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
