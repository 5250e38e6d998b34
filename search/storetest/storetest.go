// Package storetest is the conformance suite every search.VectorStore must pass:
// the embedded store in every run, the Qdrant store through an in-process
// server and, where QDRANT_URL is set, a real Qdrant.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/ragd/ragd/search"
)

// Dims is the vector size the suite uses.
const Dims = 16

// Run runs the suite; newStore returns a fresh, empty store.
func Run(t *testing.T, newStore func(t *testing.T) search.VectorStore) {
	ctx := context.Background()
	setup := func(t *testing.T) search.VectorStore {
		t.Helper()
		s := newStore(t)
		if err := s.EnsureSchema(ctx, Dims); err != nil {
			t.Fatal(err)
		}
		return s
	}

	t.Run("PayloadRoundTrips", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		tenant, doc := uuid.New(), uuid.New()
		sections := []search.Section{
			{HeadingPath: []string{}, CharStart: 0, CharEnd: 5},
			{HeadingPath: []string{"Employee Handbook", "Leave"}, CharStart: 7, CharEnd: 40, PageStart: 1, PageEnd: 1},
			{HeadingPath: []string{"Employee Handbook", "IT and accounts", "Password reset"}, CharStart: 42, CharEnd: 1000, PageStart: 2, PageEnd: 3},
		}
		pts := Points(tenant, doc, 1, 4, "delta", func(p *search.Point) {
			p.CharStart, p.CharEnd = 1000*p.Index, 1000*p.Index+len(p.Text)
			p.HeadingPath = []string{"Employee Handbook", fmt.Sprintf("Part %d", p.Index)}
			p.PageStart, p.PageEnd = p.Index+1, p.Index+2
			if p.Index%2 == 0 {
				p.Sections = sections
			}
		})
		must(t, s.Upsert(ctx, tenant, pts))
		for _, mode := range []search.Mode{search.ModeDense, search.ModeSparse, search.ModeHybrid} {
			for _, want := range pts {
				hits, err := s.Query(ctx, tenant, search.Query{Mode: mode, Dense: want.Dense, Sparse: search.QuerySparse(want.Text), TopK: 1,
					Filter: search.Filter{DocumentIDs: []uuid.UUID{doc}}})
				must(t, err)
				if len(hits) != 1 || hits[0].ID != want.ID {
					t.Fatalf("%s query for point %d: %d hits", mode, want.Index, len(hits))
				}
				got := hits[0].Point
				if got.CharStart != want.CharStart || got.CharEnd != want.CharEnd || got.PageStart != want.PageStart || got.PageEnd != want.PageEnd ||
					!slices.Equal(got.HeadingPath, want.HeadingPath) {
					t.Fatalf("%s: point %d came back as chars [%d,%d) pages %d-%d %q, want [%d,%d) %d-%d %q", mode, want.Index,
						got.CharStart, got.CharEnd, got.PageStart, got.PageEnd, got.HeadingPath, want.CharStart, want.CharEnd, want.PageStart, want.PageEnd, want.HeadingPath)
				}
				if len(got.Sections) != len(want.Sections) {
					t.Fatalf("%s: point %d came back with sections %+v, want %+v", mode, want.Index, got.Sections, want.Sections)
				}
				for i, sec := range got.Sections {
					w := want.Sections[i]
					if sec.CharStart != w.CharStart || sec.CharEnd != w.CharEnd || !slices.Equal(sec.HeadingPath, w.HeadingPath) || sec.HeadingPath == nil ||
						sec.PageStart != w.PageStart || sec.PageEnd != w.PageEnd {
						t.Fatalf("%s: point %d section %d came back as %+v, want %+v", mode, want.Index, i, sec, w)
					}
				}
			}
		}
	})

	t.Run("TenantsNeverSeeEachOther", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		a, b := uuid.New(), uuid.New()
		docA, docB := uuid.New(), uuid.New()
		must(t, s.Upsert(ctx, a, Points(a, docA, 1, 20, "alpha", nil)))
		must(t, s.Upsert(ctx, b, Points(b, docB, 1, 20, "alpha", nil)))
		r := rand.New(rand.NewPCG(1, 2))
		for range 50 {
			q := randomQuery(r, "alpha")
			for _, tenant := range []uuid.UUID{a, b} {
				hits, err := s.Query(ctx, tenant, q)
				if err != nil {
					t.Fatal(err)
				}
				for _, h := range hits {
					if h.TenantID != tenant {
						t.Fatalf("tenant %s got a point of tenant %s (%s query)", tenant, h.TenantID, q.Mode)
					}
				}
			}
		}
		if n, _ := s.Count(ctx, uuid.New(), search.Filter{}); n != 0 {
			t.Fatalf("an unknown tenant counts %d points", n)
		}
		// A filter naming the other tenant's document finds nothing.
		hits, err := s.Query(ctx, a, search.Query{Mode: search.ModeDense, Dense: Vector(r), TopK: 10, Filter: search.Filter{DocumentIDs: []uuid.UUID{docB}}})
		if err != nil || len(hits) != 0 {
			t.Fatalf("tenant A reached B's document by filter: %d hits, %v", len(hits), err)
		}
	})

	t.Run("UpsertTwiceEqualsOnce", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		tenant, doc := uuid.New(), uuid.New()
		pts := Points(tenant, doc, 1, 10, "beta", nil)
		must(t, s.Upsert(ctx, tenant, pts))
		q := search.Query{Mode: search.ModeHybrid, Dense: pts[3].Dense, Sparse: search.QuerySparse("beta 3"), TopK: 5}
		first, err := s.Query(ctx, tenant, q)
		must(t, err)
		must(t, s.Upsert(ctx, tenant, pts))
		second, err := s.Query(ctx, tenant, q)
		must(t, err)
		if n, _ := s.Count(ctx, tenant, search.Filter{}); n != 10 {
			t.Fatalf("count after upserting twice = %d, want 10", n)
		}
		if ids(first) != ids(second) {
			t.Fatalf("results changed after a repeated upsert:\n%s\n%s", ids(first), ids(second))
		}
		if first[0].ID != pts[3].ID {
			t.Fatalf("the point whose vector was the query is not first: %+v", first[0].Point.Index)
		}
	})

	t.Run("DeleteDocumentRemovesExactlyIt", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		tenant, d1, d2 := uuid.New(), uuid.New(), uuid.New()
		must(t, s.Upsert(ctx, tenant, Points(tenant, d1, 1, 5, "gamma", nil)))
		must(t, s.Upsert(ctx, tenant, Points(tenant, d1, 2, 4, "gamma", nil)))
		must(t, s.Upsert(ctx, tenant, Points(tenant, d2, 1, 6, "gamma", nil)))
		must(t, s.Upsert(ctx, tenant, Points(tenant, d1, 3, 3, "gamma", nil)))
		// Below 2: version 1 goes, 2 and the newer 3 stay.
		must(t, s.DeleteDocument(ctx, tenant, d1, search.Versions{Below: 2}))
		count(t, s, tenant, search.Filter{DocumentIDs: []uuid.UUID{d1}}, 4+3)
		// Only 3: exactly version 3 goes.
		must(t, s.DeleteDocument(ctx, tenant, d1, search.Versions{Only: 3}))
		count(t, s, tenant, search.Filter{DocumentIDs: []uuid.UUID{d1}}, 4)
		must(t, s.DeleteDocument(ctx, tenant, d1, search.AllVersions))
		count(t, s, tenant, search.Filter{DocumentIDs: []uuid.UUID{d1}}, 0)
		count(t, s, tenant, search.Filter{}, 6)
		// Another tenant naming d2 deletes nothing.
		must(t, s.DeleteDocument(ctx, uuid.New(), d2, search.AllVersions))
		count(t, s, tenant, search.Filter{}, 6)
		must(t, s.DeleteTenant(ctx, tenant))
		count(t, s, tenant, search.Filter{}, 0)
	})

	t.Run("FiltersNarrowAsDocumented", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		tenant, d1, d2 := uuid.New(), uuid.New(), uuid.New()
		must(t, s.Upsert(ctx, tenant, Points(tenant, d1, 1, 4, "delta", func(p *search.Point) {
			p.Tags = []string{"red", "round"}
			p.Metadata = map[string]any{"team": "a", "year": 2026.0, "public": true}
		})))
		must(t, s.Upsert(ctx, tenant, Points(tenant, d2, 1, 3, "delta", func(p *search.Point) {
			p.Tags = []string{"red"}
			p.Metadata = map[string]any{"team": "b", "year": 2025.0, "public": false}
		})))
		for _, tc := range []struct {
			f    search.Filter
			want int
		}{
			{search.Filter{DocumentIDs: []uuid.UUID{d2}}, 3},
			{search.Filter{TagsAny: []string{"round", "blue"}}, 4},
			{search.Filter{TagsAll: []string{"red", "round"}}, 4},
			{search.Filter{TagsAll: []string{"red"}}, 7},
			{search.Filter{Metadata: map[string]any{"team": "b"}}, 3},
			{search.Filter{Metadata: map[string]any{"year": 2026}}, 4},
			{search.Filter{Metadata: map[string]any{"public": false}}, 3},
			{search.Filter{TagsAny: []string{"red"}, Metadata: map[string]any{"team": "a"}, DocumentIDs: []uuid.UUID{d1, d2}}, 4},
			{search.Filter{Metadata: map[string]any{"team": "a"}, DocumentIDs: []uuid.UUID{d2}}, 0},
		} {
			count(t, s, tenant, tc.f, tc.want)
			hits, err := s.Query(ctx, tenant, search.Query{Mode: search.ModeSparse, Sparse: search.QuerySparse("delta"), TopK: 20, Filter: tc.f})
			must(t, err)
			if len(hits) != tc.want {
				t.Fatalf("filter %+v: %d sparse hits, want %d", tc.f, len(hits), tc.want)
			}
		}
	})

	t.Run("ModesRank", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		tenant, doc := uuid.New(), uuid.New()
		pts := Points(tenant, doc, 1, 30, "epsilon", nil)
		pts[7].Text, pts[7].Sparse = "the zebra crossing", search.DocumentSparse("the zebra crossing")
		must(t, s.Upsert(ctx, tenant, pts))
		dense, err := s.Query(ctx, tenant, search.Query{Mode: search.ModeDense, Dense: pts[12].Dense, TopK: 3})
		must(t, err)
		if len(dense) != 3 || dense[0].ID != pts[12].ID || dense[0].Score < 0.999 || dense[0].Score < dense[1].Score {
			t.Fatalf("dense hits %s", describe(dense))
		}
		sparse, err := s.Query(ctx, tenant, search.Query{Mode: search.ModeSparse, Sparse: search.QuerySparse("zebra"), TopK: 3})
		must(t, err)
		if len(sparse) != 1 || sparse[0].ID != pts[7].ID || sparse[0].Score <= 0 {
			t.Fatalf("sparse hits %s", describe(sparse))
		}
		hybrid, err := s.Query(ctx, tenant, search.Query{Mode: search.ModeHybrid, Dense: pts[7].Dense, Sparse: search.QuerySparse("zebra"), TopK: 5})
		must(t, err)
		if len(hybrid) != 5 || hybrid[0].ID != pts[7].ID || hybrid[0].Score != 1 || hybrid[1].Score != 1/3.0 {
			t.Fatalf("hybrid hits %s: the point first in both branches scores 1/2 + 1/2, the next 1/3", describe(hybrid))
		}
		for _, h := range hybrid {
			if len(h.Dense) != 0 || h.Text == "" {
				t.Fatalf("hits carry their vectors or lack their text: %+v", h.Point)
			}
		}
		none, err := s.Query(ctx, tenant, search.Query{Mode: search.ModeSparse, Sparse: search.QuerySparse("nowhere"), TopK: 3})
		if err != nil || len(none) != 0 {
			t.Fatalf("a query matching nothing: %d hits, %v", len(none), err)
		}
	})

	// Every fusion ranks a hybrid query as search.Fuse ranks the store's
	// own two arms: so each store computes the same thing, and two stores
	// holding the same points rank them alike.
	t.Run("EachFusionRanksAsFuse", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		tenant := uuid.New()
		words := []string{"apple", "banana", "cherry"}
		for i, w := range words {
			pts := Points(tenant, uuid.New(), 1, 40, w, func(p *search.Point) {
				p.Text = fmt.Sprintf("%s %s %d", p.Text, words[(p.Index+i)%3], p.Index%7)
				p.Sparse = search.DocumentSparse(p.Text)
			})
			must(t, s.Upsert(ctx, tenant, pts))
		}
		r := rand.New(rand.NewPCG(7, 8))
		weights := []search.Weights{{Dense: 1, Sparse: 1}, {Dense: 0.3, Sparse: 0.7}, {Dense: 1, Sparse: 0}, {Dense: 0, Sparse: 2}}
		for _, fusion := range search.Fusions {
			for _, w := range weights {
				f := search.Fusing{Fusion: fusion, Weights: w}
				q := search.Query{Mode: search.ModeHybrid, Dense: Vector(r), Sparse: search.QuerySparse(fmt.Sprintf("%s %d", words[r.IntN(3)], r.IntN(7))), TopK: 10, Fusing: f}
				got, err := s.Query(ctx, tenant, q)
				must(t, err)
				limit := search.PrefetchLimit(q.TopK)
				dense, err := s.Query(ctx, tenant, search.Query{Mode: search.ModeDense, Dense: q.Dense, TopK: limit})
				must(t, err)
				sparse, err := s.Query(ctx, tenant, search.Query{Mode: search.ModeSparse, Sparse: q.Sparse, TopK: limit})
				must(t, err)
				want := search.Fuse(f, q.TopK, dense, sparse)
				if ids(got) != ids(want) {
					t.Fatalf("%s %+v: hybrid ranks\n%s, Fuse of the arms\n%s", fusion, w, describe(got), describe(want))
				}
				for i := range got {
					if math.Abs(float64(got[i].Score-want[i].Score)) > 1e-5 {
						t.Fatalf("%s %+v: hit %d scores %v, Fuse %v", fusion, w, i, got[i].Score, want[i].Score)
					}
				}
			}
		}
	})

	t.Run("DimensionsMustMatch", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		if err := s.EnsureSchema(ctx, Dims); err != nil {
			t.Fatalf("EnsureSchema again with the same size: %v", err)
		}
		if err := s.EnsureSchema(ctx, Dims*2); !errors.Is(err, search.ErrDimensions) {
			t.Fatalf("EnsureSchema with another size: %v", err)
		}
		tenant := uuid.New()
		bad := Points(tenant, uuid.New(), 1, 1, "zeta", nil)
		bad[0].Dense = bad[0].Dense[:Dims-1]
		if err := s.Upsert(ctx, tenant, bad); !errors.Is(err, search.ErrDimensions) {
			t.Fatalf("Upsert of a short vector: %v", err)
		}
		if _, err := s.Query(ctx, tenant, search.Query{Mode: search.ModeDense, Dense: make([]float32, 3), TopK: 1}); !errors.Is(err, search.ErrDimensions) {
			t.Fatalf("Query with a short vector: %v", err)
		}
		other := Points(uuid.New(), uuid.New(), 1, 1, "zeta", nil)
		if err := s.Upsert(ctx, tenant, other); err == nil {
			t.Fatal("Upsert accepted a point of another tenant")
		}
	})
}

