package extract

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"time"
)

// DefaultMaxPages is the default page limit of a PDF: above the
// longest manuals people upload (R's reference manual has 2,415 pages,
// Intel's combined architecture manual about 5,000). What bounds the work
// of a document is its text (MaxTextBytes, and the ingest pipeline's
// token limit), time, processor
// time and memory; the page count only refuses a file early.
const DefaultMaxPages = 10_000

// Limits bound the work extracting one document may cause. Zero fields
// take defaults.
type Limits struct {
	// MaxPages: PDFs with more pages fail with too_many_pages. Default
	// DefaultMaxPages.
	MaxPages int
	// Parallel: pages of one PDF read at once, each on its own thread.
	// Default GOMAXPROCS. The text is the same for any value.
	Parallel int
	// MaxTextBytes: extracted text over this fails with too_large.
	// Default 20 MiB.
	MaxTextBytes int
	// MaxUnzippedBytes: a DOCX whose parts inflate beyond this fails with
	// too_large (zip bombs). Default 100 MiB.
	MaxUnzippedBytes int64
	// Timeout for extracting one document, wall clock. Default 2 minutes.
	Timeout time.Duration
	// Memory bounds the extraction child's data segment (its heap and
	// every other private writable mapping), in bytes. Default 1 GiB.
	Memory int64
	// CPU bounds the extraction child's processor time per document,
	// counting all its threads. Default: Timeout × Parallel, so that by
	// default the clock decides (reading Parallel pages at once spends
	// processor time up to Parallel times as fast as the clock runs).
	CPU time.Duration
	// CPUBase and CPUPerMiB scale a document's processor time and clock
	// to its size (ForSize, which the sandbox applies), CPU and Timeout
	// being the ceiling. Defaults DefaultCPUBase and DefaultCPUPerMiB
	// (ten times those under the race detector, which runs code that much
	// slower); CPUPerMiB negative: no scaling.
	CPUBase, CPUPerMiB time.Duration
	// SizedCPU, SizedTimeout: ForSize cut CPU, Timeout, to the
	// document's budget (the failure's advice then blames the file, not
	// its length).
	SizedCPU, SizedTimeout bool
	// Tesseract is the path of the tesseract program that recognises the
	// text of images and of PDF pages without a text layer; "" turns OCR
	// off: images fail with unsupported_type and such pages stay empty.
	// Pdftoppm renders those pages ("": they stay empty). Absolute paths:
	// the extraction child has no PATH (see FindOCRTools).
	Tesseract, Pdftoppm string `json:",omitempty"`
	// OCRLanguages are tesseract's languages, '+'-joined ("eng+deu").
	// Default DefaultOCRLanguages.
	OCRLanguages string `json:",omitempty"`
	// OCRTimeout replaces Timeout as the ceiling of a document OCR may
	// read, when longer (ForSize). Default DefaultOCRTimeout.
	OCRTimeout time.Duration `json:",omitempty"`
}

// WithDefaults returns l with zero fields set to their defaults.
func (l Limits) WithDefaults() Limits {
	if l.MaxPages == 0 {
		l.MaxPages = DefaultMaxPages
	}
	if l.Parallel <= 0 {
		l.Parallel = runtime.GOMAXPROCS(0)
	}
	if l.MaxTextBytes == 0 {
		l.MaxTextBytes = 20 << 20
	}
	if l.MaxUnzippedBytes == 0 {
		l.MaxUnzippedBytes = 100 << 20
	}
	if l.Timeout == 0 {
		l.Timeout = 2 * time.Minute
	}
	if l.Memory == 0 {
		l.Memory = 1 << 30
	}
	if l.CPU == 0 {
		l.CPU = l.Timeout * time.Duration(l.Parallel)
	}
	if l.CPUBase == 0 {
		l.CPUBase = DefaultCPUBase * raceSlowdown
	}
	if l.CPUPerMiB == 0 {
		l.CPUPerMiB = DefaultCPUPerMiB * raceSlowdown
	}
	if l.OCRLanguages == "" {
		l.OCRLanguages = DefaultOCRLanguages
	}
	if l.OCRTimeout == 0 {
		l.OCRTimeout = DefaultOCRTimeout
	}
	return l
}

// Extractor extracts the documents of one type. password opens a
// protected document ("" for none; only PDFs have one).
type Extractor func(ctx context.Context, data []byte, password string, lim Limits) (Extracted, error)

