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
