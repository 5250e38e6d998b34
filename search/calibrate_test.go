package search_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/ragd/ragd/embedder"
	"github.com/ragd/ragd/search"
	"github.com/ragd/ragd/search/qdranttest"
)

// gardening is a tenant's documents on one topic.
var gardening = []struct{ title, text string }{
	{"Tomatoes", "Tomato seedlings need full sun and warm soil. Plant tomatoes after the last frost, stake them, and water deeply twice a week so the fruit does not crack."},
	{"Roses", "Prune roses in late winter, just above an outward facing bud. Feed rose bushes with a balanced fertiliser in spring and mulch the roots."},
	{"Compost", "A compost heap needs green waste, brown waste, air and moisture. Turn the compost every two weeks; it is ready when it smells of earth."},
	{"Lawns", "Mow the lawn high in summer so the grass shades its own roots. Aerate compacted lawns in autumn and overseed the bare patches."},
	{"Pests", "Aphids cluster on new shoots. Ladybirds eat aphids; a jet of water or soapy water removes them without poisoning the bees."},
	{"Herbs", "Basil, parsley and chives grow well in pots on a sunny windowsill. Pinch basil flowers off so the plant keeps making leaves."},
}

// TestNothingRelevant: a tenant whose documents are about gardening gets
// its documents for gardening questions and nothing, said plainly, for
// questions they do not answer, at the default thresholds, in sparse mode
// and hybrid with every fusion, in both stores. Dense alone, with the
// local embedder (hashed words and word pieces, a stand-in for a model),
// shares pieces with anything ("football" and "lawn"), and its default
// threshold answers only a fifth of off-topic questions with nothing on
// the judged set (make eval): here it must rank every related question's
// best hit above every unrelated one's, so that a threshold exists.
func TestNothingRelevant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	emb, err := embedder.NewLocal(1536)
	if err != nil {
		t.Fatal(err)
	}
	embedded, err := search.OpenEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer embedded.Close()
	qd, err := search.OpenQdrant(search.QdrantConfig{URL: qdranttest.Start(t), Collection: "relevance"})
	if err != nil {
		t.Fatal(err)
	}
	defer qd.Close()

	tenant, other := uuid.New(), uuid.New()
	docs := fakeDocs{}
	var points, others []search.Point
	for i, d := range gardening {
		id := uuid.New()
		docs[id] = search.DocumentInfo{Title: d.title, Version: 1}
		indexed := d.title + "\n" + d.text
		out, err := emb.Embed(ctx, tenant, []string{indexed})
		if err != nil {
			t.Fatal(err)
		}
		p := search.Point{ID: uuid.New(), TenantID: tenant, DocumentID: id, ContentVersion: 1, Index: i, Dense: out.Vectors[0],
			Sparse: search.DocumentSparse(indexed), Title: d.title, Text: d.text, Tags: []string{}, Metadata: map[string]any{}}
		points = append(points, p)
		// Another tenant holds the off-topic answers: its statistics and
		// points must not make the first tenant's answers.
		o := p
		o.ID, o.TenantID = uuid.New(), other
		tax := "Corporate tax returns are due four months after the fiscal year ends; quarterly estimated tax payments avoid penalties."
		out, err = emb.Embed(ctx, other, []string{tax})
		if err != nil {
			t.Fatal(err)
		}
		o.Dense, o.Sparse, o.Text = out.Vectors[0], search.DocumentSparse(tax), tax
		others = append(others, o)
	}
	related := []struct{ query, title string }{
		{"when should I plant tomato seedlings", "Tomatoes"},
		{"what eats the aphids on new shoots", "Pests"},
		{"how often should compost be turned", "Compost"},
		{"pruning roses in winter", "Roses"},
	}
	unrelated := []string{
		"when are corporate tax returns due",
		"how do I reset my password",
		"xyzzyqwerty",
		"configure a Kubernetes ingress controller with TLS",
		"what was the score of the football final",
	}
	for name, store := range map[string]search.VectorStore{"embedded": embedded, "qdrant": qd} {
		if err := store.EnsureSchema(ctx, 1536); err != nil {
			t.Fatal(err)
		}
		if err := store.Upsert(ctx, tenant, points); err != nil {
			t.Fatal(err)
		}
		if err := store.Upsert(ctx, other, others); err != nil {
			t.Fatal(err)
		}
		s := search.NewSearcher(emb, store, docs, 0)
		var requests []search.Request
		for _, m := range []search.Mode{search.ModeDense, search.ModeSparse} {
			requests = append(requests, search.Request{Mode: m})
		}
		for _, f := range search.Fusions {
			requests = append(requests, search.Request{Mode: search.ModeHybrid, Fusion: f})
		}
		for _, base := range requests {
			label := fmt.Sprintf("%s %s %s", name, base.Mode, base.Fusion)
			lowestRelated, highestUnrelated := float32(1), float32(0)
			for _, q := range related {
				r := base
				r.Query = q.query
				if err := r.Validate(); err != nil {
					t.Fatal(err)
				}
				res, err := s.Search(ctx, tenant, r)
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Hits) > 0 {
					lowestRelated = min(lowestRelated, res.Hits[0].Relevance)
				}
				if res.NoRelevantPassages || len(res.Hits) == 0 || res.Hits[0].DocumentTitle != q.title {
					t.Errorf("%s: %q: want %s first, got %v (no relevant passages: %v, threshold %v)", label, q.query, q.title, titles(res.Hits), res.NoRelevantPassages, res.Threshold)
				}
				for _, h := range res.Hits {
					if float64(h.Relevance) < res.Threshold || h.Relevance > 1 {
						t.Errorf("%s: %q: a hit of relevance %v passed threshold %v", label, q.query, h.Relevance, res.Threshold)
					}
				}
			}
			for _, q := range unrelated {
				r := base
				r.Query = q
				if err := r.Validate(); err != nil {
					t.Fatal(err)
				}
				res, err := s.Search(ctx, tenant, r)
				if err != nil {
					t.Fatal(err)
				}
				if (!res.NoRelevantPassages || len(res.Hits) != 0) && base.Mode != search.ModeDense {
					t.Errorf("%s: %q: want nothing, got %v at %v (threshold %v)", label, q, titles(res.Hits), relevances(res.Hits), res.Threshold)
				}
				// Threshold 0 asks for every hit: the answer was a choice.
				zero := 0.0
				r.ScoreThreshold = &zero
				all, err := s.Search(ctx, tenant, r)
				if err != nil || (len(all.Hits) == 0 && base.Mode != search.ModeSparse) {
					t.Errorf("%s: %q at threshold 0: %d hits, %v", label, q, len(all.Hits), err)
				}
				if len(all.Hits) > 0 {
					highestUnrelated = max(highestUnrelated, all.Hits[0].Relevance)
				}
			}
			if highestUnrelated >= lowestRelated {
				t.Errorf("%s: an unrelated question's best hit (relevance %v) reaches a related one's (%v)", label, highestUnrelated, lowestRelated)
			}
		}
	}
}

