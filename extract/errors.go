package extract

import (
	"errors"
	"fmt"
)

// Failure codes of extraction, recorded on a failed document (the ingest
// pipeline adds its own). Clients match on these.
const (
	CodePDFEncrypted    = "pdf_encrypted"
	CodePDFMalformed    = "pdf_malformed"
	CodeNoText          = "no_text"
	CodeUnsupportedType = "unsupported_type"
	CodeTooManyPages    = "too_many_pages"
	CodeTooLarge        = "too_large"
	CodeInvalidEncoding = "invalid_encoding"
	CodeTimeout         = "timeout"
	// CodeTooComplex: extracting the file hit the sandbox's memory or CPU
	// limit, or nests too deeply (see Limits).
	CodeTooComplex = "too_complex"
	// CodeExtractCrashed: the extraction child died, twice, for another
	// reason.
	CodeExtractCrashed = "extract_crashed"
	CodeInternal       = "internal"
	// CodeOCRLowConfidence: OCR recognised words in the document's images,
	// but so few with confidence (MinOCRConfidence) that they would be
	// noise in the index.
	CodeOCRLowConfidence = "ocr_low_confidence"
	// CodeImageMalformed: an image the OCR cannot decode (damaged,
	// truncated, too large to hold).
	CodeImageMalformed = "image_malformed"
	// CodeEncrypted: a password-protected office document (an encrypted
	// .docx, .xlsx, .pptx or OpenDocument file), which ragd cannot open;
	// a protected PDF is pdf_encrypted, which a password opens.
	CodeEncrypted = "encrypted"
)

// Error is a permanent failure to read a document: retrying cannot help.
type Error struct {
	Code    string
	Message string // for people: what happened and what to do
	Err     error  // the cause, for logs; never shown to clients
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Message + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

func fail(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// AsError returns the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
