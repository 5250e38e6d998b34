package api_test

import (
	"testing"
)

// TestCachesArePerTenant: with a provider that bills tokens, nothing tenant
// B sees of a document or a search depends on whether tenant A already
// holds the same text, while each tenant's own repeats stay free.
func TestCachesArePerTenant(t *testing.T) {
	t.Parallel()
	b := setupOpenAI(t)
	_, keyA := b.TenantWithKey("cache-a")
	_, keyB := b.TenantWithKey("cache-b")
	const text = "# Merger\n\nThe merger with Initech closes on the first of March. Only the board and the deal team know the date."
	const question = "when does the Initech merger close"
	upload := func(key string) map[string]any {
		t.Helper()
		id := b.Must(202, "POST", "/v1/documents", key, map[string]any{"text": text, "format": "markdown"}).JSON(t)["id"].(string)
		d := b.WaitDocument(key, id)
		if d["status"] != "ready" {
			t.Fatalf("document %s: %v", id, d)
		}
		return d
	}
	// ask searches and returns the billed tokens and the requests the
	// provider received meanwhile.
	ask := func(key string) (tokens float64, requests int) {
		t.Helper()
		before := len(b.openai.Requests())
		r := b.Must(200, "POST", "/v1/search", key, map[string]any{"query": question, "mode": "dense"})
		return r.JSON(t)["usage"].(map[string]any)["embedding_tokens"].(float64), len(b.openai.Requests()) - before
	}

	// A is alone: its figures are what a fresh tenant pays.
	docA := upload(keyA)
	if docA["embedding_tokens"].(float64) <= 0 || docA["embedding_cache_hits"] != 0.0 {
		t.Fatalf("A's document, the first anywhere: %v tokens, %v cache hits", docA["embedding_tokens"], docA["embedding_cache_hits"])
	}
	freshQuery, n := ask(keyA)
	if freshQuery <= 0 || n != 1 {
		t.Fatalf("A's first search: %v tokens, %d provider requests", freshQuery, n)
	}

	t.Run("DocumentCostsWhatItCostsAFreshTenant", func(t *testing.T) {
		before := len(b.openai.Requests())
		docB := upload(keyB)
		if docB["embedding_tokens"] != docA["embedding_tokens"] || docB["embedding_cache_hits"] != 0.0 || docB["chunk_count"] != docA["chunk_count"] {
			t.Fatalf("B's copy of A's text: %v tokens, %v cache hits, %v chunks; a fresh tenant's: %v tokens, 0 hits, %v chunks",
				docB["embedding_tokens"], docB["embedding_cache_hits"], docB["chunk_count"], docA["embedding_tokens"], docA["chunk_count"])
		}
		if len(b.openai.Requests()) == before {
			t.Fatal("B's document was embedded without a provider request")
		}
	})

	t.Run("SearchCostsWhatAFreshQueryCosts", func(t *testing.T) {
		if tokens, n := ask(keyB); tokens != freshQuery || n != 1 {
			t.Fatalf("B asking what A asked: %v tokens, %d provider requests; a fresh query: %v tokens, 1 request", tokens, n, freshQuery)
		}
	})

	t.Run("RepeatsWithinATenantStayFree", func(t *testing.T) {
		for name, key := range map[string]string{"A": keyA, "B": keyB} {
			if tokens, n := ask(key); tokens != 0 || n != 0 {
				t.Errorf("%s asking again: %v tokens, %d provider requests", name, tokens, n)
			}
		}
		id := docA["id"].(string)
		b.Must(202, "POST", "/v1/documents/"+id+"/reindex", keyA, nil)
		d := b.WaitDocument(keyA, id)
		if d["status"] != "ready" || d["embedding_tokens"] != 0.0 || d["embedding_cache_hits"] != d["chunk_count"] {
			t.Fatalf("A reindexing its own document: %v, %v tokens, %v cache hits of %v chunks",
				d["status"], d["embedding_tokens"], d["embedding_cache_hits"], d["chunk_count"])
		}
	})

	t.Run("UsageTotalsMatch", func(t *testing.T) {
		ua := b.Must(200, "GET", "/v1/usage", keyA, nil).JSON(t)
		ub := b.Must(200, "GET", "/v1/usage", keyB, nil).JSON(t)
		want := docA["embedding_tokens"].(float64) + freshQuery
		if ua["embedding_tokens"] != want || ub["embedding_tokens"] != want {
			t.Fatalf("embedding tokens billed: A %v, B %v; each did the same work, want %v", ua["embedding_tokens"], ub["embedding_tokens"], want)
		}
	})
}