// localStore is the local embedder and an embedded store ready for its
// vectors, closed when the test ends.
func localStore(t *testing.T, dims int) (*embedder.Local, *search.Embedded) {
	t.Helper()
	emb, err := embedder.NewLocal(dims)
	if err != nil {
		t.Fatal(err)
	}
	store, err := search.OpenEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.EnsureSchema(context.Background(), dims); err != nil {
		t.Fatal(err)
	}
	return emb, store
}

type fakeDocs map[uuid.UUID]search.DocumentInfo

func (d fakeDocs) Searchable(_ context.Context, _ uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]search.DocumentInfo, error) {
	out := map[uuid.UUID]search.DocumentInfo{}
	for _, id := range ids {
		if info, ok := d[id]; ok {
			out[id] = info
		}
	}
	return out, nil
}

func titles(hs []search.Found) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.DocumentTitle)
	}
	return out
}

func relevances(hs []search.Found) []float32 {
	var out []float32
	for _, h := range hs {
		out = append(out, h.Relevance)
	}
	return out
}

// TestOneDocumentTenant: a tenant's first document answers the questions
// it answers at the default thresholds, though with one chunk every term
// it holds has the lowest IDF there is and a question's other words
// (how, many) none of its own.
func TestOneDocumentTenant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	emb, store := localStore(t, 1536)
	tenant, doc := uuid.New(), uuid.New()
	text := "FAQ\nEveryone gets 25 vacation days a year.\nHow do I reset my password? Open the account page and choose Reset."
	out, err := emb.Embed(ctx, tenant, []string{text})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Upsert(ctx, tenant, []search.Point{{ID: uuid.New(), TenantID: tenant, DocumentID: doc, ContentVersion: 1, Dense: out.Vectors[0],
		Sparse: search.DocumentSparse(text), Title: "FAQ", Text: text, Tags: []string{}, Metadata: map[string]any{}}}); err != nil {
		t.Fatal(err)
	}
	s := search.NewSearcher(emb, store, fakeDocs{doc: {Title: "FAQ", Version: 1}}, 0)
	for _, base := range []search.Request{{Mode: search.ModeSparse}, {Mode: search.ModeHybrid}, {Mode: search.ModeHybrid, Fusion: search.FusionCalibrated}} {
		for q, want := range map[string]bool{"how many vacation days": true, "how do I reset my password": true, "what was the score of the football final": false} {
			r := base
			r.Query = q
			if err := r.Validate(); err != nil {
				t.Fatal(err)
			}
			res, err := s.Search(ctx, tenant, r)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(res.Hits) > 0; got != want {
				t.Errorf("%s %s: %q: found %v (%v), want %v", base.Mode, base.Fusion, q, got, relevances(res.Hits), want)
			}
		}
	}
}

