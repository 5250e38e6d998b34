package extract

import (
	"archive/zip"
	"bytes"
	"io"
	"net/http"
	"path"
	"strings"
	"unicode/utf8"
)

// Type is a document type ragd can extract.
type Type string

// The supported types.
const (
	TypePDF      Type = "pdf"
	TypeDOCX     Type = "docx"
	TypeHTML     Type = "html"
	TypeMarkdown Type = "markdown"
	TypeText     Type = "text"
)

// MediaType returns the type's MIME type, for serving the original file.
func (t Type) MediaType() string {
	switch t {
	case TypePDF:
		return "application/pdf"
	case TypeDOCX:
		return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	case TypeHTML:
		return "text/html; charset=utf-8"
	case TypeMarkdown:
		return "text/markdown; charset=utf-8"
	}
	return "text/plain; charset=utf-8"
}

// Detect decides a file's type from its bytes first and its name second;
// what the client said the type was plays no part. It returns false for
// anything ragd cannot extract (images, archives, executables, random
// bytes), whatever the file is called. It reads the first 8 KiB of r and,
// for a zip archive, its central directory: never the whole file.
func Detect(r io.ReaderAt, size int64, filename string) (Type, bool) {
	if size <= 0 {
		return "", false
	}
	ext := strings.ToLower(path.Ext(filename))
	sample := make([]byte, min(size, textSample))
	if n, _ := r.ReadAt(sample, 0); n < len(sample) {
		return "", false // unreadable, or shorter than size said
	}
	head := sample[:min(len(sample), 1024)]
	switch {
	case bytes.Contains(head, []byte("%PDF-")):
		return TypePDF, true
	case bytes.HasPrefix(sample, []byte("PK\x03\x04")):
		if isDOCX(r, size) {
			return TypeDOCX, true
		}
		return "", false
	}
	if !looksLikeText(sample, size) {
		return "", false
	}
	sniffed := http.DetectContentType(sample)
	switch {
	case ext == ".md" || ext == ".markdown" || ext == ".mdown" || ext == ".mkd":
		return TypeMarkdown, true
	case ext == ".html" || ext == ".htm" || ext == ".xhtml" || strings.HasPrefix(sniffed, "text/html"):
		return TypeHTML, true
	}
	return TypeText, true
}

// textSample is how much of a file Detect reads to judge it.
const textSample = 8192

// isDOCX reports whether a zip archive holds a Word document body. It
// reads only the archive's central directory.
func isDOCX(r io.ReaderAt, size int64) bool {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return false
	}
	for _, f := range zr.File {
		if f.Name == "word/document.xml" {
			return true
		}
	}
	return false
}

// looksLikeText accepts UTF-8, UTF-16 with a byte order mark, and 8-bit
// text (Latin-1); it refuses data with NUL bytes or many control bytes,
// which is what binary files look like. sample is the file's first
// textSample bytes (or all of it), size the file's size.
func looksLikeText(sample []byte, size int64) bool {
	if bytes.HasPrefix(sample, []byte{0xFF, 0xFE}) || bytes.HasPrefix(sample, []byte{0xFE, 0xFF}) {
		return size%2 == 0
	}
	if utf8.Valid(sample[:max(0, len(sample)-3)]) && !bytes.Contains(sample, []byte{0}) {
		return true
	}
	bad := 0
	for _, c := range sample {
		if c == 0 {
			return false
		}
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\f' {
			bad++
		}
	}
	return bad*100 < len(sample) // under 1% control bytes
}
