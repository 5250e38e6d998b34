package search_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ragd/ragd/search"
	"github.com/ragd/ragd/search/qdranttest"
	"github.com/ragd/ragd/search/storetest"
)

// TestQdrantConformance runs the suite against the in-process Qdrant
// server, and against a real Qdrant too when QDRANT_URL is set (each test
// in a collection of its own, dropped afterwards).
func TestQdrantConformance(t *testing.T) {
	t.Parallel()
	t.Run("InProcessServer", func(t *testing.T) {
		t.Parallel()
		storetest.Run(t, func(t *testing.T) search.VectorStore {
			s, err := search.OpenQdrant(search.QdrantConfig{URL: qdranttest.Start(t), Collection: "ragd_test"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		})
	})
	if url := os.Getenv("QDRANT_URL"); url != "" {
		t.Run("RealQdrant", func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) search.VectorStore {
				name := fmt.Sprintf("ragd_test_%d", time.Now().UnixNano())
				s, err := search.OpenQdrant(search.QdrantConfig{URL: url, APIKey: os.Getenv("QDRANT_API_KEY"), Collection: name})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					search.DropCollection(context.Background(), s)
					s.Close()
				})
				return s
			})
		})
	}
}

func TestQdrantRateLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := qdranttest.StartServer(t)
	s, err := search.OpenQdrant(search.QdrantConfig{URL: fake.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.EnsureSchema(ctx, storetest.Dims); err != nil {
		t.Fatal(err)
	}
	tenant := uuid.New()
	pts := storetest.Points(tenant, uuid.New(), 1, 3, "rate", nil)
	fake.RateLimitUpserts(1, 7)
	err = s.Upsert(ctx, tenant, pts)
	var rl *search.RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter != 7*time.Second {
		t.Fatalf("err = %v, want a rate limit of 7s", err)
	}
	if err := s.Upsert(ctx, tenant, pts); err != nil {
		t.Fatalf("after the limit: %v", err)
	}
}