// model is the local embedder under another model's name: a stand-in for
// a real model, whose defaults differ.
type model struct {
	*embedder.Local
	name string
}

func (m model) Model() string { return m.name }

type routeTo map[uuid.UUID]search.Space

func (r routeTo) SearchSpace(_ context.Context, tenant uuid.UUID) (search.Space, error) {
	return r[tenant], nil
}

// TestDefaultsFollowTheTenantsSpace: a tenant's searches get the default
// fusion and thresholds of its own space's embedder, not the server's.
func TestDefaultsFollowTheTenantsSpace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	local, store := localStore(t, 32)
	real := model{local, "text-embedding-3-small"}
	localSpace := search.Space{Model: embedder.LocalModel, Dimensions: 32}
	spaces := search.NewIndexes(search.Index{Embedder: real, Store: store}, func(ctx context.Context, sp search.Space) (search.Index, error) {
		s, err := search.OpenEmbedded(t.TempDir())
		return search.Index{Embedder: local, Store: s}, err
	})
	defer spaces.Close()
	migrated, stayed := uuid.New(), uuid.New()
	s := search.NewRoutedSearcher(spaces, routeTo{migrated: localSpace}, fakeDocs{}, 0)
	for tenant, local := range map[uuid.UUID]bool{migrated: true, stayed: false} {
		f, th, err := s.DefaultsFor(ctx, tenant)
		if err != nil {
			t.Fatal(err)
		}
		if f != search.DefaultFusing(local) || th != search.DefaultThresholds(local) {
			t.Errorf("local %v: defaults %+v %+v", local, f, th)
		}
		r := search.Request{Query: "anything", Mode: search.ModeHybrid}
		if err := r.Validate(); err != nil {
			t.Fatal(err)
		}
		res, err := s.Search(ctx, tenant, r)
		if err != nil || res.Threshold != search.DefaultThresholds(local).Hybrid || res.Fusing != search.DefaultFusing(local) {
			t.Errorf("local %v: a search's threshold %v, %v", local, res.Threshold, err)
		}
	}
	// The two differ, or the test shows nothing.
	if search.DefaultThresholds(true) == search.DefaultThresholds(false) {
		t.Fatal("the thresholds of the two kinds of embedder are the same")
	}
}
