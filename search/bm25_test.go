package search

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestTermIndexMatchesMMH3(t *testing.T) {
	t.Parallel()
	// Python: abs(mmh3.hash("foo")) == 156908512; mmh3.hash("hello") == 613153351.
	for term, want := range map[string]uint32{"foo": 156908512, "hello": 613153351} {
		if got := TermIndex(term); got != want {
			t.Errorf("TermIndex(%q) = %d, want %d", term, got, want)
		}
	}
}

func TestTerms(t *testing.T) {
	t.Parallel()
	got := Terms("The Tenants are uploading THEIR documents, don't they? snake_case stays; " + strings.Repeat("x", 41) + " Größe 2026")
	want := []string{"tenant", "upload", "document", "snake_cas", "stay", "größe", "2026"}
	if !slices.Equal(got, want) {
		t.Fatalf("Terms = %q, want %q", got, want)
	}
	if len(Terms("the and of, to!")) != 0 {
		t.Fatal("stop words kept")
	}
}

func TestDocumentSparse(t *testing.T) {
	t.Parallel()
	v := DocumentSparse("search search search engines")
	if len(v.Indices) != 2 || !slices.IsSorted(v.Indices) {
		t.Fatalf("vector = %+v", v)
	}
	// |d| = 4 terms: norm = 1.2 * (0.25 + 0.75*4/256).
	norm := 1.2 * (0.25 + 0.75*4/256.0)
	want := map[uint32]float32{
		TermIndex("search"): float32(3 * 2.2 / (3 + norm)),
		TermIndex("engin"):  float32(1 * 2.2 / (1 + norm)),
	}
	for i, idx := range v.Indices {
		if math.Abs(float64(v.Values[i]-want[idx])) > 1e-6 {
			t.Fatalf("value of %d = %f, want %f", idx, v.Values[i], want[idx])
		}
	}
	// More occurrences weigh more, but saturate.
	one, three, ten := DocumentSparse("alpha beta"), DocumentSparse("alpha alpha alpha beta"), DocumentSparse(strings.Repeat("alpha ", 10)+"beta")
	a := func(v SparseVector) float32 { return v.Values[slices.Index(v.Indices, TermIndex("alpha"))] }
	if !(a(one) < a(three) && a(three) < a(ten) && a(ten) < 2.2) {
		t.Fatalf("tf weights %f %f %f do not saturate below k1+1", a(one), a(three), a(ten))
	}
	if v := DocumentSparse("the of and"); len(v.Indices) != 0 {
		t.Fatalf("stop words only gave %+v", v)
	}
}

func TestQuerySparse(t *testing.T) {
	t.Parallel()
	q := QuerySparse("Search the search engines")
	if len(q.Indices) != 2 || q.Values[0] != 1 || q.Values[1] != 1 {
		t.Fatalf("query vector = %+v", q)
	}
	d := DocumentSparse("How search engines rank documents")
	shared := 0
	for _, i := range q.Indices {
		if slices.Contains(d.Indices, i) {
			shared++
		}
	}
	if shared != 2 {
		t.Fatalf("query and document share %d terms, want 2", shared)
	}
}

func FuzzDocumentSparse(f *testing.F) {
	for _, s := range []string{"", "hello world", "Größe 東京 données", strings.Repeat("a", 100)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v := DocumentSparse(s)
		if len(v.Indices) != len(v.Values) || !slices.IsSorted(v.Indices) {
			t.Fatalf("malformed vector %+v", v)
		}
		for i := 1; i < len(v.Indices); i++ {
			if v.Indices[i] == v.Indices[i-1] {
				t.Fatal("repeated index")
			}
		}
		for _, x := range v.Values {
			if !(x > 0 && x < 2.2) {
				t.Fatalf("value %f outside (0, k1+1)", x)
			}
		}
	})
}
