package api_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// corpus is a small set of documents with known answers.
var corpus = []struct {
	title, text, question string
	tags                  []string
	meta                  map[string]any
}{
	{"Vacation policy", "# Vacation\n\nEmployees receive twenty-five vacation days per year. Unused vacation days expire in March.\n\n## Requests\n\nSubmit vacation requests through the HR portal two weeks ahead.",
		"how many vacation days do employees receive", []string{"hr", "policy"}, map[string]any{"team": "hr", "year": 2026.0}},
	{"Expense reimbursement", "# Expenses\n\nReceipts for travel expenses must be uploaded within thirty days. Meals are reimbursed up to forty euros per day.",
		"travel expenses receipts deadline", []string{"finance", "policy"}, map[string]any{"team": "finance", "year": 2025.0}},
	{"Server maintenance", "# Maintenance\n\nDatabase servers are patched every Sunday night. Kubernetes clusters are upgraded quarterly by the platform team.",
		"when are database servers patched", []string{"it"}, map[string]any{"team": "platform", "year": 2026.0}},
	{"Onboarding checklist", "# Onboarding\n\nNew hires receive a laptop, a badge and a mentor during their first week. The mentor schedules weekly coffee chats.",
		"what do new hires receive in the first week", []string{"hr"}, map[string]any{"team": "hr", "public": true}},
	{"Security incident response", "# Incidents\n\nReport phishing emails to the security team immediately. Rotate compromised passwords and revoke leaked API keys.",
		"report phishing emails", []string{"it", "security"}, map[string]any{"team": "security"}},
}

// loadCorpus uploads the corpus for a tenant and waits until it is ready;
// it returns the document ids in corpus order.
func (b *testBundle) loadCorpus(key string) []string {
	b.t.Helper()
	ids := make([]string, len(corpus))
	for i, d := range corpus {
		ids[i] = b.Must(202, "POST", "/v1/documents", key, map[string]any{
			"text": d.text, "format": "markdown", "title": d.title, "tags": d.tags, "metadata": d.meta,
		}).JSON(b.t)["id"].(string)
	}
	for _, id := range ids {
		if d := b.WaitDocument(key, id); d["status"] != "ready" {
			b.t.Fatalf("document %s: %v", id, d)
		}
	}
	return ids
}

func hitDocs(t testing.TB, r response) []string {
	t.Helper()
	var out []string
	for _, h := range r.JSON(t)["data"].([]any) {
		out = append(out, h.(map[string]any)["document_id"].(string))
	}
	return out
}

func hitScores(t testing.TB, r response) []float64 {
	t.Helper()
	var out []float64
	for _, h := range r.JSON(t)["data"].([]any) {
		out = append(out, h.(map[string]any)["score"].(float64))
	}
	return out
}

