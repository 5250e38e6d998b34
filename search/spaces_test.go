package search_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ragd/ragd/embedder"
	"github.com/ragd/ragd/search"
)

// TestSpaces opens each space once however many ask at once, keeps a
// failed open from sticking, and refuses an index whose embedder is not
// the space's.
func TestSpaces(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	def, _ := embedder.NewLocal(64)
	store, err := search.OpenEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	single := search.SingleIndex(def, store)
	if idx, err := single.Get(ctx, search.Space{}); err != nil || idx.Store != store || idx.Space != (search.Space{Model: embedder.LocalModel, Dimensions: 64}) {
		t.Fatalf("the default: %+v, %v", idx, err)
	}
	if _, err := single.Get(ctx, search.Space{Model: embedder.LocalModel, Dimensions: 32}); !errors.Is(err, search.ErrUnknownSpace) {
		t.Fatalf("another space without an opener: %v", err)
	}

	var opens, fail atomic.Int32
	fail.Store(1)
	spaces := search.NewIndexes(search.Index{Embedder: def, Store: store}, func(ctx context.Context, sp search.Space) (search.Index, error) {
		opens.Add(1)
		if fail.Add(-1) >= 0 {
			return search.Index{}, errors.New("provider down")
		}
		e, err := embedder.NewLocal(sp.Dimensions)
		if err != nil {
			return search.Index{}, err
		}
		if sp.Model != embedder.LocalModel { // an opener that gets it wrong
			e, _ = embedder.NewLocal(sp.Dimensions + 1)
		}
		s, err := search.OpenEmbedded(t.TempDir())
		return search.Index{Embedder: e, Store: s}, err
	})
	defer spaces.Close()
	sp := search.Space{Model: embedder.LocalModel, Dimensions: 32}
	if _, err := spaces.Get(ctx, sp); err == nil {
		t.Fatal("a failed open succeeded")
	}
	var wg sync.WaitGroup
	got := make([]search.Index, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], _ = spaces.Get(ctx, sp)
		}()
	}
	wg.Wait()
	for _, idx := range got {
		if idx.Store == nil || idx.Store != got[0].Store || idx.Space != sp {
			t.Fatalf("Gets of one space returned different or no indexes: %+v", idx)
		}
	}
	if n := opens.Load(); n != 2 {
		t.Fatalf("opened %d times, want 2 (one failed, one for all eight)", n)
	}
	// The store is ready for the space's vectors, and only those.
	if err := got[0].Store.EnsureSchema(ctx, 33); !errors.Is(err, search.ErrDimensions) {
		t.Fatalf("the space's store took another size: %v", err)
	}
	if _, err := spaces.Get(ctx, search.Space{Model: "other", Dimensions: 32}); err == nil {
		t.Fatal("an index whose embedder is not the space's was accepted")
	}
}
