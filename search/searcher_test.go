package search_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/ragd/ragd/embedder"
	"github.com/ragd/ragd/embedder/openaitest"
	"github.com/ragd/ragd/search"
)

// words counts tokens as words, as the OpenAI double bills them.
type words struct{}

func (words) Count(s string) int { return len(strings.Fields(s)) }

// TestSearcherQueryCache: a tenant's repeated query is answered from the
// cache, and another tenant's identical query is embedded and billed as if
// the first had never been asked.
func TestSearcherQueryCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const dims = 8
	fake := openaitest.Start(t, dims)
	emb, err := embedder.NewOpenAI(embedder.OpenAIConfig{APIKey: openaitest.Key, BaseURL: fake.URL, Dimensions: dims, Counter: words{}})
	if err != nil {
		t.Fatal(err)
	}
	vectors, err := search.OpenEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vectors.Close() })
	if err := vectors.EnsureSchema(ctx, dims); err != nil {
		t.Fatal(err)
	}
	// No points: Documents is never asked.
	s := search.NewSearcher(emb, vectors, nil, 0)
	tenantA, tenantB := uuid.New(), uuid.New()
	ask := func(tenant uuid.UUID) (tokens, requests int) {
		t.Helper()
		before := len(fake.Requests())
		res, err := s.Search(ctx, tenant, search.Request{Query: "when does the Initech merger close", Mode: search.ModeDense, TopK: 3})
		if err != nil {
			t.Fatal(err)
		}
		return res.EmbeddingTokens, len(fake.Requests()) - before
	}

	fresh, n := ask(tenantA)
	if fresh == 0 || n != 1 {
		t.Fatalf("A's first query: %d tokens, %d requests", fresh, n)
	}
	if tokens, n := ask(tenantA); tokens != 0 || n != 0 {
		t.Fatalf("A's repeated query: %d tokens, %d requests; want it cached", tokens, n)
	}
	if tokens, n := ask(tenantB); tokens != fresh || n != 1 {
		t.Fatalf("B asking what A asked: %d tokens, %d requests; want %d tokens and 1 request, as for a fresh query", tokens, n, fresh)
	}
	if tokens, n := ask(tenantB); tokens != 0 || n != 0 {
		t.Fatalf("B's repeated query: %d tokens, %d requests; want it cached", tokens, n)
	}
}
