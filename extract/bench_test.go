package extract

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ledongthuc/pdf"

	"github.com/ragd/ragd/extract/extracttest"
)

// benchPDFs are the generated 100-page book and, when RAGD_BENCH_PDF names
// one, a real PDF.
func benchPDFs(b *testing.B) map[string][]byte {
	docs := map[string][]byte{"Book100": extracttest.BookPDF(100)}
	if path := os.Getenv("RAGD_BENCH_PDF"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		docs["File"] = data
	}
	return docs
}

// BenchmarkExtractPDF reports pages per second: our content-stream reader
// against the library's Page.Content (the baseline) on the same file in
// the same run, both feeding the same line building.
func BenchmarkExtractPDF(b *testing.B) {
	for name, data := range benchPDFs(b) {
		r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			b.Fatal(err)
		}
		pages := r.NumPage()
		b.Run(name+"/LibraryContent", func(b *testing.B) {
			for b.Loop() {
				for i := 1; i <= pages; i++ {
					var gs []glyph
					for _, t := range r.Page(i).Content().Text {
						gs = append(gs, glyph{x: t.X, y: t.Y, w: t.W, size: t.FontSize, s: t.S})
					}
					buildLines(gs)
				}
			}
			b.ReportMetric(float64(pages*b.N)/b.Elapsed().Seconds(), "pages/s")
		})
		b.Run(name+"/Extract", func(b *testing.B) {
			for b.Loop() {
				if _, err := Extract(context.Background(), TypePDF, data, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(pages*b.N)/b.Elapsed().Seconds(), "pages/s")
		})
	}
}

// BenchmarkExtractHTML reports the time Extract takes per page over the
// page folders under RAGD_BENCH_HTML (each with a source.html, as
// mozilla/readability's test pages in make eval-html), one core. It is
// skipped when RAGD_BENCH_HTML is not set: the pages live outside the
// repository.
func BenchmarkExtractHTML(b *testing.B) {
	dir := os.Getenv("RAGD_BENCH_HTML")
	if dir == "" {
		b.Skip("RAGD_BENCH_HTML names no folder of pages")
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*", "source.html"))
	if err != nil || len(paths) == 0 {
		b.Fatalf("no */source.html under %s (%v)", dir, err)
	}
	pages := make([][]byte, len(paths))
	for i, p := range paths {
		if pages[i], err = os.ReadFile(p); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		for i, page := range pages {
			if _, err := Extract(context.Background(), TypeHTML, page, Limits{}); err != nil {
				if e, ok := AsError(err); !ok || e.Code != CodeNoText {
					b.Fatalf("%s: %v", paths[i], err)
				}
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*len(pages)), "ms/page")
}

// BenchmarkExtractDOCXMillionNested is how long a DOCX of a million nested
// paragraphs takes to be refused as too large (TestExtractDOCXMillionNested
// checks that it is, with little memory).
func BenchmarkExtractDOCXMillionNested(b *testing.B) {
	data := extracttest.NestedDOCX(1_000_000)
	for b.Loop() {
		if _, err := Extract(context.Background(), TypeDOCX, data, Limits{}); err == nil {
			b.Fatal("a million nested paragraphs were read")
		}
	}
}
