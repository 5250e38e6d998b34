package sandbox

import (
	"bytes"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/ragd/ragd/extract"
	"github.com/ragd/ragd/extract/extracttest"
)

// TestOCRHostileImages gives the sandbox images built to hurt tesseract
// (which the child runs, and which inherits its limits): each ends failed
// with a code within its clock, and when the clock ends one, nothing of
// the child's process group (tesseract included) is left.
func TestOCRHostileImages(t *testing.T) {
	t.Parallel()
	tools := extract.FindOCRTools()
	if tools.Tesseract == "" || tools.Pdftoppm == "" {
		t.Skip("tesseract or pdftoppm is not installed (scripts/test-deps.sh installs them)")
	}
	// The clock is 20 s for images too: OCR's own ceiling
	// (RAGD_EXTRACT_OCR_TIMEOUT, 10 min by default) would otherwise let
	// the huge PNG decode to the end under the race detector's 4 GiB.
	lim := extract.Limits{MaxTextBytes: 4 << 20, Timeout: 20 * time.Second, OCRTimeout: 20 * time.Second, Memory: 512 << 20,
		Tesseract: tools.Tesseract, Pdftoppm: tools.Pdftoppm, CPUPerMiB: -1}
	if raceEnabled {
		lim.Memory = 4 << 30
	}
	page := extracttest.RenderPage(t, extracttest.MakePDF([]string{extracttest.PDFText(72, 700, 14, "A page of text to recognise.")}), 1, 300, "png")
	short := lim
	short.Timeout, short.OCRTimeout = 300*time.Millisecond, 300*time.Millisecond // OCR has a ceiling of its own
	cases := []struct {
		name string
		data []byte
		lim  extract.Limits
		want string // a code, or "" for any
	}{
		{"PNG of 30000x30000 pixels", extracttest.HugePNG(30000, 30000), lim, extract.CodeTooComplex},
		{"PNG truncated", page[:len(page)/3], lim, extract.CodeImageMalformed},
		{"PNG past its clock", page, short, extract.CodeTimeout},
	}
	if raceEnabled {
		cases[0].want = "" // 4 GiB hold it: the clock may end it instead
	}
	// What the clock may be exceeded by: starting the child and killing
	// its group. The race detector slows both, and a loaded machine more
	// (a 20 s clock took 25 s under race at load 15).
	slack := 5 * time.Second
	if raceEnabled {
		slack = 15 * time.Second
	}
	b := setupSandbox(t)
	for _, tc := range cases {
		typ, ok := extract.Detect(bytes.NewReader(tc.data), int64(len(tc.data)), "image")
		if !ok || !typ.IsImage() {
			t.Fatalf("%s: detected as %q, %v", tc.name, typ, ok)
		}
		before := len(b.lastRuns())
		start := time.Now()
		_, err := b.sb.Extract(t.Context(), typ, BytesOpener(tc.data), tc.lim)
		took := time.Since(start)
		e, ok := extract.AsError(err)
		switch {
		case !ok:
			t.Errorf("%s: %v, want a failure with a code", tc.name, err)
		case e.Code == extract.CodeInternal || (tc.want != "" && e.Code != tc.want):
			t.Errorf("%s: failed with %s (%v), want %q", tc.name, e.Code, err, tc.want)
		case took > tc.lim.Timeout+slack:
			t.Errorf("%s: took %s, its clock was %s", tc.name, took, tc.lim.Timeout)
		}
		for _, r := range b.lastRuns()[before:] {
			if r.Outcome == "ok" || r.Outcome == "failed" {
				continue // a child that answered may serve again
			}
			// The child leads its process group: tesseract, started by
			// it, is in the group the sandbox killed.
			deadline := time.Now().Add(5 * time.Second)
			for syscall.Kill(-r.PID, 0) == nil && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if err := syscall.Kill(-r.PID, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("%s: process group %d (%s) still has processes: %v", tc.name, r.PID, r.Outcome, err)
			}
		}
		t.Logf("%-28s %v in %s", tc.name, err, took.Round(time.Millisecond))
	}
}