// Points makes n points of one document version with random unit
// vectors; text is "<word> <i>", so word finds all and "<word> i" one.
func Points(tenant, doc uuid.UUID, version, n int, word string, edit func(*search.Point)) []search.Point {
	r := rand.New(rand.NewPCG(uint64(doc[0])<<8|uint64(version), uint64(doc[1])))
	out := make([]search.Point, n)
	for i := range out {
		text := fmt.Sprintf("%s %d", word, i)
		id := uuid.NewSHA1(doc, fmt.Appendf(nil, "%d/%d", version, i))
		out[i] = search.Point{ID: id, TenantID: tenant, DocumentID: doc, ContentVersion: version, Index: i,
			Dense: Vector(r), Sparse: search.DocumentSparse(text), Title: "Doc", Text: text,
			Tags: []string{}, Metadata: map[string]any{}, HeadingPath: []string{"H"}, PageStart: 1, PageEnd: 1}
		if edit != nil {
			edit(&out[i])
		}
	}
	return out
}

// Vector is a random unit vector of Dims dimensions.
func Vector(r *rand.Rand) []float32 {
	v := make([]float32, Dims)
	var s float64
	for i := range v {
		v[i] = float32(r.NormFloat64())
		s += float64(v[i] * v[i])
	}
	n := float32(math.Sqrt(s))
	for i := range v {
		v[i] /= n
	}
	return v
}

func randomQuery(r *rand.Rand, word string) search.Query {
	modes := []search.Mode{search.ModeDense, search.ModeSparse, search.ModeHybrid}
	return search.Query{Mode: modes[r.IntN(3)], Dense: Vector(r), Sparse: search.QuerySparse(fmt.Sprintf("%s %d", word, r.IntN(20))), TopK: 1 + r.IntN(30)}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func count(t *testing.T, s search.VectorStore, tenant uuid.UUID, f search.Filter, want int) {
	t.Helper()
	n, err := s.Count(context.Background(), tenant, f)
	if err != nil || n != want {
		t.Fatalf("Count(%+v) = %d, %v; want %d", f, n, err, want)
	}
}

func ids(hs []search.Hit) string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.ID.String()
	}
	return fmt.Sprint(out)
}

func describe(hs []search.Hit) string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = fmt.Sprintf("#%d %.3f", h.Index, h.Score)
	}
	return fmt.Sprint(slices.Clip(out))
}
