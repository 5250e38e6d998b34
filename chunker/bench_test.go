package chunker

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// benchDocs are about 1 MiB each: Markdown-like sections with headings and
// paragraphs, and plain prose in lines with no structure.
func benchDocs() map[string]Document {
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
	return map[string]Document{"Markdown": md, "PlainText": {Text: b.String()}}
}

// BenchmarkChunking measures Split against the tokenizer alone on the same
// text in the same run (the baseline): Split tokenizes once and counts each
// chunk once more, so it should take about twice the tokenizer's time.
func BenchmarkChunking(b *testing.B) {
	c := newChunker(b, Options{})
	for name, doc := range benchDocs() {
		b.Run(name+"/TokenizerCount", func(b *testing.B) {
			b.SetBytes(int64(len(doc.Text)))
			for b.Loop() {
				c.tok.Count(doc.Text)
			}
		})
		b.Run(name+"/Split", func(b *testing.B) {
			b.SetBytes(int64(len(doc.Text)))
			for b.Loop() {
				if _, err := c.Split(doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
