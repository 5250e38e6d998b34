package extract

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/ragd/ragd/extract/extracttest"
)

// ocrLimits are limits with OCR on; the test is skipped without
// tesseract (scripts/test-deps.sh installs it) or pdftoppm.
func ocrLimits(t *testing.T) Limits {
	t.Helper()
	tools := FindOCRTools()
	if tools.Tesseract == "" || tools.Pdftoppm == "" {
		t.Skip("tesseract or pdftoppm is not installed (scripts/test-deps.sh installs them)")
	}
	return Limits{Tesseract: tools.Tesseract, Pdftoppm: tools.Pdftoppm}
}

// letterPage is a text page of MakePDF's in 14-point Courier.
func letterPage(lines ...string) string {
	var b strings.Builder
	for i, l := range lines {
		b.WriteString(extracttest.PDFText(72, 700-float64(i)*22, 14, l))
	}
	return b.String()
}

var scanLines = []string{
	"The quarterly maintenance contract covers",
	"the boilers in buildings seven and nine.",
	"Invoices are due within thirty days.",
}

func TestParseTSV(t *testing.T) {
	t.Parallel()
	tsv := "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n" +
		"1\t1\t0\t0\t0\t0\t0\t0\t640\t480\t-1\t\n" +
		"5\t1\t1\t1\t1\t1\t0\t0\t1\t1\t90\tHello\n" +
		"5\t1\t1\t1\t1\t2\t0\t0\t1\t1\t80\tthere,\n" +
		"5\t1\t1\t1\t2\t1\t0\t0\t1\t1\t70\tsecond\n" +
		"5\t1\t1\t2\t1\t1\t0\t0\t1\t1\t60\tNew\n" +
		"5\t1\t1\t2\t1\t2\t0\t0\t1\t1\t-1\t \n" +
		"5\t2\t1\t1\t1\t1\t0\t0\t1\t1\t20\tnoise\n"
	pages, n, err := parseTSV(strings.NewReader(tsv))
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("pages = %d, want 2", n)
	}
	p := pages[1]
	got := fmt.Sprint(p.paragraphs)
	if want := "[[Hello there, second] [New]]"; got != want {
		t.Fatalf("paragraphs = %s, want %s", got, want)
	}
	if p.words != 4 || p.meanConfidence() != 75 {
		t.Fatalf("words %d, confidence %v; want 4, 75", p.words, p.meanConfidence())
	}
	b := newBuilder(1 << 20)
	var rep OCRReport
	if !addOCRPage(b, &rep, 1, pages[1]) || addOCRPage(b, &rep, 2, pages[2]) {
		t.Fatal("a confident page must be kept and a page of noise dropped")
	}
	if got, want := fmt.Sprint(rep.Pages), "[{1 75 4 true} {2 20 1 false}]"; got != want {
		t.Fatalf("report %s, want %s (page, confidence, words, kept)", got, want)
	}
	if rep.KeptPages() != 1 {
		t.Fatalf("kept pages %d, want 1", rep.KeptPages())
	}
	if _, _, err := parseTSV(strings.NewReader("5\tx\t1\t1\t1\t1\t0\t0\t1\t1\t90\tword\n")); err == nil {
		t.Fatal("a bad page number parsed")
	}
}

func TestDetectImages(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		head string
		want Type
	}{
		{"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", TypePNG},
		{"\xff\xd8\xff\xe0\x00\x10JFIF\x00", TypeJPEG},
		{"II*\x00\x08\x00\x00\x00", TypeTIFF},
		{"MM\x00*\x00\x00\x00\x08", TypeTIFF},
		{"RIFF\x24\x00\x00\x00WEBPVP8 ", TypeWebP},
		{"GIF89a\x01\x00\x01\x00", TypeGIF},
		{"P4\n1 1\n\x00", TypePNM},
		{"P1 is a plain word here", TypeText},
	} {
		data := []byte(tc.head)
		got, ok := Detect(bytes.NewReader(data), int64(len(data)), "file.bin")
		if !ok || got != tc.want {
			t.Errorf("Detect(%q) = %q, %v; want %q", tc.head, got, ok, tc.want)
		}
	}
}

