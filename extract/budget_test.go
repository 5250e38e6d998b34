package extract

import (
	"strings"
	"testing"
	"time"
)

// TestForSize: a document's processor time is CPUBase plus CPUPerMiB per
// MiB and its clock twice that, the configured limits being the ceiling;
// a limit its size cut says so in its failure's advice, one it did not
// keeps the advice for a long document.
func TestForSize(t *testing.T) {
	t.Parallel()
	lim := Limits{Timeout: 2 * time.Minute, Parallel: 2} // CPU 4 minutes
	base, rate := DefaultCPUBase*raceSlowdown, DefaultCPUPerMiB*raceSlowdown
	small := lim.ForSize(600, TypeText)
	if small.CPU != base+time.Duration(float64(rate)*600/(1<<20)) || small.Timeout != 2*small.CPU {
		t.Errorf("a 600-byte file: CPU %s, clock %s", small.CPU, small.Timeout)
	}
	if !small.SizedCPU || !small.SizedTimeout {
		t.Error("a 600-byte file's limits are not marked as cut to its size")
	}
	if got := lim.ForSize(3<<20, TypeText); got.CPU != min(base+3*rate, 4*time.Minute) {
		t.Errorf("a 3 MiB file: CPU %s", got.CPU)
	}
	big := lim.ForSize(500<<20, TypeText)
	if big.CPU != 4*time.Minute || big.Timeout != 2*time.Minute || big.SizedCPU || big.SizedTimeout {
		t.Errorf("a 500 MiB file: CPU %s, clock %s, cut %v %v: want the configured limits", big.CPU, big.Timeout, big.SizedCPU, big.SizedTimeout)
	}
	if off := (Limits{Timeout: time.Minute, CPUPerMiB: -1}).ForSize(1, TypeText); off.Timeout != time.Minute || off.SizedTimeout {
		t.Errorf("CPUPerMiB -1 scaled the clock to %s", off.Timeout)
	}
	// What OCR may read earns OCR's rate, when OCR is on: an 18-page scan
	// of 1.3 MB gets the ceiling, a 600-byte PDF still seconds.
	ocr := Limits{Timeout: 2 * time.Minute, Parallel: 2, Tesseract: "/usr/bin/tesseract"}
	if scan := ocr.ForSize(1300<<10, TypePDF); scan.Timeout != min(DefaultOCRTimeout, 2*(base+time.Duration(float64(DefaultOCRPerMiB*raceSlowdown)*1300/1024))) {
		t.Errorf("a 1.3 MB scan with OCR on: clock %s, want twice its OCR budget", scan.Timeout)
	}
	// A long scan's ceiling is OCRTimeout, CPU scaled alike (5x here).
	if long := ocr.ForSize(100<<20, TypePDF); long.Timeout != DefaultOCRTimeout || long.CPU != 5*4*time.Minute || long.SizedTimeout {
		t.Errorf("a 100 MiB scan with OCR on: clock %s, CPU %s: want %s and 20m", long.Timeout, long.CPU, DefaultOCRTimeout)
	}
	if text := ocr.ForSize(100<<20, TypeDOCX); text.Timeout != 2*time.Minute {
		t.Errorf("a 100 MiB DOCX got OCR's ceiling: %s", text.Timeout)
	}
	if off := (Limits{Timeout: time.Minute, OCRTimeout: 3 * time.Minute, CPUPerMiB: -1, Tesseract: "/t"}).ForSize(1, TypePNG); off.Timeout != 3*time.Minute {
		t.Errorf("unscaled, an image's clock is %s, want the OCR ceiling", off.Timeout)
	}
	if img := ocr.ForSize(200<<10, TypePNG); img.CPU < base+time.Duration(float64(DefaultOCRPerMiB)*200/1024) {
		t.Errorf("a 200 KB image with OCR on: CPU %s", img.CPU)
	}
	ocrRate := DefaultOCRPerMiB * raceSlowdown
	if tiny, want := ocr.ForSize(600, TypePDF), 2*(base+time.Duration(float64(ocrRate)*600/(1<<20))); tiny.Timeout != want || want > 2*base+3*time.Second*raceSlowdown {
		t.Errorf("a 600-byte PDF with OCR on: clock %s, want %s (seconds beyond the base)", tiny.Timeout, want)
	}
	if text := ocr.ForSize(1300<<10, TypeHTML); text.CPU != base+time.Duration(float64(rate)*1300/1024) {
		t.Errorf("HTML is not read by OCR, yet earned CPU %s", text.CPU)
	}
	if off := lim.ForSize(1300<<10, TypePDF); off.CPU != base+time.Duration(float64(rate)*1300/1024) {
		t.Errorf("with OCR off a PDF earned OCR's rate: CPU %s", off.CPU)
	}
	for _, c := range []struct {
		e          *Error
		code, want string
	}{
		{TimedOut(small), CodeTimeout, "damaged"},
		{TooMuchCPU(small), CodeTooComplex, "damaged"},
		{TimedOut(big), CodeTimeout, "split the document"},
		{TooMuchCPU(big), CodeTooComplex, "split the document"},
	} {
		if c.e.Code != c.code || !strings.Contains(c.e.Message, c.want) {
			t.Errorf("%s %q: want code %s and %q", c.e.Code, c.e.Message, c.code, c.want)
		}
	}
	if strings.Contains(TimedOut(small).Message, "split") || strings.Contains(TooMuchCPU(small).Message, "split") {
		t.Error("a small file that ran out of its budget is told to split itself")
	}
}
