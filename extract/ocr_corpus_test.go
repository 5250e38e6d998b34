package extract

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/ragd/ragd/extract/extracttest"
)

// TestOCRCorpus reads every image of the office development set's ocr/
// folder (skipped without it, or without tesseract): each is detected as
// an image and ends ready, or failed with a code that fits an image
// (no_text, ocr_low_confidence, image_malformed), never internal. Where
// a ground truth (<name>.gt.txt) is given and its text is English, the
// recognised words must recall at least 0.85 of it. -v prints a table.
func TestOCRCorpus(t *testing.T) {
	t.Parallel()
	lim := ocrLimits(t)
	dir := filepath.Join(officeDevdata(t), "ocr")
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	// Ground truths of text in other languages or scripts than eng.
	foreign := map[string]bool{"tesseract-test__eurotext": true}
	n := 0
	for _, path := range files {
		if strings.HasSuffix(path, ".txt") {
			continue
		}
		n++
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			typ, ok := Detect(bytes.NewReader(data), int64(len(data)), name)
			if !ok || !typ.IsImage() {
				t.Fatalf("detected as %q, %v", typ, ok)
			}
			start := time.Now()
			ext, err := Extract(t.Context(), typ, data, lim)
			took := time.Since(start)
			if err != nil {
				e, ok := AsError(err)
				if !ok || !slices.Contains([]string{CodeNoText, CodeOCRLowConfidence, CodeImageMalformed}, e.Code) {
					t.Fatalf("failed with %v, want ready or a code of images", err)
				}
				t.Logf("%-40s failed %-20s %5.2fs", name, e.Code, took.Seconds())
				return
			}
			stem := strings.TrimSuffix(name, filepath.Ext(name))
			gt, err := os.ReadFile(filepath.Join(dir, stem+".gt.txt"))
			if err != nil {
				t.Logf("%-40s ready  %3d pages %5.2fs", name, ext.PageCount, took.Seconds())
				return
			}
			recall, precision := wordScores(string(gt), ext.Text)
			t.Logf("%-40s ready  %3d pages %5.2fs  recall %.3f precision %.3f", name, ext.PageCount, took.Seconds(), recall, precision)
			if !foreign[stem] && recall < 0.85 {
				t.Errorf("recall %.3f of the ground truth, want at least 0.85; recognised %q", recall, ext.Text)
			}
		})
	}
	if n == 0 {
		t.Fatalf("no images in %s", dir)
	}
}

// ocrWords are the words of s for comparing OCR with a known text:
// lower-cased, with the punctuation around them stripped.
func ocrWords(s string) []string {
	var out []string
	for _, w := range strings.Fields(s) {
		w = strings.ToLower(strings.TrimFunc(w, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }))
		if w != "" {
			out = append(out, w)
		}
	}
	return out
}

// wordScores compares the words of got with those of want as multisets:
// recall is the share of want's words found in got, precision the share of
// got's words that are in want. A word hyphenated across a line end is
// joined in both, as ragd joins it, so that it counts as the word it is
// whether or not the text compared has joined it.
func wordScores(want, got string) (recall, precision float64) {
	w, g := ocrWords(unhyphenate(want)), ocrWords(unhyphenate(got))
	count := map[string]int{}
	for _, x := range w {
		count[x]++
	}
	match := 0
	for _, x := range g {
		if count[x] > 0 {
			count[x]--
			match++
		}
	}
	if len(w) > 0 {
		recall = float64(match) / float64(len(w))
	}
	if len(g) > 0 {
		precision = float64(match) / float64(len(g))
	}
	return recall, precision
}

// unhyphenate joins the words of s hyphenated across a line end.
func unhyphenate(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return joinHyphenated(lines)
}

