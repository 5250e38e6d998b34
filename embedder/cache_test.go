package embedder

import (
	"context"
	"testing"

	"github.com/ragd/ragd/postgres/pgtest"
)

func TestCached(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	e, fake := newFake(t, OpenAIConfig{MaxBatchInputs: 4})
	c := NewCached(e, pool)

	// A document of 10 chunks, two of them identical.
	doc := texts(10)
	doc[9] = doc[3]
	first, err := c.Embed(ctx, doc)
	if err != nil {
		t.Fatal(err)
	}
	if first.CacheHits != 0 || len(fake.Requests()) != 3 { // 9 distinct texts, 4 per request
		t.Fatalf("first run: %d hits, %d requests", first.CacheHits, len(fake.Requests()))
	}
	if first.Vectors[9][0] != 3 {
		t.Fatalf("a repeated text got vector %v", first.Vectors[9][:1])
	}

	// Re-ingesting the same text costs nothing.
	again, err := c.Embed(ctx, doc)
	if err != nil {
		t.Fatal(err)
	}
	if again.CacheHits != 10 || len(fake.Requests()) != 3 || again.Requests != 0 {
		t.Fatalf("unchanged re-run: %d hits, %d requests in all", again.CacheHits, len(fake.Requests()))
	}
	for i := range doc {
		if again.Vectors[i][0] != first.Vectors[i][0] {
			t.Fatalf("cached vector %d differs", i)
		}
	}

	// One changed chunk costs one input.
	doc[5] = "text 55"
	changed, err := c.Embed(ctx, doc)
	if err != nil {
		t.Fatal(err)
	}
	if changed.CacheHits != 9 || len(fake.Requests()) != 4 || changed.Vectors[5][0] != 55 {
		t.Fatalf("changed re-run: %d hits, %d requests, vector %v", changed.CacheHits, len(fake.Requests()), changed.Vectors[5][:1])
	}
	if n := len(fake.Requests()[3].Inputs); n != 1 {
		t.Fatalf("the changed run sent %d inputs, want 1", n)
	}

	// Another model or dimension count does not share entries.
	other, _ := newFake(t, OpenAIConfig{Model: "text-embedding-3-large"})
	res, err := NewCached(other, pool).Embed(ctx, doc[:2])
	if err != nil || res.CacheHits != 0 {
		t.Fatalf("another model hit the cache: %d hits, %v", res.CacheHits, err)
	}
}
