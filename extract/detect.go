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
	// Slides: one section per slide, the slide number its page.
	TypePPTX Type = "pptx"
	TypeODP  Type = "odp"
	// Sheets: one section per sheet, rows with their header row.
	TypeXLSX Type = "xlsx"
	TypeODS  Type = "ods"
	TypeCSV  Type = "csv"
	// OpenDocument text (like DOCX), EPUB books and e-mail messages.
	TypeODT  Type = "odt"
	TypeEPUB Type = "epub"
	TypeEML  Type = "eml"
	// Images, read by OCR (when the server has it: Limits.Tesseract), a
	// TIFF's pages as pages. One type per format, so that the original
	// file is served with its own media type.
	TypePNG  Type = "png"
	TypeJPEG Type = "jpeg"
	TypeTIFF Type = "tiff"
	TypeWebP Type = "webp"
	TypeGIF  Type = "gif"
	TypePNM  Type = "pnm" // binary PBM, PGM and PPM
)

// IsImage reports whether t is an image type (read only by OCR).
func (t Type) IsImage() bool {
	switch t {
	case TypePNG, TypeJPEG, TypeTIFF, TypeWebP, TypeGIF, TypePNM:
		return true
	}
	return false
}

// imageType recognises an image by its magic bytes.
func imageType(head []byte) (Type, bool) {
	switch {
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return TypePNG, true
	case bytes.HasPrefix(head, []byte{0xFF, 0xD8, 0xFF}):
		return TypeJPEG, true
	case bytes.HasPrefix(head, []byte("II*\x00")), bytes.HasPrefix(head, []byte("MM\x00*")):
		return TypeTIFF, true
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WEBP":
		return TypeWebP, true
	case bytes.HasPrefix(head, []byte("GIF87a")), bytes.HasPrefix(head, []byte("GIF89a")):
		return TypeGIF, true
	case len(head) >= 3 && head[0] == 'P' && head[1] >= '4' && head[1] <= '6' && (head[2] == '\n' || head[2] == ' ' || head[2] == '\r' || head[2] == '\t'):
		return TypePNM, true
	}
	return "", false
}

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
	case TypePPTX:
		return "application/vnd.openxmlformats-officedocument.presentationml.presentation"
	case TypeXLSX:
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	case TypeODT:
		return "application/vnd.oasis.opendocument.text"
	case TypeODS:
		return "application/vnd.oasis.opendocument.spreadsheet"
	case TypeODP:
		return "application/vnd.oasis.opendocument.presentation"
	case TypeEPUB:
		return "application/epub+zip"
	case TypeEML:
		return "message/rfc822"
	case TypeCSV:
		return "text/csv; charset=utf-8"
	case TypePNG:
		return "image/png"
	case TypeJPEG:
		return "image/jpeg"
	case TypeTIFF:
		return "image/tiff"
	case TypeWebP:
		return "image/webp"
	case TypeGIF:
		return "image/gif"
	case TypePNM:
		return "image/x-portable-anymap"
	}
	return "text/plain; charset=utf-8"
}

// Detect decides a file's type from its bytes first and its name second;
// what the client said the type was plays no part. It returns false for
// anything ragd cannot extract (archives, executables, random
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
	case ext == ".pdf" && looksLikePDFSyntax(sample):
		// A damaged PDF whose header is lost or moved: it is read (and
		// fails pdf_malformed, saying why) rather than refused as a
		// file of no known type.
		return TypePDF, true
	case bytes.HasPrefix(sample, []byte("PK\x03\x04")):
		return zipType(r, size)
	case isCFB(sample):
		// A compound file named .docx, .xlsx or .pptx: password-protected
		// (or a legacy file renamed). It is taken, and fails saying which,
		// where the uploader sees it; any other is refused (OLE2Problem).
		t, ok := ooxmlByExt[ext]
		return t, ok
	}
	if t, ok := imageType(sample); ok {
		return t, true
	}
	if !looksLikeText(sample, size) {
		return "", false
	}
	if t, ok := flatODFType(sample); ok {
		return t, true
	}
	sniffed := http.DetectContentType(sample)
	switch {
	case ext == ".md" || ext == ".markdown" || ext == ".mdown" || ext == ".mkd":
		return TypeMarkdown, true
	case ext == ".html" || ext == ".htm" || ext == ".xhtml" || strings.HasPrefix(sniffed, "text/html"):
		return TypeHTML, true
	case ext == ".csv" || ext == ".tsv" || ext == ".psv":
		return TypeCSV, true
	case ext == ".eml" || looksLikeMail(sample):
		return TypeEML, true
	}
	return TypeText, true
}