func TestSearch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, key := b.TenantWithKey("acme")
	ids := b.loadCorpus(key)

	t.Run("RelevanceInEveryMode", func(t *testing.T) {
		for _, mode := range []string{"hybrid", "dense", "sparse"} {
			for i, d := range corpus {
				r := b.Must(200, "POST", "/v1/search", key, map[string]any{"query": d.question, "mode": mode, "top_k": 3})
				docs := hitDocs(t, r)
				found := false
				for _, id := range docs {
					found = found || id == ids[i]
				}
				if !found {
					t.Errorf("%s: %q did not find %q in the top 3: %s", mode, d.question, d.title, r.Body)
				}
				if r.JSON(t)["mode"] != mode || r.Header.Get("Server-Timing") == "" {
					t.Fatalf("mode %v, Server-Timing %q", r.JSON(t)["mode"], r.Header.Get("Server-Timing"))
				}
			}
		}
		top := b.Must(200, "POST", "/v1/search", key, map[string]any{"query": corpus[0].question}).JSON(t)["data"].([]any)[0].(map[string]any)
		for _, field := range []string{"chunk_id", "document_id", "document_title", "score", "text", "heading_path", "tags", "metadata"} {
			if _, ok := top[field]; !ok {
				t.Fatalf("hit lacks %s: %v", field, top)
			}
		}
		if top["document_title"] != "Vacation policy" || len(top["heading_path"].([]any)) == 0 {
			t.Fatalf("top hit = %v", top)
		}
	})

	t.Run("FiltersNarrowAndIntersect", func(t *testing.T) {
		q := func(filter map[string]any) []string {
			// Dense with the local embedder scores every chunk: the filter alone decides.
			return hitDocs(t, b.Must(200, "POST", "/v1/search", key, map[string]any{"query": "policy team days servers", "mode": "dense", "top_k": 50, "filter": filter, "score_threshold": 0}))
		}
		set := func(docs []string) string {
			m := map[string]bool{}
			for _, d := range docs {
				m[d] = true
			}
			var out []string
			for i, id := range ids {
				if m[id] {
					out = append(out, fmt.Sprint(i))
				}
			}
			return strings.Join(out, ",")
		}
		for _, tc := range []struct {
			filter map[string]any
			want   string
		}{
			{map[string]any{"tags_any": []string{"finance", "it"}}, "1,2,4"},
			{map[string]any{"tags_all": []string{"hr", "policy"}}, "0"},
			{map[string]any{"document_ids": []string{ids[2], ids[3]}}, "2,3"},
			{map[string]any{"metadata": map[string]any{"team": "hr"}}, "0,3"},
			{map[string]any{"metadata": map[string]any{"year": 2026}}, "0,2"},
			{map[string]any{"metadata": map[string]any{"public": true}}, "3"},
			{map[string]any{"tags_any": []string{"hr"}, "metadata": map[string]any{"year": 2026}}, "0"},
			{map[string]any{"tags_all": []string{"it"}, "document_ids": []string{ids[0], ids[4]}}, "4"},
		} {
			if got := set(q(tc.filter)); got != tc.want {
				t.Errorf("filter %v: documents %s, want %s", tc.filter, got, tc.want)
			}
		}
	})

	t.Run("BadRequests", func(t *testing.T) {
		for name, body := range map[string]any{
			"Empty":        map[string]any{"query": ""},
			"Missing":      map[string]any{"top_k": 3},
			"TooLong":      map[string]any{"query": strings.Repeat("a", 2001)},
			"TopKZero":     map[string]any{"query": "x", "top_k": 0},
			"TopKTooBig":   map[string]any{"query": "x", "top_k": 101},
			"BadMode":      map[string]any{"query": "x", "mode": "psychic"},
			"BadDocID":     map[string]any{"query": "x", "filter": map[string]any{"document_ids": []string{"nope"}}},
			"BadMetadata":  map[string]any{"query": "x", "filter": map[string]any{"metadata": map[string]any{"a": []int{1}}}},
			"NegThreshold": map[string]any{"query": "x", "score_threshold": -1},
			"Unknown":      map[string]any{"query": "x", "limit": 3},
			"BadFusion":    map[string]any{"query": "x", "fusion": "borda"},
			"NegWeight":    map[string]any{"query": "x", "weights": map[string]any{"dense": -1, "sparse": 1}},
			"ZeroWeights":  map[string]any{"query": "x", "weights": map[string]any{"dense": 0, "sparse": 0}},
			"HugeWeight":   map[string]any{"query": "x", "weights": map[string]any{"dense": 1e9, "sparse": 1}},
			"WeightKey":    map[string]any{"query": "x", "weights": map[string]any{"dense": 1, "colbert": 1}},
		} {
			r := b.Req("POST", "/v1/search", key, body)
			if r.Status != 400 || r.Code(t) != "validation_failed" {
				t.Errorf("%s: %d %s", name, r.Status, r.Body)
			}
		}
		for _, mode := range []string{"hybrid", "dense", "sparse"} {
			r := b.Must(200, "POST", "/v1/search", key, map[string]any{"query": "zyzzyva quokka", "mode": mode, "score_threshold": 0.9})
			if n := len(r.JSON(t)["data"].([]any)); n != 0 && mode == "sparse" {
				t.Errorf("%s: a query matching no term found %d hits", mode, n)
			}
		}
		if n := len(b.Must(200, "POST", "/v1/search", key, map[string]any{"query": "the and of", "mode": "sparse"}).JSON(t)["data"].([]any)); n != 0 {
			t.Errorf("stop words found %d hits", n)
		}
	})

	t.Run("Fusion", func(t *testing.T) {
		// The default for the local embedder, said in the answer.
		r := b.Must(200, "POST", "/v1/search", key, map[string]any{"query": corpus[0].question})
		f, _ := r.JSON(t)["fusion"].(map[string]any)
		if f["fusion"] != "convex" || f["weights"].(map[string]any)["sparse"] != 0.7 {
			t.Fatalf("default fusion %v", r.JSON(t)["fusion"])
		}
		for _, score := range hitScores(t, r) {
			if score < 0 || score > 1 {
				t.Fatalf("a convex score outside [0, 1]: %v", score)
			}
		}
		// Asked for: rrf with the sparse arm alone ranks as sparse does.
		sparse := hitDocs(t, b.Must(200, "POST", "/v1/search", key, map[string]any{"query": corpus[1].question, "mode": "sparse", "top_k": 3}))
		r = b.Must(200, "POST", "/v1/search", key, map[string]any{"query": corpus[1].question, "top_k": 3, "fusion": "rrf", "weights": map[string]any{"dense": 0, "sparse": 1}})
		if got := hitDocs(t, r); fmt.Sprint(got) != fmt.Sprint(sparse) || r.JSON(t)["fusion"].(map[string]any)["fusion"] != "rrf" {
			t.Fatalf("rrf on the sparse arm alone: %v, sparse %v", got, sparse)
		}
		if r := b.Must(200, "POST", "/v1/search", key, map[string]any{"query": "x", "mode": "dense"}); r.JSON(t)["fusion"] != nil {
			t.Fatalf("a dense search reports a fusion: %s", r.Body)
		}
		// An agent's fusion applies to its searches; a bad one is refused.
		b.Must(201, "POST", "/v1/agents", key, map[string]any{"id": "dbsf-bot", "name": "D", "model": "m", "retrieval": map[string]any{"fusion": "dbsf", "weights": map[string]any{"dense": 1, "sparse": 2}}})
		f = b.Must(200, "POST", "/v1/agents/dbsf-bot/search", key, map[string]any{"query": "days"}).JSON(t)["fusion"].(map[string]any)
		if f["fusion"] != "dbsf" || f["weights"].(map[string]any)["sparse"] != 2.0 {
			t.Fatalf("agent fusion not applied: %v", f)
		}
		if r := b.Req("POST", "/v1/agents", key, map[string]any{"id": "bad-fusion", "name": "B", "model": "m", "retrieval": map[string]any{"fusion": "borda"}}); r.Status != 400 {
			t.Fatalf("agent with an unknown fusion: %d %s", r.Status, r.Body)
		}
	})

	t.Run("AgentDefaults", func(t *testing.T) {
		b.Must(201, "POST", "/v1/agents", key, map[string]any{"id": "hr-bot", "name": "HR", "model": "m", "retrieval": map[string]any{"top_k": 1, "tags": []string{"hr"}, "mode": "sparse"}})
		r := b.Must(200, "POST", "/v1/agents/hr-bot/search", key, map[string]any{"query": "report phishing emails vacation"})
		docs := hitDocs(t, r)
		if len(docs) != 1 || (docs[0] != ids[0] && docs[0] != ids[3]) || r.JSON(t)["mode"] != "sparse" {
			t.Fatalf("agent defaults not applied: %s", r.Body)
		}
		// The request overrides the agent's defaults.
		if n := len(hitDocs(t, b.Must(200, "POST", "/v1/agents/hr-bot/search", key, map[string]any{"query": "days", "top_k": 5, "filter": map[string]any{"tags_any": []string{"finance", "hr"}}}))); n < 2 {
			t.Fatalf("overrides not applied: %d hits", n)
		}
		b.Must(201, "POST", "/v1/agents", key, map[string]any{"id": "no-rag", "name": "N", "model": "m", "retrieval": map[string]any{"enabled": false}})
		if r := b.Must(409, "POST", "/v1/agents/no-rag/search", key, map[string]any{"query": "x"}); r.Code(t) != "retrieval_disabled" {
			t.Fatalf("disabled retrieval: %s", r.Body)
		}
		b.Must(404, "POST", "/v1/agents/nobody/search", key, map[string]any{"query": "x"})
	})

	t.Run("DeletedDocumentVanishesAtOnce", func(t *testing.T) {
		_, key2 := b.TenantWithKey("other")
		id := b.Must(202, "POST", "/v1/documents", key2, map[string]any{"text": "The aurora borealis glows green over Tromsø."}).JSON(t)["id"].(string)
		b.WaitDocument(key2, id)
		q := map[string]any{"query": "aurora borealis", "mode": "sparse"}
		if docs := hitDocs(t, b.Must(200, "POST", "/v1/search", key2, q)); len(docs) != 1 {
			t.Fatalf("before delete: %v", docs)
		}
		b.Must(202, "DELETE", "/v1/documents/"+id, key2, nil)
		if docs := hitDocs(t, b.Must(200, "POST", "/v1/search", key2, q)); len(docs) != 0 {
			t.Fatalf("a deleted document is still found: %v", docs)
		}
	})

	t.Run("ScopeIsRequired", func(t *testing.T) {
		_, noSearch := b.TenantWithKey("nosearch", "documents:read")
		if r := b.Req("POST", "/v1/search", noSearch, map[string]any{"query": "x"}); r.Status != 403 {
			t.Fatalf("search without the scope: %d", r.Status)
		}
	})
}

