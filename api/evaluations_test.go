package api_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ragd/ragd/api/apitest"
)

// waitEvaluation polls an evaluation until it has finished.
func (b *testBundle) waitEvaluation(key, id string) map[string]any {
	b.t.Helper()
	var e map[string]any
	apitest.Eventually(b.t, "evaluation "+id+" to finish", func() bool {
		e = b.Must(200, "GET", "/v1/evaluations/"+id, key, nil).JSON(b.t)
		return e["status"] == "succeeded" || e["status"] == "failed"
	})
	return e
}

func TestEvaluations(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, key := b.TenantWithKey("acme")
	ids := b.loadCorpus(key)
	ext := b.Must(202, "POST", "/v1/documents", key, map[string]any{
		"text": "# Parking\n\nStaff park in the north garage; visitors use the south lot.", "format": "markdown", "title": "Parking", "external_id": "kb-parking",
	}).JSON(t)["id"].(string)
	b.WaitDocument(key, ext)

	queries := []map[string]any{}
	for i, d := range corpus {
		queries = append(queries, map[string]any{"query": d.question, "relevant": []map[string]any{{"document_id": ids[i], "grade": 2}}})
	}
	queries = append(queries, map[string]any{"query": "where do visitors park", "relevant": []map[string]any{{"external_id": "kb-parking"}}})

	t.Run("ScoresEveryConfigurationAndPicksTheBest", func(t *testing.T) {
		r := b.Must(202, "POST", "/v1/evaluations", key, map[string]any{"queries": queries, "per_query": true})
		if !strings.HasPrefix(r.Header.Get("Location"), "/v1/evaluations/") {
			t.Fatalf("Location %q", r.Header.Get("Location"))
		}
		e := b.waitEvaluation(key, r.JSON(t)["id"].(string))
		if e["status"] != "succeeded" || e["queries"] != float64(len(queries)) || e["progress"] != 1.0 {
			t.Fatalf("evaluation %v", e)
		}
		results := e["results"].([]any)
		if len(results) != 14 { // sparse, dense, 4 fusions × 3 weightings; the default is one of them
			t.Fatalf("%d results, want 14", len(results))
		}
		best := e["best"].(map[string]any)
		bestNDCG := best["mean"].(map[string]any)["ndcg_at_10"].(float64)
		for _, x := range results {
			res := x.(map[string]any)
			mean := res["mean"].(map[string]any)
			if n := mean["ndcg_at_10"].(float64); n > bestNDCG || n < 0 || n > 1 {
				t.Fatalf("%v scores nDCG %v; best %v", res["name"], n, bestNDCG)
			}
			if len(res["per_query"].([]any)) != len(queries) {
				t.Fatalf("%v: %d per-query scores", res["name"], len(res["per_query"].([]any)))
			}
			// Each question was written for its document: sparse finds it first.
			if res["name"] == "sparse" && (mean["mrr"].(float64) < 0.9 || mean["recall_at_k"].(float64) != 1) {
				t.Fatalf("sparse: %v", mean)
			}
		}
	})

	t.Run("ChosenConfigsAndApplyToAgent", func(t *testing.T) {
		b.Must(201, "POST", "/v1/agents", key, map[string]any{"id": "eval-bot", "name": "E", "model": "m", "retrieval": map[string]any{"mode": "dense"}})
		id := b.Must(202, "POST", "/v1/evaluations", key, map[string]any{"queries": queries, "agent_id": "eval-bot", "k": 3,
			"configs": []map[string]any{{"mode": "sparse"}, {"mode": "hybrid", "fusion": "rrf", "weights": map[string]any{"dense": 1, "sparse": 1}}}}).JSON(t)["id"].(string)
		e := b.waitEvaluation(key, id)
		results := e["results"].([]any)
		if len(results) != 3 || e["k"] != 3.0 || e["agent_id"] != "eval-bot" {
			t.Fatalf("results %v", e)
		}
		agentRes := results[2].(map[string]any)
		if agentRes["agent"] != true || agentRes["config"].(map[string]any)["mode"] != "dense" {
			t.Fatalf("the agent's configuration is not compared: %v", agentRes)
		}
		a := b.Must(200, "POST", "/v1/evaluations/"+id+"/apply", key, map[string]any{"agent_id": "eval-bot"}).JSON(t)
		best := e["best"].(map[string]any)["config"].(map[string]any)
		ret := a["retrieval"].(map[string]any)
		if ret["mode"] != best["mode"] || fmt.Sprint(ret["fusion"]) != fmt.Sprint(orNil(best["fusion"], "")) {
			t.Fatalf("agent retrieval %v, best %v", ret, best)
		}
		b.Must(404, "POST", "/v1/evaluations/"+id+"/apply", key, map[string]any{"agent_id": "nobody"})
		if r := b.Req("POST", "/v1/evaluations/"+id+"/apply", key, map[string]any{}); r.Status != 400 {
			t.Fatalf("apply without an agent: %d", r.Status)
		}
	})

	t.Run("UnanswerableQueriesFitTheThreshold", func(t *testing.T) {
		// Questions the documents do not answer, judged as such: right
		// only when answered with nothing.
		judged := append(slices.Clone(queries),
			map[string]any{"query": "what was the score of the football final", "relevant": []any{}},
			map[string]any{"query": "when are corporate tax returns due", "relevant": []any{}})
		b.Must(201, "POST", "/v1/agents", key, map[string]any{"id": "fit-bot", "name": "F", "model": "m", "retrieval": map[string]any{"score_threshold": 0}})
		id := b.Must(202, "POST", "/v1/evaluations", key, map[string]any{"queries": judged, "agent_id": "fit-bot", "per_query": true,
			"configs": []map[string]any{{"mode": "hybrid", "score_threshold": 0}, {"mode": "hybrid"}}}).JSON(t)["id"].(string)
		e := b.waitEvaluation(key, id)
		if e["unanswerable_queries"] != 2.0 || e["queries"] != float64(len(judged)) {
			t.Fatalf("evaluation %v", e)
		}
		results := e["results"].([]any)
		everything := results[0].(map[string]any)
		// Threshold 0 answers the two with the nearest passages; the
		// default does not answer them, and keeps the answerable ones'
		// recall.
		atDefault := results[1].(map[string]any)
		if everything["no_answer"] != 0.0 || atDefault["no_answer"] != 1.0 || atDefault["mean"].(map[string]any)["recall_at_k"] != everything["mean"].(map[string]any)["recall_at_k"] {
			t.Fatalf("at the default threshold: %v; at 0: %v", atDefault, everything)
		}
		pq := atDefault["per_query"].([]any)
		if last := pq[len(pq)-1].(map[string]any); last["answered_with_nothing"] != true {
			t.Fatalf("per-query score of an unanswerable query: %v", last)
		}
		fit := e["best"].(map[string]any)["fitted_threshold"].(map[string]any)
		if fit["no_answer"] != 1.0 || fit["score_threshold"].(float64) <= 0 {
			t.Fatalf("fitted threshold %v", fit)
		}
		// Apply sets the agent's threshold to the fitted one.
		a := b.Must(200, "POST", "/v1/evaluations/"+id+"/apply", key, map[string]any{"agent_id": "fit-bot"}).JSON(t)
		if got := a["retrieval"].(map[string]any)["score_threshold"]; got != fit["score_threshold"] {
			t.Fatalf("agent's threshold after apply: %v, fitted %v", got, fit["score_threshold"])
		}
		// The agent's searches use it: the unanswerable question gets
		// nothing, said so.
		r := b.Must(200, "POST", "/v1/agents/fit-bot/search", key, map[string]any{"query": "what was the score of the football final"}).JSON(t)
		if r["no_relevant_passages"] != true || len(r["data"].([]any)) != 0 || r["score_threshold"] != fit["score_threshold"] {
			t.Fatalf("agent search of an unanswerable question: %v", r)
		}
	})

	t.Run("BadInput", func(t *testing.T) {
		_, otherKey := b.TenantWithKey("other")
		otherDoc := b.Must(202, "POST", "/v1/documents", otherKey, map[string]any{"text": "Other tenant's text."}).JSON(t)["id"].(string)
		rel := func(m map[string]any) []map[string]any { return []map[string]any{m} }
		many := make([]map[string]any, 10000)
		for i := range many {
			many[i] = map[string]any{"query": fmt.Sprint("q", i), "relevant": rel(map[string]any{"document_id": ids[0]})}
		}
		for name, tc := range map[string]struct {
			body  any
			field string
		}{
			"NoQueries":         {map[string]any{"queries": []any{}}, "queries"},
			"Missing":           {map[string]any{}, "queries"},
			"TenThousand":       {map[string]any{"queries": many}, "queries"},
			"NoJudgments":       {map[string]any{"queries": []any{map[string]any{"query": "x"}}}, "queries[0].relevant"},
			"BadThreshold":      {map[string]any{"queries": queries, "configs": []any{map[string]any{"mode": "sparse", "score_threshold": 1.5}}}, "configs[0].score_threshold"},
			"EmptyQuery":        {map[string]any{"queries": []any{map[string]any{"query": "", "relevant": rel(map[string]any{"document_id": ids[0]})}}}, "queries[0].query"},
			"UnknownDocument":   {map[string]any{"queries": []any{map[string]any{"query": "x", "relevant": rel(map[string]any{"document_id": "0193a4b0-0000-7000-8000-000000000000"})}}}, "queries[0].relevant[0].document_id"},
			"OtherTenantsDoc":   {map[string]any{"queries": []any{map[string]any{"query": "x", "relevant": rel(map[string]any{"document_id": otherDoc})}}}, "queries[0].relevant[0].document_id"},
			"UnknownExternalID": {map[string]any{"queries": []any{map[string]any{"query": "x", "relevant": rel(map[string]any{"external_id": "nope"})}}}, "queries[0].relevant[0].external_id"},
			"BothIDs":           {map[string]any{"queries": []any{map[string]any{"query": "x", "relevant": rel(map[string]any{"document_id": ids[0], "external_id": "kb-parking"})}}}, "queries[0].relevant[0]"},
			"BadGrade":          {map[string]any{"queries": []any{map[string]any{"query": "x", "relevant": rel(map[string]any{"document_id": ids[0], "grade": 9})}}}, "queries[0].relevant[0].grade"},
			"BadK":              {map[string]any{"queries": queries, "k": 1000}, "k"},
			"BadMode":           {map[string]any{"queries": queries, "configs": []any{map[string]any{"mode": "psychic"}}}, "configs[0].mode"},
			"FusionOnDense":     {map[string]any{"queries": queries, "configs": []any{map[string]any{"mode": "dense", "fusion": "rrf"}}}, "configs[0]"},
			"BadWeights":        {map[string]any{"queries": queries, "configs": []any{map[string]any{"mode": "hybrid", "weights": map[string]any{"dense": 0, "sparse": 0}}}}, "configs[0]"},
			"Twice":             {map[string]any{"queries": queries, "configs": []any{map[string]any{"mode": "sparse"}, map[string]any{"mode": "sparse"}}}, "configs[1]"},
			"UnknownAgent":      {map[string]any{"queries": queries, "agent_id": "nobody"}, "agent_id"},
		} {
			r := b.Req("POST", "/v1/evaluations", key, tc.body)
			if r.Status != 400 || r.Code(t) != "validation_failed" || !strings.Contains(string(r.Body), `"`+tc.field+`"`) {
				t.Errorf("%s: %d %.300s, want a validation error on %s", name, r.Status, r.Body, tc.field)
			}
		}
		if r := b.Req("POST", "/v1/evaluations", key, "not an object"); r.Status != 400 {
			t.Errorf("a string body: %d", r.Status)
		}
	})

	t.Run("TenantsSeeOnlyTheirOwn", func(t *testing.T) {
		_, otherKey := b.TenantWithKey("third")
		id := b.Must(202, "POST", "/v1/evaluations", key, map[string]any{"queries": queries[:1]}).JSON(t)["id"].(string)
		b.waitEvaluation(key, id)
		b.Must(404, "GET", "/v1/evaluations/"+id, otherKey, nil)
		b.Must(404, "GET", "/v1/evaluations/not-a-uuid", key, nil)
		b.Must(404, "POST", "/v1/evaluations/"+id+"/apply", otherKey, map[string]any{"agent_id": "eval-bot"})
		_, readOnly := b.TenantWithKey("readonly", "documents:read")
		if r := b.Req("POST", "/v1/evaluations", readOnly, map[string]any{"queries": queries}); r.Status != 403 {
			t.Fatalf("without the search scope: %d", r.Status)
		}
	})
}

func orNil(v any, def any) any {
	if v == nil {
		return def
	}
	return v
}