// TestOCRMeasure is the OCR benchmark of BENCHMARKS.md: pages of text PDFs
// of the development set (RAGD_PDF_DEVDATA, default ../../shared/devdata/pdfs)
// rendered at 300 and 150 dpi, some with noise or turned a few degrees, each
// given to ragd as a PNG and wrapped as an image-only PDF (ocrVariants), and
// recognised by ragd (Extract: the PDF through its render and OCR path) and
// by tesseract by hand on the same image in the same run, each compared with
// pdftotext's words of the page. It runs only with RAGD_OCR_MEASURE=<pages>
// (the number of pages to take); -run 'TestOCRMeasure/pdf' picks variants.
// A variant fails under its minRecall, or when ragd runs at under its
// minSpeed of tesseract's speed by hand (target 0.9; the 0.8 checked is the
// margin for the shared machine's noise).
func TestOCRMeasure(t *testing.T) {
	pages, _ := strconv.Atoi(os.Getenv("RAGD_OCR_MEASURE"))
	if pages <= 0 {
		t.Skip("set RAGD_OCR_MEASURE=<pages> to measure OCR")
	}
	lim := ocrLimits(t)
	lim.Parallel = 1 // page for page against one tesseract
	dir := cmpEnv("RAGD_PDF_DEVDATA", filepath.Join("..", "..", "shared", "devdata", "pdfs"))
	pdfs, _ := filepath.Glob(filepath.Join(dir, "*.pdf"))
	if len(pdfs) == 0 {
		t.Skipf("no PDFs in %s", dir)
	}
	tmp := t.TempDir()
	type page struct {
		name   string
		truth  string
		render map[int]string // by dpi: pdftoppm's PNG
	}
	var set []page
	for _, pdf := range pdfs {
		if len(set) == pages {
			break
		}
		// In reading order (not -layout, which puts columns side by side
		// on a line), so that a line's end is where a hyphen breaks a word.
		truth, err := exec.Command("pdftotext", "-f", "1", "-l", "1", pdf, "-").Output()
		// Pages of running text, in English, that pdftotext reads.
		if err != nil || len(ocrWords(string(truth))) < 150 || !mostlyASCII(string(truth)) {
			continue
		}
		p := page{name: filepath.Base(pdf), truth: string(truth), render: map[int]string{}}
		for _, dpi := range []int{300, 150} {
			root := filepath.Join(tmp, fmt.Sprintf("p%d-%d", len(set), dpi))
			if out, err := exec.Command("pdftoppm", "-r", strconv.Itoa(dpi), "-f", "1", "-l", "1", "-singlefile", "-gray", "-png", pdf, root).CombinedOutput(); err != nil {
				t.Fatalf("pdftoppm %s: %v: %s", pdf, err, out)
			}
			p.render[dpi] = root + ".png"
		}
		t.Logf("page %d: %s", len(set), p.name)
		set = append(set, p)
	}
	for _, v := range ocrVariants {
		t.Run(v.name, func(t *testing.T) {
			var ragdTime, handTime time.Duration
			var rRecall, rPrecision, hRecall, hPrecision float64
			for i, p := range set {
				data, err := os.ReadFile(p.render[v.dpi])
				if err != nil {
					t.Fatal(err)
				}
				img := extracttest.DecodeGray(t, data)
				if v.degrade != nil {
					img = v.degrade(img, i)
				}
				// The image as a file, for tesseract by hand; as a PNG or
				// wrapped in a PDF, for ragd.
				file := filepath.Join(tmp, fmt.Sprintf("%s-%d", v.name, i))
				typ, doc := TypePNG, extracttest.WithDPI(encodePNG(t, img), v.dpi)
				if v.jpeg {
					file += ".jpg"
					doc = extracttest.WithDPI(encodeJPEG(t, img), v.dpi)
				} else {
					file += ".png"
				}
				if err := os.WriteFile(file, doc, 0o644); err != nil {
					t.Fatal(err)
				}
				if v.pdf {
					b := img.Bounds()
					wrap := extracttest.ImagePage{Width: float64(b.Dx()) * 72 / float64(v.dpi), Height: float64(b.Dy()) * 72 / float64(v.dpi)}
					if v.jpeg {
						wrap.JPEG = doc
					} else {
						wrap.Gray = img
					}
					typ, doc = TypePDF, extracttest.ImagePDF([]extracttest.ImagePage{wrap})
				}

				start := time.Now()
				ext, err := Extract(t.Context(), typ, doc, lim)
				took := time.Since(start)
				if err != nil {
					t.Logf("page %d (%s): %v", i, p.name, err)
				}
				r, pr := wordScores(p.truth, ext.Text)

				start = time.Now()
				cmd := exec.Command(lim.Tesseract, file, "stdout", "-l", "eng")
				cmd.Env = []string{"OMP_THREAD_LIMIT=1"}
				out, err := cmd.Output()
				handTook := time.Since(start)
				if err != nil {
					t.Fatalf("tesseract by hand: %v", err)
				}
				hr, hpr := wordScores(p.truth, string(out))
				t.Logf("page %d: ragd recall %.3f precision %.3f %5.2fs; by hand recall %.3f precision %.3f %5.2fs  (%s)",
					i, r, pr, took.Seconds(), hr, hpr, handTook.Seconds(), p.name)
				ragdTime, handTime = ragdTime+took, handTime+handTook
				rRecall, rPrecision, hRecall, hPrecision = rRecall+r, rPrecision+pr, hRecall+hr, hPrecision+hpr
			}
			n := float64(len(set))
			speed := handTime.Seconds() / ragdTime.Seconds()
			t.Logf("| %s | %d | %.3f | %.3f | %.2f | %.3f | %.3f | %.2f | %.2f |",
				v.name, len(set), rRecall/n, rPrecision/n, n/ragdTime.Seconds(), hRecall/n, hPrecision/n, n/handTime.Seconds(), speed)
			if rRecall/n < v.minRecall {
				t.Errorf("recall %.3f, want at least %.2f", rRecall/n, v.minRecall)
			}
			if speed < v.minSpeed {
				t.Errorf("ragd at %.2f of tesseract's speed by hand, want at least %.2f (target 0.9)", speed, v.minSpeed)
			}
		})
	}
}