// TestSearchIsolation: two tenants with random corpora from one
// vocabulary; hundreds of random queries with random filters (some naming
// the other tenant's documents) from each, with their keys and with the
// admin token: no result ever belongs to the other tenant.
func TestSearchIsolation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	vocab := strings.Fields("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec romeo sierra tango")
	tags := []string{"red", "green", "blue"}
	r := rand.New(rand.NewPCG(11, 12))
	type tenant struct {
		id, key string
		docs    map[string]bool
	}
	tenants := []*tenant{{docs: map[string]bool{}}, {docs: map[string]bool{}}}
	for i, tn := range tenants {
		tn.id, tn.key = b.TenantWithKey(fmt.Sprintf("iso-%d", i), "documents:write", "documents:read", "search")
		var ids []string
		for range 8 {
			var text strings.Builder
			for range 60 {
				text.WriteString(vocab[r.IntN(len(vocab))] + " ")
			}
			id := b.Must(202, "POST", "/v1/documents", tn.key, map[string]any{"text": text.String(), "tags": []string{tags[r.IntN(3)]}}).JSON(t)["id"].(string)
			ids = append(ids, id)
			tn.docs[id] = true
		}
		for _, id := range ids {
			b.WaitDocument(tn.key, id)
		}
	}
	docList := func(tn *tenant) []string {
		var out []string
		for id := range tn.docs {
			out = append(out, id)
		}
		return out
	}
	modes := []string{"hybrid", "dense", "sparse"}
	checked := 0
	for i := range 300 {
		me, other := tenants[i%2], tenants[1-i%2]
		body := map[string]any{"query": vocab[r.IntN(len(vocab))] + " " + vocab[r.IntN(len(vocab))], "mode": modes[r.IntN(3)], "top_k": 1 + r.IntN(20)}
		filter := map[string]any{}
		switch r.IntN(4) {
		case 1:
			filter["tags_any"] = []string{tags[r.IntN(3)]}
		case 2:
			mine, theirs := docList(me), docList(other)
			filter["document_ids"] = []string{mine[r.IntN(len(mine))], theirs[r.IntN(len(theirs))]}
		case 3:
			theirs := docList(other)
			filter["document_ids"] = theirs[:3]
		}
		body["filter"] = filter
		var resp response
		if i%3 == 0 {
			resp = b.Must(200, "POST", "/v1/search", adminToken, body, "Ragd-Tenant", me.id)
		} else {
			resp = b.Must(200, "POST", "/v1/search", me.key, body)
		}
		for _, id := range hitDocs(t, resp) {
			if !me.docs[id] {
				t.Fatalf("query %d of tenant %s returned document %s of another tenant", i, me.id, id)
			}
			checked++
		}
	}
	if checked < 300 {
		t.Fatalf("only %d hits checked; the queries found too little to mean anything", checked)
	}
}
