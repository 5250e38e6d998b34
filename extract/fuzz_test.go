package extract

import (
	"github.com/ragd/ragd/extract/extracttest"

	"bytes"
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ledongthuc/pdf"
)

// fuzzExtract checks what every extractor promises on any input: no panic
// escapes, failures are *Error with a code, and success gives valid UTF-8
// with sections and pages inside the text.
func fuzzExtract(f *testing.F, typ Type, seeds ...[]byte) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ext, err := Extract(ctx, typ, data, Limits{MaxTextBytes: 1 << 20, Timeout: 5 * time.Second, MaxUnzippedBytes: 4 << 20})
		if err != nil {
			if _, ok := AsError(err); !ok {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		if !utf8.ValidString(ext.Text) {
			t.Fatal("text is not UTF-8")
		}
		for _, s := range ext.Sections {
			if s.Start < 0 || s.End > len(ext.Text) || s.Start > s.End {
				t.Fatalf("section %+v outside text of %d bytes", s, len(ext.Text))
			}
		}
		for _, p := range ext.Pages {
			if p.Start < 0 || p.End > len(ext.Text) || p.Start > p.End {
				t.Fatalf("page %+v outside text of %d bytes", p, len(ext.Text))
			}
		}
	})
}

func FuzzExtractPDF(f *testing.F) {
	good := extracttest.ReportPDF()
	fuzzExtract(f, TypePDF, append([][]byte{good, good[:len(good)/2], extracttest.MakePDF([]string{"BT /F1 12 Tf (x) Tj ET"}), []byte("%PDF-1.4\n%%EOF")},
		encryptedSeeds(f)...)...)
}

// encryptedSeeds are ReportPDF encrypted with an empty user password by
// each method, so that fuzzing reaches the decryption (qpdf makes them).
func encryptedSeeds(f *testing.F) [][]byte {
	dir := f.TempDir()
	var seeds [][]byte
	for _, enc := range encryptions {
		seeds = append(seeds, qpdfEncrypt(f, dir, enc.name, append([]string{"", "owner"}, enc.args...)...))
	}
	return seeds
}

// FuzzDecryptPDF: the rewriter never panics (openPDF would hide a panic as
// pdf_malformed) and what it writes, the library opens.
func FuzzDecryptPDF(f *testing.F) {
	for _, s := range encryptedSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		plain, err := decryptPDF(data, "")
		if err != nil {
			return
		}
		if _, err := pdf.NewReader(bytes.NewReader(plain), int64(len(plain))); err != nil && !strings.Contains(err.Error(), "malformed") {
			t.Fatalf("the decrypted file does not open: %v", err)
		}
	})
}

// FuzzInflateObjectStreams: inflating a file's object streams ahead never
// panics, and the library opens what it appends whenever it opened the
// file (withInflatedObjectStreams falls back on the file otherwise, but a
// plain file's update should never need it).
func FuzzInflateObjectStreams(f *testing.F) {
	f.Add(extracttest.ObjectStreamPDF(3))
	f.Add(extracttest.XRefStmLoopPDF())
	f.Add(extracttest.ReportPDF())
	f.Fuzz(func(t *testing.T, data []byte) {
		update := inflateObjectStreams(data, 100)
		if update == nil {
			return
		}
		if _, err := pdf.NewReader(bytes.NewReader(data), int64(len(data))); err != nil {
			return
		}
		joined := appendedFile{data, update}
		if _, err := pdf.NewReader(joined, joined.size()); err != nil {
			t.Fatalf("the library opened the file but not its update: %v", err)
		}
	})
}

func FuzzExtractDOCX(f *testing.F) {
	textBox := extracttest.WParaRuns(extracttest.WRun("anchor"), extracttest.WTextBox(extracttest.WPara("", "box"), extracttest.WTable([]string{"c"})))
	fuzzExtract(f, TypeDOCX, extracttest.MakeDOCX(extracttest.WPara("Heading1", "T")+extracttest.WPara("", "body")+extracttest.WTable([]string{"a", "b"})), []byte("PK\x03\x04"),
		extracttest.MakeDOCX(extracttest.WPara("", "before")+textBox+extracttest.WPara("", "after")),
		extracttest.NestedDOCX(8), extracttest.NestedDOCX(60))
}

// FuzzExtractHTML: the short seeds exercise our own walk, the news and
// documentation pages (html_test.go) go-trafilatura and the pruning.
func FuzzExtractHTML(f *testing.F) {
	fuzzExtract(f, TypeHTML, []byte("<html><title>t</title><body><h1>H</h1><p>x</p><table><tr><td>1</td></tr></table></body></html>"), []byte("<div><div><p>a"), []byte("<script>x"),
		[]byte(newsPage()), []byte(docsPage))
}

func FuzzExtractMarkdown(f *testing.F) {
	fuzzExtract(f, TypeMarkdown, []byte("# A\n\ntext\n\nB\n===\n```\n# code\n```\n"), []byte("###### \n#\n"))
}

func FuzzExtractText(f *testing.F) {
	fuzzExtract(f, TypeText, []byte("plain\n\ntext"), []byte{0xFF, 0xFE, 'a', 0}, []byte("caf\xe9"))
}

