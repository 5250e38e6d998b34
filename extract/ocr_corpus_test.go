package extract

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
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
// got's words that are in want.
func wordScores(want, got string) (recall, precision float64) {
	w, g := ocrWords(want), ocrWords(got)
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

// TestOCRMeasure is the OCR benchmark of BENCHMARKS.md: pages of text PDFs
// of the development set (RAGD_PDF_DEVDATA, default ../../shared/devdata/pdfs)
// rendered to PNG at 300 and 150 dpi, recognised by ragd (Extract of the
// PNG) and by tesseract by hand on the same file in the same run, each
// compared with pdftotext's words of the page. It runs only with
// RAGD_OCR_MEASURE=<pages> (the number of pages to take), and fails when
// recall at 300 dpi is under 0.95 or ragd runs at under 0.8 of
// tesseract's speed by hand (target 0.9; the margin is the machine's noise).
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
		truth string
		png   map[int]string // by dpi: the file
	}
	var set []page
	for _, pdf := range pdfs {
		if len(set) == pages {
			break
		}
		truth, err := exec.Command("pdftotext", "-f", "1", "-l", "1", "-layout", pdf, "-").Output()
		// Pages of running text, in English, that pdftotext reads.
		if err != nil || len(ocrWords(string(truth))) < 150 || !mostlyASCII(string(truth)) {
			continue
		}
		p := page{truth: string(truth), png: map[int]string{}}
		for _, dpi := range []int{300, 150} {
			root := filepath.Join(tmp, fmt.Sprintf("p%d-%d", len(set), dpi))
			if out, err := exec.Command("pdftoppm", "-r", strconv.Itoa(dpi), "-f", "1", "-l", "1", "-singlefile", "-gray", "-png", pdf, root).CombinedOutput(); err != nil {
				t.Fatalf("pdftoppm %s: %v: %s", pdf, err, out)
			}
			p.png[dpi] = root + ".png"
		}
		t.Logf("page %d: %s", len(set), filepath.Base(pdf))
		set = append(set, p)
	}
	for _, dpi := range []int{300, 150} {
		var ragdTime, handTime time.Duration
		var rRecall, rPrecision, hRecall, hPrecision float64
		for _, p := range set {
			data, err := os.ReadFile(p.png[dpi])
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			ext, err := Extract(t.Context(), TypePNG, data, lim)
			ragdTime += time.Since(start)
			if err != nil {
				t.Logf("%d dpi: %s: %v", dpi, p.png[dpi], err)
			}
			r, pr := wordScores(p.truth, ext.Text)
			rRecall, rPrecision = rRecall+r, rPrecision+pr

			start = time.Now()
			cmd := exec.Command(lim.Tesseract, p.png[dpi], "stdout", "-l", "eng")
			cmd.Env = []string{"OMP_THREAD_LIMIT=1"}
			out, err := cmd.Output()
			handTime += time.Since(start)
			if err != nil {
				t.Fatalf("tesseract by hand: %v", err)
			}
			r, pr = wordScores(p.truth, string(out))
			hRecall, hPrecision = hRecall+r, hPrecision+pr
		}
		n := float64(len(set))
		t.Logf("%d dpi, %d pages: ragd recall %.3f precision %.3f, %.2f pages/s; tesseract by hand recall %.3f precision %.3f, %.2f pages/s; ragd/hand speed %.2f",
			dpi, len(set), rRecall/n, rPrecision/n, n/ragdTime.Seconds(), hRecall/n, hPrecision/n, n/handTime.Seconds(), handTime.Seconds()/ragdTime.Seconds())
		if dpi == 300 && rRecall/n < 0.95 {
			t.Errorf("recall %.3f at 300 dpi, want at least 0.95", rRecall/n)
		}
		// The target is 0.9; the machines are shared and a run of eight
		// pages moves by a tenth from load alone (BENCHMARKS.md).
		if handTime.Seconds()/ragdTime.Seconds() < 0.8 {
			t.Errorf("ragd at %.2f of tesseract's speed by hand, want at least 0.8 (target 0.9)", handTime.Seconds()/ragdTime.Seconds())
		}
	}
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
