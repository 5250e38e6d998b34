package sandbox

import (
	"context"
	"strings"
	"testing"

	"github.com/ragd/ragd/extract"
	"github.com/ragd/ragd/extract/extracttest"
)

// BenchmarkSandboxOverhead is what parsing in a child process adds to a
// document: the same extraction in this process (the baseline), in a warm
// child (the common case: children serve one document after another), and
// in a new child per document (after a child was retired).
func BenchmarkSandboxOverhead(b *testing.B) {
	docs := map[string]struct {
		typ  extract.Type
		data []byte
	}{
		"Text4KB": {extract.TypeText, []byte(strings.Repeat("Tenants upload documents and search them by meaning. ", 80))},
		"Book100": {extract.TypePDF, extracttest.BookPDF(100)},
	}
	for name, d := range docs {
		b.Run(name+"/InProcess", func(b *testing.B) {
			for b.Loop() {
				if _, err := extract.Extract(context.Background(), d.typ, d.data, extract.Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/WarmChild", func(b *testing.B) {
			sb := &Pool{MaxUses: 1 << 30}
			defer sb.Close()
			// One document first, untimed: the child's start is NewChild's.
			if _, err := sb.Extract(context.Background(), d.typ, BytesOpener(d.data), extract.Limits{}); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := sb.Extract(context.Background(), d.typ, BytesOpener(d.data), extract.Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/NewChild", func(b *testing.B) {
			sb := &Pool{MaxIdle: -1}
			for b.Loop() {
				if _, err := sb.Extract(context.Background(), d.typ, BytesOpener(d.data), extract.Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