// ocrVariants are the ways TestOCRMeasure gives its pages to ragd. A PDF
// variant wraps the image, at its size in points at dpi, as the only
// content of a page, which ragd renders again at OCRDPI. Only the 300 dpi
// variants, which issue 24's targets are about, are checked; on the shared
// machine the others' ratios moved by 0.2 from load alone (BENCHMARKS.md).
var ocrVariants = []struct {
	name      string
	dpi       int                                // rendered at
	degrade   func(*image.Gray, int) *image.Gray // of page i; nil: as rendered
	pdf, jpeg bool                               // wrapped in a PDF; as a JPEG (quality 75) rather than lossless
	minRecall float64                            // the test fails under it (0: not checked)
	minSpeed  float64                            // of tesseract's speed by hand (0: not checked)
}{
	{name: "png-300", dpi: 300, minRecall: 0.95, minSpeed: 0.8},
	{name: "png-150", dpi: 150},
	{name: "png-300-noise", dpi: 300, degrade: noisy},
	{name: "png-300-rotated", dpi: 300, degrade: askew},
	{name: "pdf-300", dpi: 300, pdf: true, minRecall: 0.95, minSpeed: 0.8},
	// ragd renders the page at 300 dpi, twice the image's resolution:
	// tesseract then reads four times the pixels it reads by hand.
	{name: "pdf-150", dpi: 150, pdf: true},
	{name: "pdf-300-noise", dpi: 300, degrade: noisy, pdf: true},
	{name: "pdf-300-rotated", dpi: 300, degrade: askew, pdf: true},
	{name: "pdf-300-jpeg", dpi: 300, pdf: true, jpeg: true},
}

// noisy adds grey noise (σ 24 levels) and 0.5% black and white specks.
func noisy(img *image.Gray, page int) *image.Gray {
	return extracttest.Noise(img, 24, 0.005, uint64(page))
}

// askew turns page i by 2 to 4 degrees, one way or the other.
func askew(img *image.Gray, page int) *image.Gray {
	return extracttest.Rotate(img, []float64{2, -3, 4, -2, 3, -4}[page%6])
}

func encodePNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJPEG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 75}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func cmpEnv(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func mostlyASCII(s string) bool {
	n := 0
	for _, r := range s {
		if r > 127 {
			n++
		}
	}
	return n*50 < len(s)
}
