package embedder

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ragd/ragd/chunker"
	"github.com/ragd/ragd/embedder/openaitest"
	"github.com/ragd/ragd/postgres/pgtest"
)

// chunkTexts makes n distinct chunk-sized texts (about 380 cl100k tokens).
func chunkTexts(n int, salt string) []string {
	r := rand.New(rand.NewPCG(7, 7))
	words := strings.Fields("tenant document search vector index chunk embedding retrieval answer question policy report quarter revenue support ticket customer contract clause")
	out := make([]string, n)
	for i := range out {
		var b strings.Builder
		fmt.Fprintf(&b, "chunk %d%s:", i, salt)
		for range 360 {
			b.WriteByte(' ')
			b.WriteString(words[r.IntN(len(words))])
		}
		out[i] = b.String()
	}
	return out
}

// BenchmarkEmbeddingRequests counts what embedding 10,000 chunks costs in
// requests, against the fewest the provider's limits allow (2048 inputs
// and 300,000 tokens a request), and what re-embedding costs through the
// cache when nothing and when 5% of the chunks changed. The figures are
// counts, not times; the loop runs once.
func BenchmarkEmbeddingRequests(b *testing.B) {
	ctx := context.Background()
	tok, err := chunker.NewCL100K()
	if err != nil {
		b.Fatal(err)
	}
	texts := chunkTexts(10_000, "")
	totalTokens := 0
	for _, t := range texts {
		totalTokens += tok.Count(t)
	}
	minimum := max((len(texts)+2047)/2048, (totalTokens+299_999)/300_000)
	for b.Loop() {
		fake := openaitest.Start(b, 1536)
		e, err := NewOpenAI(OpenAIConfig{APIKey: openaitest.Key, BaseURL: fake.URL, Counter: tok})
		if err != nil {
			b.Fatal(err)
		}
		pool := pgtest.NewPool(b)
		tenant := newTenant(b, pool, "T")
		c := NewCached(e, pool)
		first, err := c.Embed(ctx, tenant, texts)
		if err != nil {
			b.Fatal(err)
		}
		same, err := c.Embed(ctx, tenant, texts)
		if err != nil {
			b.Fatal(err)
		}
		changed := append([]string(nil), texts...)
		for i := 0; i < len(changed); i += 20 { // 5%
			changed[i] += " (edited)"
		}
		edited, err := c.Embed(ctx, tenant, changed)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(first.Requests), "requests/10k-chunks")
		b.ReportMetric(float64(minimum), "minimum-requests")
		b.ReportMetric(float64(totalTokens)/float64(len(texts)), "tokens/chunk")
		b.ReportMetric(100*float64(same.CacheHits)/float64(len(texts)), "%hits-unchanged")
		b.ReportMetric(float64(same.Requests), "requests-unchanged")
		b.ReportMetric(100*float64(edited.CacheHits)/float64(len(texts)), "%hits-5%-changed")
		b.ReportMetric(float64(edited.Requests), "requests-5%-changed")
	}
}
