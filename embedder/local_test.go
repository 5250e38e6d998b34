package embedder

import (
	"context"
	"slices"
	"testing"

	"github.com/google/uuid"
)

// TestLocalWeighted: a word weighted 0 adds nothing to a text's vector,
// a weight of 1 is NewLocal's vector, and the model is named apart.
func TestLocalWeighted(t *testing.T) {
	t.Parallel()
	plain, err := NewLocal(64)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewLocalWeighted(64, "weighted", func(word string) float64 {
		if word == "the" {
			return 0
		}
		return 1
	})
	if err != nil {
		t.Fatal(err)
	}
	embed := func(e *Local, texts ...string) [][]float32 {
		r, err := e.Embed(context.Background(), uuid.Nil, texts)
		if err != nil {
			t.Fatal(err)
		}
		return r.Vectors
	}
	got, want := embed(w, "The cat", "cat"), embed(plain, "cat", "The cat")
	if !slices.Equal(got[0], want[0]) {
		t.Errorf("weighted %q = %v, want plain %q's %v", "The cat", got[0], "cat", want[0])
	}
	if !slices.Equal(got[1], want[0]) {
		t.Errorf("weighted %q differs from plain", "cat")
	}
	if slices.Equal(want[0], want[1]) {
		t.Error("plain: \"the\" changed nothing; the test shows nothing")
	}
	if w.Model() == plain.Model() || plain.Model() != LocalModel {
		t.Errorf("models %q and %q", w.Model(), plain.Model())
	}
}
