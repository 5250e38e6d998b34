package ingest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
)

// BenchmarkPDFCorpus measures Extract against poppler's pdftotext (the
// baseline) on real PDFs, in the same run: pages per second for each file
// and for all of them in one pass ("All"), and our word recall against
// pdftotext's words for each file (the "recall" metric). The files are the
// paths (globs allowed) in RAGD_BENCH_PDFS, separated by spaces; see
// BENCHMARKS.md for the Debian manuals it is run on.
func BenchmarkPDFCorpus(b *testing.B) {
	var paths []string
	for _, pat := range strings.Fields(os.Getenv("RAGD_BENCH_PDFS")) {
		m, err := filepath.Glob(pat)
		if err != nil {
			b.Fatal(err)
		}
		paths = append(paths, m...)
	}
	if len(paths) == 0 {
		b.Skip("RAGD_BENCH_PDFS names no files")
	}
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		b.Fatal("pdftotext is missing: install poppler-utils")
	}
	slices.Sort(paths)
	type doc struct {
		name, path string
		data       []byte
		pages      int
	}
	var docs []doc
	allPages := 0
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		ext, err := Extract(context.Background(), TypePDF, data, Limits{MaxPages: 1 << 20, Timeout: time.Hour})
		if err != nil {
			b.Fatalf("%s: %v", p, err)
		}
		theirs, err := exec.Command(bin, "-enc", "UTF-8", p, "-").Output()
		if err != nil {
			b.Fatalf("pdftotext %s: %v", p, err)
		}
		name := strings.TrimSuffix(filepath.Base(p), ".pdf")
		b.Logf("%s: %d pages, word recall against pdftotext %.4f", name, ext.PageCount, wordRecall(string(theirs), ext.Text))
		docs = append(docs, doc{name, p, data, ext.PageCount})
		allPages += ext.PageCount
	}
	pdftotext := func(b *testing.B, path string) {
		if err := exec.Command(bin, "-enc", "UTF-8", "-q", path, os.DevNull).Run(); err != nil {
			b.Fatalf("pdftotext %s: %v", path, err)
		}
	}
	// Extract on as many threads as the process has (the default), and
	// on one, which shows what the work itself costs.
	variants := []struct {
		name string
		lim  Limits
	}{
		{"Extract", Limits{MaxPages: 1 << 20, Timeout: time.Hour}},
		{"Extract1", Limits{MaxPages: 1 << 20, Timeout: time.Hour, Parallel: 1}},
	}
	extract := func(b *testing.B, data []byte, lim Limits) {
		if _, err := Extract(context.Background(), TypePDF, data, lim); err != nil {
			b.Fatal(err)
		}
	}
	for _, d := range docs {
		b.Run(d.name+"/pdftotext", func(b *testing.B) {
			for b.Loop() {
				pdftotext(b, d.path)
			}
			b.ReportMetric(float64(d.pages*b.N)/b.Elapsed().Seconds(), "pages/s")
		})
		for _, v := range variants {
			b.Run(d.name+"/"+v.name, func(b *testing.B) {
				for b.Loop() {
					extract(b, d.data, v.lim)
				}
				b.ReportMetric(float64(d.pages*b.N)/b.Elapsed().Seconds(), "pages/s")
			})
		}
	}
	b.Run("All/pdftotext", func(b *testing.B) {
		for b.Loop() {
			for _, d := range docs {
				pdftotext(b, d.path)
			}
		}
		b.ReportMetric(float64(allPages*b.N)/b.Elapsed().Seconds(), "pages/s")
	})
	for _, v := range variants {
		b.Run("All/"+v.name, func(b *testing.B) {
			for b.Loop() {
				for _, d := range docs {
					extract(b, d.data, v.lim)
				}
			}
			b.ReportMetric(float64(allPages*b.N)/b.Elapsed().Seconds(), "pages/s")
		})
	}
}

// wordRecall is the share of reference's words (letters and digits,
// lowercased, counted with repetition) that text also has.
func wordRecall(reference, text string) float64 {
	words := func(s string) map[string]int {
		m := map[string]int{}
		for _, w := range strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			m[string(bytes.ToLower([]byte(w)))]++
		}
		return m
	}
	ref, got := words(reference), words(text)
	total, found := 0, 0
	for w, n := range ref {
		total += n
		found += min(n, got[w])
	}
	if total == 0 {
		return 1
	}
	return float64(found) / float64(total)
}