func TestOCRImage(t *testing.T) {
	t.Parallel()
	lim := ocrLimits(t)
	pdf := extracttest.MakePDF([]string{letterPage(scanLines...)})
	for _, format := range []string{"png", "jpeg"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			img := extracttest.RenderPage(t, pdf, 1, 200, format)
			typ, ok := Detect(bytes.NewReader(img), int64(len(img)), "scan.bin")
			if !ok || !typ.IsImage() {
				t.Fatalf("detected as %q, %v", typ, ok)
			}
			ext, err := Extract(t.Context(), typ, img, lim)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range scanLines {
				if !strings.Contains(ext.Text, l) {
					t.Errorf("%q not recognised in %q", l, ext.Text)
				}
			}
			if ext.PageCount != 1 || len(ext.Pages) != 1 || ext.Pages[0].Number != 1 {
				t.Errorf("pages %d %v", ext.PageCount, ext.Pages)
			}
			if ext.OCR.KeptPages() != 1 || ext.OCR.Pages[0].Words < len(strings.Fields(strings.Join(scanLines, " ")))/2 {
				t.Errorf("OCR report %+v: want one kept page with the letter's words", ext.OCR)
			}
		})
	}
}

func TestOCRScannedPDFPages(t *testing.T) {
	t.Parallel()
	lim := ocrLimits(t)
	scan := extracttest.RenderPage(t, extracttest.MakePDF([]string{letterPage(scanLines...)}), 1, 200, "jpeg")
	pdf := extracttest.ScanPDF([]string{letterPage("The first page has a text layer."), "", letterPage("The third page has one too.")},
		[][]byte{nil, scan, nil})
	ext, err := Extract(t.Context(), TypePDF, pdf, lim)
	if err != nil {
		t.Fatal(err)
	}
	if ext.PageCount != 3 || len(ext.Pages) != 3 {
		t.Fatalf("pages %d %v in %q", ext.PageCount, ext.Pages, ext.Text)
	}
	if ext.OCR == nil || len(ext.OCR.Pages) != 1 || ext.OCR.Pages[0].Page != 2 || !ext.OCR.Pages[0].Kept ||
		ext.OCR.Pages[0].Confidence < MinOCRConfidence || ext.OCR.Pages[0].Confidence > 100 || ext.OCR.Languages != "eng" {
		t.Errorf("OCR report %+v: want page 2 alone, kept, with its confidence, in eng", ext.OCR)
	}
	want := []string{"The first page has a text layer.", scanLines[1], "The third page has one too."}
	for i, p := range ext.Pages {
		text := ext.Text[p.Start:p.End]
		if p.Number != i+1 || !strings.Contains(text, want[i]) {
			t.Errorf("page %d (number %d) = %q, want it to hold %q", i+1, p.Number, text, want[i])
		}
	}

	t.Run("OCROff", func(t *testing.T) {
		t.Parallel()
		only := extracttest.ScanPDF([]string{""}, [][]byte{scan})
		_, err := Extract(t.Context(), TypePDF, only, Limits{})
		wantCode(t, err, CodeNoText)
		_, err = Extract(t.Context(), TypeJPEG, scan, Limits{})
		wantCode(t, err, CodeUnsupportedType)
	})
}