// The office, book and mail formats (issue 24). The zip-based seeds are
// the smallest archives each extractor reads; the fuzzer's mutations of
// their bytes mostly exercise the archive and XML limits.
const (
	fuzzRelsNS = `xmlns="http://schemas.openxmlformats.org/package/2006/relationships"`
	fuzzPNS    = `xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"`
)

func FuzzExtractPPTX(f *testing.F) {
	fuzzExtract(f, TypePPTX, zipParts(
		"ppt/presentation.xml", `<p:presentation `+fuzzPNS+`><p:sldIdLst><p:sldId id="256" r:id="rId1"/></p:sldIdLst></p:presentation>`,
		"ppt/_rels/presentation.xml.rels", `<Relationships `+fuzzRelsNS+`><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/slide" Target="slides/slide1.xml"/></Relationships>`,
		"ppt/slides/slide1.xml", `<p:sld `+fuzzPNS+`><p:cSld><p:spTree><p:sp><p:nvSpPr><p:nvPr><p:ph type="title"/></p:nvPr></p:nvSpPr><p:txBody><a:p><a:r><a:t>Title</a:t></a:r></a:p></p:txBody></p:sp><p:sp><p:txBody><a:p><a:r><a:t>Body</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>`),
		[]byte("PK\x03\x04"))
}

func FuzzExtractXLSX(f *testing.F) {
	fuzzExtract(f, TypeXLSX, zipParts(
		"xl/workbook.xml", `<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>`,
		"xl/_rels/workbook.xml.rels", `<Relationships `+fuzzRelsNS+`><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`,
		"xl/worksheets/sheet1.xml", `<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Name</t></is></c><c r="B1" t="inlineStr"><is><t>Age</t></is></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>Ann</t></is></c><c r="B2"><v>31</v></c></row></sheetData></worksheet>`))
}

const fuzzODFNS = `xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0"`

func FuzzExtractODT(f *testing.F) {
	fuzzExtract(f, TypeODT, zipParts("mimetype", "application/vnd.oasis.opendocument.text",
		"content.xml", `<office:document-content `+fuzzODFNS+`><office:body><office:text><text:h text:outline-level="1">T</text:h><text:p>a<text:s/>b</text:p><text:list><text:list-item><text:p>i</text:p></text:list-item></text:list></office:text></office:body></office:document-content>`),
		[]byte(`<office:document `+fuzzODFNS+` office:mimetype="application/vnd.oasis.opendocument.text"><office:body><office:text><text:p>flat</text:p></office:text></office:body></office:document>`))
}

func FuzzExtractODS(f *testing.F) {
	fuzzExtract(f, TypeODS, zipParts("mimetype", "application/vnd.oasis.opendocument.spreadsheet",
		"content.xml", `<office:document-content `+fuzzODFNS+`><office:body><office:spreadsheet><table:table table:name="S"><table:table-row><table:table-cell><text:p>Name</text:p></table:table-cell></table:table-row><table:table-row table:number-rows-repeated="3"><table:table-cell table:number-columns-repeated="2"><text:p>x</text:p></table:table-cell></table:table-row></table:table></office:spreadsheet></office:body></office:document-content>`))
}

func FuzzExtractODP(f *testing.F) {
	fuzzExtract(f, TypeODP, zipParts("mimetype", "application/vnd.oasis.opendocument.presentation",
		"content.xml", `<office:document-content `+fuzzODFNS+`><office:body><office:presentation><draw:page draw:name="p1"><draw:frame presentation:class="title"><draw:text-box><text:p>Title</text:p></draw:text-box></draw:frame></draw:page></office:presentation></office:body></office:document-content>`))
}

func FuzzExtractEPUB(f *testing.F) {
	fuzzExtract(f, TypeEPUB, zipParts("mimetype", "application/epub+zip",
		"META-INF/container.xml", `<container xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles><rootfile full-path="OEBPS/book.opf"/></rootfiles></container>`,
		"OEBPS/book.opf", `<package xmlns="http://www.idpf.org/2007/opf" version="3.0"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>B</dc:title></metadata><manifest><item id="c1" href="c1.xhtml" media-type="application/xhtml+xml"/></manifest><spine><itemref idref="c1"/></spine></package>`,
		"OEBPS/c1.xhtml", `<html xmlns="http://www.w3.org/1999/xhtml"><head><title>One</title></head><body><h1>One</h1><p>Text of the first chapter.</p></body></html>`))
}

func FuzzExtractEML(f *testing.F) {
	fuzzExtract(f, TypeEML, []byte("From: a@example.com\r\nTo: b@example.com\r\nSubject: =?UTF-8?B?SMOpbGxv?=\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=E9\r\n--b\r\nContent-Type: text/plain; name=a.txt\r\nContent-Disposition: attachment; filename=a.txt\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n--b--\r\n"),
		[]byte("From: x\n\nbody"))
}

func FuzzExtractCSV(f *testing.F) {
	fuzzExtract(f, TypeCSV, []byte("Name,Age\nAnn,31\n\"B, C\",\"4\"\"\"\n"), []byte("a;b\n1,5;2\n"), []byte("a\tb\n1\t2\n"))
}
