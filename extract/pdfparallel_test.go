package extract

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/ledongthuc/pdf"

	"github.com/ragd/ragd/extract/extracttest"
)

// samePDFs are the PDFs on which every way of reading pages must agree:
// generated ones (simple fonts, a CID font, a 100-page book), the same
// rewritten by qpdf into object streams (plain and encrypted), and real
// manuals from Debian's bash-doc (make test installs it): bashref.pdf
// (pdfTeX, object streams) and bash.pdf (groff, none). objStm says the
// file has object streams to inflate.
func samePDFs(t *testing.T) map[string]struct {
	data   []byte
	objStm bool
} {
	t.Helper()
	dir := t.TempDir()
	book := extracttest.BookPDF(100)
	docs := map[string]struct {
		data   []byte
		objStm bool
	}{
		"Report":               {extracttest.ReportPDF(), false},
		"CIDFont":              {extracttest.MakeCIDPDF([]string{"tenant", "documents", "stay", "apart"}, []string{"second", "line"}), false},
		"Book100":              {book, false},
		"Book100ObjectStreams": {qpdfRewrite(t, dir, "book-objstm", book, "--object-streams=generate"), true},
		"ReportObjectStreamsEncrypted": {extracttest.EncryptPDF(t, extracttest.ReportPDF(), dir, "report-objstm-aes",
			"--object-streams=generate", "", "owner", "256"), true},
	}
	for name, path := range map[string]string{"bashref": "/usr/share/doc/bash-doc/bashref.pdf", "bash": "/usr/share/doc/bash-doc/bash.pdf"} {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v: install bash-doc (make test does)", err)
		}
		docs[name] = struct {
			data   []byte
			objStm bool
		}{data, name == "bashref"}
	}
	return docs
}

// qpdfRewrite runs data through qpdf with args.
func qpdfRewrite(t *testing.T, dir, name string, data []byte, args ...string) []byte {
	t.Helper()
	in, out := filepath.Join(dir, name+".in.pdf"), filepath.Join(dir, name+".pdf")
	if err := os.WriteFile(in, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command("qpdf", append(args, in, out)...).CombinedOutput(); err != nil {
		t.Fatalf("qpdf %v: %v: %s (make test installs qpdf)", args, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestExtractPDFParallelSameAsSequential: reading a PDF's pages on any
// number of threads gives exactly the text, sections and pages of reading
// them one by one.
func TestExtractPDFParallelSameAsSequential(t *testing.T) {
	t.Parallel()
	for name, d := range samePDFs(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			seq, err := Extract(t.Context(), TypePDF, d.data, Limits{Parallel: 1})
			if err != nil {
				t.Fatal(err)
			}
			if seq.PageCount == 0 || len(seq.Text) == 0 {
				t.Fatalf("nothing read: %d pages, %d bytes", seq.PageCount, len(seq.Text))
			}
			for _, workers := range []int{2, 3, 8} {
				par, err := Extract(t.Context(), TypePDF, d.data, Limits{Parallel: workers})
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(seq, par) {
					t.Fatalf("%d workers: the result differs from one worker's (text %d vs %d bytes)", workers, len(par.Text), len(seq.Text))
				}
			}
		})
	}
}

// TestPDFInflatedObjectStreamsReadTheSame: the library reads a file whose
// object streams were inflated ahead (inflateObjectStreams), through the
// page list walked once (pageList), line for line as it reads the file
// itself page by page with Reader.Page.
func TestPDFInflatedObjectStreamsReadTheSame(t *testing.T) {
	t.Parallel()
	for name, d := range samePDFs(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data := repairPDF(d.data)
			if bytes.Contains(data, []byte("/Encrypt")) {
				var err error
				if data, err = decryptPDF(data, ""); err != nil {
					t.Fatal(err)
				}
			}
			plain, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			n := plain.NumPage()
			update := inflateObjectStreams(data, n)
			if (update != nil) != d.objStm {
				t.Fatalf("object streams inflated: %v, want %v", update != nil, d.objStm)
			}
			// Read as the file with the update appended, in one piece (the
			// appendedFile reader is tested below).
			inflated := append(bytes.Clone(data), update...)
			fast, err := pdf.NewReader(bytes.NewReader(inflated), int64(len(inflated)))
			if err != nil || fast.NumPage() != n {
				t.Fatalf("the inflated file does not open as the original: %v", err)
			}
			ref := newPDFDoc(plain, n)
			ref.pages = nil // Reader.Page for every page
			want, wantErrs := readPages(context.Background(), ref, n, 1)
			doc := newPDFDoc(fast, n)
			if doc.pages == nil {
				t.Fatal("the page tree was not walked")
			}
			got, gotErrs := readPages(context.Background(), doc, n, 2)
			if !reflect.DeepEqual(want, got) || !reflect.DeepEqual(wantErrs, gotErrs) {
				t.Fatal("the inflated file's lines differ from the original's")
			}
		})
	}
}

// TestInflateObjectStreamsSkipsHugeTables: a file that declares a million
// objects for one page is read as it is.
func TestInflateObjectStreamsSkipsHugeTables(t *testing.T) {
	t.Parallel()
	if inflateObjectStreams(extracttest.ObjectStreamPDF(1000), 1) == nil {
		t.Fatal("a small object stream was not inflated")
	}
	if inflateObjectStreams(extracttest.ObjectStreamPDF(1_000_000), 1) != nil {
		t.Fatal("a million objects for one page were inflated")
	}
}

// TestAppendedFileReadAt: reads across the join, at the end and past it.
func TestAppendedFileReadAt(t *testing.T) {
	t.Parallel()
	a := appendedFile{[]byte("hello "), []byte("world")}
	whole := "hello world"
	for off := 0; off <= len(whole)+2; off++ {
		for n := 0; n <= len(whole)+2; n++ {
			p := make([]byte, n)
			got, err := a.ReadAt(p, int64(off))
			want := ""
			if off < len(whole) {
				want = whole[off:min(len(whole), off+n)]
			}
			if string(p[:got]) != want || (got < n) != (err == io.EOF) || (err != nil && err != io.EOF) {
				t.Fatalf("ReadAt(%d bytes, %d) = %q, %v; want %q", n, off, p[:got], err, want)
			}
		}
	}
	if _, err := a.ReadAt(make([]byte, 1), -1); err == nil {
		t.Fatal("a negative offset was read")
	}
}