// TestOCRImagePDF: ImagePDF, which TestOCRMeasure wraps its renderings
// in, writes pages that are images only (with OCR off ragd finds no text
// in them) and that ragd renders and recognises: a clean page, and the
// same page turned by 3° with noise, as TestOCRMeasure degrades its pages.
func TestOCRImagePDF(t *testing.T) {
	t.Parallel()
	lim := ocrLimits(t)
	const dpi = 150
	gray := extracttest.DecodeGray(t, extracttest.RenderPage(t, extracttest.MakePDF([]string{letterPage(scanLines...)}), 1, dpi, "png"))
	w, h := float64(gray.Bounds().Dx())*72/dpi, float64(gray.Bounds().Dy())*72/dpi
	pdf := extracttest.ImagePDF([]extracttest.ImagePage{
		{Width: w, Height: h, Gray: gray},
		{Width: w, Height: h, Gray: extracttest.Noise(extracttest.Rotate(gray, 3), 24, 0.005, 1)},
	})
	_, err := Extract(t.Context(), TypePDF, pdf, Limits{})
	wantCode(t, err, CodeNoText)

	ext, err := Extract(t.Context(), TypePDF, pdf, lim)
	if err != nil {
		t.Fatal(err)
	}
	if ext.PageCount != 2 || len(ext.Pages) != 2 {
		t.Fatalf("pages %d %v in %q", ext.PageCount, ext.Pages, ext.Text)
	}
	truth := strings.Join(scanLines, "\n")
	for i, p := range ext.Pages {
		text := ext.Text[p.Start:p.End]
		if recall, precision := wordScores(truth, text); p.Number != i+1 || recall < 0.9 || precision < 0.9 {
			t.Errorf("page %d (number %d): recall %.2f, precision %.2f in %q", i+1, p.Number, recall, precision, text)
		}
	}
}

func TestOCRFailures(t *testing.T) {
	t.Parallel()
	lim := ocrLimits(t)
	png := extracttest.RenderPage(t, extracttest.MakePDF([]string{letterPage(scanLines...)}), 1, 100, "png")
	t.Run("Truncated", func(t *testing.T) {
		t.Parallel()
		_, err := Extract(t.Context(), TypePNG, png[:len(png)/2], lim)
		wantCode(t, err, CodeImageMalformed)
	})
	t.Run("Blank", func(t *testing.T) {
		t.Parallel()
		blank := extracttest.RenderPage(t, extracttest.MakePDF([]string{""}), 1, 100, "png")
		_, err := Extract(t.Context(), TypePNG, blank, lim)
		wantCode(t, err, CodeNoText)
	})
	t.Run("Languages", func(t *testing.T) {
		t.Parallel()
		bad := lim
		bad.OCRLanguages = "eng -c tessedit_write_images=1"
		_, err := Extract(t.Context(), TypePNG, png, bad)
		wantCode(t, err, CodeInternal)
	})
	if _, err := exec.LookPath("tesseract"); err != nil {
		t.Fatal("ocrLimits found tesseract, LookPath not")
	}
}

// TestOCRTitle: a scan's title is the largest type on its first page, as
// a text PDF's is; a page of one size of type has none.
func TestOCRTitle(t *testing.T) {
	t.Parallel()
	lim := ocrLimits(t)
	// A stamp in larger type than the title (a number, no letters) is
	// passed over; so would be a last line of tall letters.
	page := extracttest.PDFText(430, 775, 30, "2024") + extracttest.PDFText(72, 730, 26, "Boiler Maintenance Contract") + letterPage(scanLines...) +
		extracttest.PDFText(72, 200, 17, "Signed")
	img := extracttest.RenderPage(t, extracttest.MakePDF([]string{page}), 1, 200, "png")
	ext, err := Extract(t.Context(), TypePNG, img, lim)
	if err != nil || ext.Title != "Boiler Maintenance Contract" {
		t.Fatalf("image: title %q, %v", ext.Title, err)
	}
	jpeg := extracttest.RenderPage(t, extracttest.MakePDF([]string{page}), 1, 200, "jpeg")
	ext, err = Extract(t.Context(), TypePDF, extracttest.ScanPDF([]string{"", letterPage("A second page with a text layer.")}, [][]byte{jpeg, nil}), lim)
	if err != nil || ext.Title != "Boiler Maintenance Contract" {
		t.Fatalf("scanned PDF: title %q, %v", ext.Title, err)
	}
	plain := extracttest.RenderPage(t, extracttest.MakePDF([]string{letterPage(scanLines...)}), 1, 200, "png")
	if ext, err := Extract(t.Context(), TypePNG, plain, lim); err != nil || ext.Title != "" {
		t.Fatalf("a page of one size: title %q, %v", ext.Title, err)
	}
}