// Extractors are extractors by type.
type Extractors map[Type]Extractor

// Builtin returns ragd's extractors, one for each Type, in a map of the
// caller's own.
func Builtin() Extractors {
	return Extractors{
		TypeText:     withoutPassword(extractText),
		TypeMarkdown: withoutPassword(extractMarkdown),
		TypeHTML:     withoutPassword(extractHTML),
		TypePDF:      extractPDF,
		TypeDOCX:     withoutPassword(extractDOCX),
		TypePPTX:     withoutPassword(extractPPTX),
		TypeODP:      withoutPassword(extractODP),
		TypeXLSX:     withoutPassword(extractXLSX),
		TypeODS:      withoutPassword(extractODS),
		TypeCSV:      withoutPassword(extractCSV),
		TypeODT:      withoutPassword(extractODT),
		TypeEPUB:     withoutPassword(extractEPUB),
		TypeEML:      withoutPassword(extractEML),
		TypePNG:      withoutPassword(extractImage),
		TypeJPEG:     withoutPassword(extractImage),
		TypeTIFF:     withoutPassword(extractImage),
		TypeWebP:     withoutPassword(extractImage),
		TypeGIF:      withoutPassword(extractImage),
		TypePNM:      withoutPassword(extractImage),
	}
}

func withoutPassword(ex func(context.Context, []byte, Limits) (Extracted, error)) Extractor {
	return func(ctx context.Context, data []byte, _ string, lim Limits) (Extracted, error) {
		return ex(ctx, data, lim)
	}
}

// Extract extracts a document of type typ in this process with the
// builtin extractors. A panic in a parser becomes an internal *Error and
// the time limit a timeout *Error; parsers check ctx between pages or
// blocks, and one that cannot be interrupted is left to finish in the
// background while Extract returns. Neither protects against Go's fatal
// errors (out of memory, stack overflow) or a parser that never returns:
// servers extract untrusted files in the child processes of a
// sandbox.Pool, which call Extract.
func Extract(ctx context.Context, typ Type, data []byte, lim Limits) (Extracted, error) {
	return Builtin().Extract(ctx, typ, data, "", lim)
}

// ExtractWithPassword is Extract for a document that may be protected
// with a password (a PDF; other types ignore it). password is used for
// this extraction only: it is kept nowhere and no error mentions it. A
// PDF that needs a password and was not given the right one fails with
// pdf_encrypted.
func ExtractWithPassword(ctx context.Context, typ Type, data []byte, password string, lim Limits) (Extracted, error) {
	return Builtin().Extract(ctx, typ, data, password, lim)
}

// Extract is the package's Extract (and ExtractWithPassword) with xs: a
// type xs has no extractor for fails with unsupported_type.
func (xs Extractors) Extract(ctx context.Context, typ Type, data []byte, password string, lim Limits) (Extracted, error) {
	lim = lim.WithDefaults()
	ex, ok := xs[typ]
	if !ok {
		return Extracted{}, fail(CodeUnsupportedType, "documents of type %q are not supported", typ)
	}
	return runExtractor(ctx, typ, func(ctx context.Context, data []byte, lim Limits) (Extracted, error) {
		return ex(ctx, data, password, lim)
	}, data, lim)
}

// runExtractor runs ex behind recover and lim.Timeout.
func runExtractor(ctx context.Context, typ Type, ex func(context.Context, []byte, Limits) (Extracted, error), data []byte, lim Limits) (Extracted, error) {
	ctx, cancel := context.WithTimeout(ctx, lim.Timeout)
	defer cancel()

	type result struct {
		ext Extracted
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- result{err: &Error{Code: CodeInternal, Message: "the document could not be read",
					Err: fmt.Errorf("panic in %s extractor: %v\n%s", typ, v, debug.Stack())}}
			}
		}()
		ext, err := ex(ctx, data, lim)
		done <- result{ext, err}
	}()
	select {
	case r := <-done:
		if r.err != nil && errors.Is(r.err, context.DeadlineExceeded) && ctx.Err() != nil {
			return Extracted{}, TimedOut(lim)
		}
		return r.ext, r.err
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return Extracted{}, TimedOut(lim)
		}
		return Extracted{}, ctx.Err()
	}
}
