package chunker

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/tiktoken-go/tokenizer/codec"
)

// benchDocs are Markdown-like sections with headings and paragraphs and
// plain prose in lines with no structure, about 1 MiB each, and real text
// (0.6 MB): the Go distribution's own documentation (HTML and Markdown prose
// with code) and some of its sources, which any machine that runs these
// benchmarks has.
func benchDocs(tb testing.TB) map[string]Document {
	r := rand.New(rand.NewPCG(42, 42))
	md := markdownLike(r, 0)
	for len(md.Text) < 1<<20 {
		more := markdownLike(r, 50)
		off := len(md.Text)
		for _, s := range more.Sections {
			md.Sections = append(md.Sections, Section{Start: s.Start + off, End: s.End + off, HeadingPath: s.HeadingPath})
		}
		md.Text += more.Text
	}
	var b strings.Builder
	for b.Len() < 1<<20 {
		b.WriteString(words(r, 12))
		b.WriteByte('\n')
	}
	var real strings.Builder
	for _, f := range []string{
		"doc/go_spec.html", "doc/go_mem.html", "doc/asm.html", "doc/godebug.md",
		"src/net/http/server.go", "src/strings/strings.go", "src/unicode/utf8/utf8_test.go",
		"src/fmt/doc.go", "src/go/ast/ast.go",
	} {
		data, err := os.ReadFile(filepath.Join(runtime.GOROOT(), f))
		if err != nil {
			tb.Fatal(err)
		}
		real.Write(data)
	}
	return map[string]Document{"Markdown": md, "PlainText": {Text: b.String()}, "GoDocs": {Text: real.String()}}
}

// BenchmarkChunking measures Split against the tokenizer alone on the same
// text in the same run: Split tokenizes once and counts each chunk once
// more, so it should take about twice the tokenizer's time. LibraryCount is
// the baseline: github.com/tiktoken-go/tokenizer counting the same text.
//
// Besides MB/s of wall-clock time, each reports cpu-MB/s: bytes per second
// of the CPU time the process used. On a machine shared with other work
// the wall clock measures the load as much as the code; with -cpu 1 the
// process's CPU time is the benchmark's own (and its garbage collection's).
func BenchmarkChunking(b *testing.B) {
	c := newChunker(b, Options{})
	lib := codec.NewCl100kBase()
	for name, doc := range benchDocs(b) {
		for _, bench := range []struct {
			name string
			f    func(b *testing.B)
		}{
			{"LibraryCount", func(b *testing.B) {
				if _, err := lib.Count(doc.Text); err != nil {
					b.Fatal(err)
				}
			}},
			{"TokenizerCount", func(*testing.B) { c.tok.Count(doc.Text) }},
			{"TokenizerOffsets", func(*testing.B) { c.tok.Offsets(nil, doc.Text) }},
			{"Split", func(b *testing.B) {
				if _, err := c.Split(doc); err != nil {
					b.Fatal(err)
				}
			}},
		} {
			b.Run(name+"/"+bench.name, func(b *testing.B) {
				b.SetBytes(int64(len(doc.Text)))
				start, ok := cpuTime()
				for b.Loop() {
					bench.f(b)
				}
				if end, _ := cpuTime(); ok && end > start {
					b.ReportMetric(float64(len(doc.Text))*float64(b.N)/(end-start).Seconds()/1e6, "cpu-MB/s")
				}
			})
		}
	}
}

// BenchmarkBPELongRuns is the time TestBPELongRuns does not assert: BPE on
// one piece of 64 KiB, 256 KiB and 1 MiB of a repeated letter and of
// random letters, beside the tokenizer library counting the same text (up
// to 256 KiB). Linear merging keeps ns/op in step with the length (4x,
// then 4x); merged at O(n²) each step would cost 16x.
func BenchmarkBPELongRuns(b *testing.B) {
	bpe, lib := cl100k(b), library()
	r := rand.New(rand.NewPCG(3, 3))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	letters := make([]byte, 1<<20)
	for i := range letters {
		letters[i] = alphabet[r.IntN(len(alphabet))]
	}
	for _, size := range []int{64 << 10, 256 << 10, 1 << 20} {
		for name, text := range map[string]string{"Letter": strings.Repeat("a", size), "Letters": string(letters[:size])} {
			b.Run(fmt.Sprintf("%s/%dKiB", name, size>>10), func(b *testing.B) {
				b.SetBytes(int64(size))
				for b.Loop() {
					bpe.Count(text)
				}
			})
			if size > 256<<10 {
				continue
			}
			b.Run(fmt.Sprintf("%s/%dKiB/Library", name, size>>10), func(b *testing.B) {
				b.SetBytes(int64(size))
				for b.Loop() {
					if _, err := lib.Count(text); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
