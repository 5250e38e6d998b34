package extract

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"unicode"
)

// minTextLayerRunes: a PDF page with fewer letters and digits than this
// in its text layer has no usable text layer (a scan, perhaps with a page
// number or a scanner's stamp drawn as text), and is recognised by OCR.
// When OCR recognises nothing confident there, the text layer stays.
const minTextLayerRunes = 16

// maxOCRPixels bounds a rendered page's width and height (pdftoppm's -W
// and -H): 17×22 inches at OCRDPI. A page declared larger is recognised
// in its top-left part only, and rendering it cannot take more memory
// than this.
const maxOCRWidth, maxOCRHeight = 17 * OCRDPI, 22 * OCRDPI

// needsOCR reports whether a page's text layer is unusable.
func needsOCR(lines []pdfLine) bool {
	n := 0
	for _, l := range lines {
		for _, r := range l.text {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				n++
				if n >= minTextLayerRunes {
					return false
				}
			}
		}
	}
	return true
}

// ocrPDFPages renders and recognises the pages of data (1-based numbers
// in want) with pdftoppm and tesseract, workers at a time. A page that
// cannot be rendered or recognised is left out of the result (it keeps
// its text layer, if any); so is every page once ctx is done.
func ocrPDFPages(ctx context.Context, data []byte, want []int, lim Limits) map[int]*ocrPage {
	var mu sync.Mutex
	out := map[int]*ocrPage{}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(1, min(lim.Parallel, len(want))) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(want) {
					return
				}
				n := strconv.Itoa(want[i])
				// A PGM (pdftoppm's -gray without -png), not a PNG: pdftoppm
				// 22.12 writes its PNGs in RGB even with -gray, and deflating
				// them took 0.5-1.8 s of CPU for a 300 dpi page, 9 s for a
				// noisy one, against 0.04-0.2 s for the PGM (BENCHMARKS.md,
				// OCR). A PGM states no resolution, so tesseract is told it.
				pgm, err := runTool(ctx, data, 256<<20, lim.Pdftoppm, "-r", strconv.Itoa(OCRDPI), "-f", n, "-l", n,
					"-W", strconv.Itoa(maxOCRWidth), "-H", strconv.Itoa(maxOCRHeight), "-gray", "-")
				if err != nil || len(pgm) == 0 {
					continue
				}
				pages, _, err := recognise(ctx, pgm, lim, "--dpi", strconv.Itoa(OCRDPI))
				if err != nil {
					continue
				}
				mu.Lock()
				out[want[i]] = pages[1]
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return out
}
