package extract

import "time"

// The budget of one document's extraction grows with its size in bytes
// (Limits.ForSize): what a file may cost is what an honest file of its
// size costs, with room to spare, so a 600-byte file cannot hold a slot
// for the two minutes a 50 MiB one may need. Bytes, not pages: the page
// count is only known by parsing the file (the work the budget bounds),
// and a file says what it likes about it; its size it cannot fake.
const (
	// DefaultCPUBase is the processor time any document is given,
	// whatever its size.
	DefaultCPUBase = 5 * time.Second
	// DefaultCPUPerMiB is the processor time given per MiB of a
	// document's bytes, on top of DefaultCPUBase. Measured on the shared
	// devdata (TestBudgetFitsCorpus: 534 PDFs, HTML pages and office
	// files that are not damaged), the honest file that costs the most
	// per byte took 0.92 s/MiB (an 84 KB HTML page, 0.075 s), and none
	// took more than 0.1 s: this is ten times the worst rate. A file
	// whose compressed streams inflate to far more work than their bytes
	// (a dense drawing, extracttest.DrawingPDF: about 22 s/MiB) can need
	// more than its size earns, and fails too_complex.
	DefaultCPUPerMiB = 10 * time.Second
	// DefaultOCRPerMiB is the rate for a document that OCR may read (an
	// image, or a PDF when OCR is on): recognising a page takes 2 to 4 s
	// here, and a scanned page is 20 to 100 KB (CCITT or JBIG2 to JPEG),
	// so an honest scan earns some 40 to 200 s a MiB. An 18-page scan of
	// 1.3 MB timed out at the text rate (35 s on the clock); at this one
	// it gets the configured ceiling, and a 600-byte file still gets 5 s.
	DefaultOCRPerMiB = 200 * time.Second
	// DefaultOCRTimeout is the ceiling of the clock of a document OCR may
	// read, in place of Limits.Timeout (which bounds the others): at 2 to
	// 4 s a page on each of two threads, ten minutes reads a scan of 300
	// to 600 pages, where two minutes stopped at 60 to 120 (and less on a
	// busy machine, whose clock runs while tesseract waits for a core).
	DefaultOCRTimeout = 10 * time.Minute
	// clockPerCPU: a document's clock is this many times its processor
	// time budget, so that a loaded machine (which slows the clock, not
	// the processor time) does not end an honest document early.
	clockPerCPU = 2
)

// ForSize returns l (with defaults) with CPU and Timeout cut to the budget
// of a document of size bytes: CPUBase + CPUPerMiB × its size in MiB of
// processor time, and twice that on the clock; l's own CPU and Timeout
// stay the ceiling. SizedCPU and SizedTimeout say which the budget cut,
// so that a failure on that limit says the file, not its length, is the
// trouble.
// A document of type typ that OCR may read (l.Tesseract set: an image,
// or a PDF's scanned pages) earns at least DefaultOCRPerMiB, and its
// ceiling is l.OCRTimeout on the clock (CPU scaled alike) when that is the
// longer. With CPUPerMiB negative, the ceiling is what it gets.
func (l Limits) ForSize(size int64, typ Type) Limits {
	l = l.WithDefaults()
	ocr := l.Tesseract != "" && (typ == TypePDF || typ.IsImage())
	if ocr && l.OCRTimeout > l.Timeout {
		// The CPU ceiling grows with the clock's, keeping their ratio.
		l.CPU = time.Duration(float64(l.CPU) * float64(l.OCRTimeout) / float64(l.Timeout))
		l.Timeout = l.OCRTimeout
	}
	if l.CPUPerMiB < 0 {
		return l
	}
	rate := l.CPUPerMiB
	if ocr {
		rate = max(rate, DefaultOCRPerMiB*raceSlowdown)
	}
	cpu := l.CPUBase + time.Duration(float64(rate)*float64(max(size, 0))/(1<<20))
	if cpu < l.CPU {
		l.CPU, l.SizedCPU = cpu, true
	}
	if clock := clockPerCPU * cpu; clock < l.Timeout {
		l.Timeout, l.SizedTimeout = clock, true
	}
	return l
}

// TimedOut is the failure of a document whose extraction took longer than
// lim.Timeout.
func TimedOut(lim Limits) *Error {
	if lim.SizedTimeout {
		return fail(CodeTimeout, "extracting the text took longer than the %s a file of this size is given; it is damaged or built to exhaust the reader: save or export it again from the program that made it", lim.Timeout)
	}
	return fail(CodeTimeout, "extracting the text took longer than %s; split the document into smaller files", lim.Timeout)
}

// TooMuchCPU is the failure of a document whose extraction took more than
// lim.CPU of processor time.
func TooMuchCPU(lim Limits) *Error {
	if lim.SizedCPU {
		return fail(CodeTooComplex, "reading the file took more than the %s of processor time a file of this size is given; it is damaged or built to exhaust the reader: save or export it again from the program that made it", lim.CPU)
	}
	return fail(CodeTooComplex, "reading the file took more than %s of processor time; it is damaged or built to exhaust the reader, or too large: split the document into smaller files", lim.CPU)
}
