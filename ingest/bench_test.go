package ingest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/ragd/ragd/ingest/ingesttest"
)

// bookPDF has n pages, each a heading and 40 lines of body text.
func bookPDF(n int) []byte {
	pages := make([]string, n)
	for p := range n {
		var b strings.Builder
		b.WriteString(ingesttest.PDFText(72, 740, 18, fmt.Sprintf("Chapter %d", p+1)))
		for l := range 40 {
			b.WriteString(ingesttest.PDFText(72, float64(710-l*15), 10, fmt.Sprintf("Line %d of page %d: tenants upload documents and search them by meaning.", l, p+1)))
		}
		pages[p] = b.String()
	}
	return ingesttest.MakePDF(pages)
}

// BenchmarkExtractPDF reports pages per second for a 100-page PDF.
func BenchmarkExtractPDF(b *testing.B) {
	data := bookPDF(100)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		ext, err := Extract(context.Background(), TypePDF, data, Limits{})
		if err != nil || ext.PageCount != 100 {
			b.Fatalf("%v, %d pages", err, ext.PageCount)
		}
	}
	b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "pages/s")
}