// zipType is the type of a zip archive, from the names of its parts and
// an OpenDocument or EPUB archive's mimetype part (or an EPUB's
// META-INF/container.xml); false for an archive that is none of them. It reads the central directory and at most 256
// bytes of the mimetype part.
func zipType(r io.ReaderAt, size int64) (Type, bool) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return "", false
	}
	container := false
	for _, f := range zr.File {
		switch f.Name {
		case "META-INF/container.xml":
			container = true
		case "word/document.xml":
			return TypeDOCX, true
		case "ppt/presentation.xml":
			return TypePPTX, true
		case "xl/workbook.xml":
			return TypeXLSX, true
		case "mimetype":
			rc, err := f.Open()
			if err != nil {
				return "", false
			}
			b, _ := io.ReadAll(io.LimitReader(rc, 256))
			rc.Close()
			if t, ok := mimeTypes[strings.TrimSpace(string(b))]; ok {
				return t, true
			}
		}
	}
	// An EPUB whose mimetype part is missing or wrong is still a book
	// when it has its container (its package document names the rest).
	if container {
		return TypeEPUB, true
	}
	return "", false
}

// mimeTypes are the mimetype parts of the OpenDocument and EPUB archives
// ragd reads.
var mimeTypes = map[string]Type{
	"application/vnd.oasis.opendocument.text":         TypeODT,
	"application/vnd.oasis.opendocument.spreadsheet":  TypeODS,
	"application/vnd.oasis.opendocument.presentation": TypeODP,
	"application/epub+zip":                            TypeEPUB,
}

// flatODFType recognises a flat (single XML file) OpenDocument (.fodt,
// .fods, .fodp) from its root element's office:mimetype, in the file's
// first textSample bytes (LibreOffice declares some forty namespaces
// before it: past the first KiB).
func flatODFType(head []byte) (Type, bool) {
	if !bytes.Contains(head, []byte("<office:document")) {
		return "", false
	}
	i := bytes.Index(head, []byte(`office:mimetype="`))
	if i < 0 {
		return "", false
	}
	rest := head[i+len(`office:mimetype="`):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return "", false
	}
	t, ok := mimeTypes[string(rest[:j])]
	return t, ok && t != TypeEPUB
}

// looksLikeMail recognises an Internet message (RFC 5322) by its header
// block: it starts with header fields, and among them a From and a Date,
// Subject, Message-ID or MIME-Version.
func looksLikeMail(sample []byte) bool {
	end := bytes.Index(sample, []byte("\n\n"))
	if e := bytes.Index(sample, []byte("\r\n\r\n")); e >= 0 && (end < 0 || e < end) {
		end = e
	}
	if end <= 0 {
		return false
	}
	var from, other bool
	for i, line := range bytes.Split(sample[:end], []byte("\n")) {
		line = bytes.TrimRight(line, "\r")
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			continue // a folded header's continuation
		}
		name, _, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(name) == 0 || bytes.ContainsAny(name, " \t") {
			if i == 0 && bytes.HasPrefix(line, []byte("From ")) {
				continue // an mbox separator line
			}
			return false
		}
		switch strings.ToLower(string(name)) {
		case "from":
			from = true
		case "date", "subject", "message-id", "mime-version":
			other = true
		}
	}
	return from && other
}

// textSample is how much of a file Detect reads to judge it.
const textSample = 8192

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

// looksLikePDFSyntax reports whether sample holds PDF's object syntax: an
// object and its end, or a trailer and a cross-reference table.
func looksLikePDFSyntax(sample []byte) bool {
	return (bytes.Contains(sample, []byte(" obj")) && bytes.Contains(sample, []byte("endobj"))) ||
		(bytes.Contains(sample, []byte("trailer")) && bytes.Contains(sample, []byte("xref")))
}

// ooxmlByExt are the OOXML types by file name extension (macro-enabled
// and template variants too).
var ooxmlByExt = map[string]Type{
	".docx": TypeDOCX, ".docm": TypeDOCX, ".dotx": TypeDOCX,
	".xlsx": TypeXLSX, ".xlsm": TypeXLSX, ".xltx": TypeXLSX,
	".pptx": TypePPTX, ".pptm": TypePPTX, ".potx": TypePPTX,
}

// CompoundFileProblem says why a file Detect refused is refused when it is
// a compound file (OLE2): a legacy binary Office file, or a
// password-protected one under another name. It returns "" for any
// other file.
func CompoundFileProblem(r io.ReaderAt, size int64) string {
	var head [8]byte
	if n, _ := r.ReadAt(head[:], 0); n < len(head) || !isCFB(head[:]) {
		return ""
	}
	if cfbEncrypted(r, size) {
		return "the file is a password-protected Office document, which ragd cannot open; save a copy without the password and upload that"
	}
	return "the file is a legacy binary Office file (.doc, .xls, .ppt or .msg), which ragd does not read; save it as .docx, .xlsx or .pptx (or export the message as .eml) and upload that"
}
