package extract

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
)

// corpusDoc is a PDF of BenchmarkPDFCorpus, read once per process.
type corpusDoc struct {
	name, path string
	data       []byte
	pages      int
	recall     float64 // of pdftotext's words in Extract's text
}

var corpus struct {
	once sync.Once
	docs []corpusDoc
	err  error
}

// loadCorpus reads the PDFs named by RAGD_BENCH_PDFS (paths or globs,
// separated by spaces), extracts each once and measures its word recall
// against pdftotext's text.
func loadCorpus(bin string) ([]corpusDoc, error) {
	corpus.once.Do(func() {
		var paths []string
		for _, pat := range strings.Fields(os.Getenv("RAGD_BENCH_PDFS")) {
			m, err := filepath.Glob(pat)
			if err != nil {
				corpus.err = err
				return
			}
			paths = append(paths, m...)
		}
		slices.Sort(paths)
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				corpus.err = err
				return
			}
			ext, err := Extract(context.Background(), TypePDF, data, Limits{MaxPages: 1 << 20, Timeout: time.Hour})
			if err != nil {
				corpus.err = fmt.Errorf("%s: %w", p, err)
				return
			}
			theirs, err := exec.Command(bin, "-enc", "UTF-8", p, "-").Output()
			if err != nil {
				corpus.err = fmt.Errorf("pdftotext %s: %w", p, err)
				return
			}
			corpus.docs = append(corpus.docs, corpusDoc{strings.TrimSuffix(filepath.Base(p), ".pdf"), p, data,
				ext.PageCount, wordRecall(string(theirs), ext.Text)})
		}
	})
	return corpus.docs, corpus.err
}

// BenchmarkPDFCorpus measures Extract against poppler's pdftotext (the
// baseline) on real PDFs, in the same run: pages per second for each file
// and for all of them one after the other ("All"), and, as the "recall"
// metric of Extract, the share of pdftotext's words (letters and digits,
// lowercased, with repetition) that Extract's text has. The files are
// those RAGD_BENCH_PDFS names; see BENCHMARKS.md for the Debian manuals
// it is run on.
func BenchmarkPDFCorpus(b *testing.B) {
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		b.Fatal("pdftotext is missing: install poppler-utils")
	}
	docs, err := loadCorpus(bin)
	if err != nil {
		b.Fatal(err)
	}
	if len(docs) == 0 {
		b.Skip("RAGD_BENCH_PDFS names no files")
	}
	allPages := 0
	for _, d := range docs {
		allPages += d.pages
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
				b.ReportMetric(d.recall, "recall")
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
