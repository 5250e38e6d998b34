package console_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/ragd/ragd/api/apitest"
)

// TestConsoleAgentRetrievalAndConflict: retrieval settings are fields of
// their own, saved as the API's settings, with the API's errors beside the
// field; a save refused because someone else saved meanwhile keeps the
// form, lists what the stored version has instead, and a second save
// replaces that version on purpose.
func TestConsoleAgentRetrievalAndConflict(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, key := b.TenantWithKey("agent-form", allScopes...)
	b.Must(201, "POST", "/v1/agents", key, apitest.FullAgent("form-bot"))
	v := b.signIn(key)

	page := v.get("/console/agents/form-bot/edit")
	form := formValues(t, page.Body, "agent-form")
	if form.Get("retrieval_mode") != "dense" || form.Get("retrieval_top_k") != "5" || form.Get("retrieval_tags") != "faq" || form.Get("retrieval_enabled") != "true" {
		t.Fatalf("the retrieval fields read %v", form)
	}
	if strings.Contains(string(page.Body), `name="retrieval"`) {
		t.Error("the editor still has a raw JSON field for retrieval")
	}

	// Bad input: the API's message beside the field.
	bad := formValues(t, page.Body, "agent-form")
	bad.Set("retrieval_top_k", "0")
	r := v.post("/console/agents/form-bot/edit", bad)
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `data-error-for="retrieval_top_k"><p class="field-error" role="alert">`) {
		t.Fatalf("top_k 0: %d %.3000s", r.Status, r.Body)
	}

	// Someone changes the model meanwhile.
	b.Must(200, "PATCH", "/v1/agents/form-bot", key, map[string]any{"model": "gpt-4.1"})
	form.Set("retrieval_top_k", "3")
	form.Set("retrieval_tags", "hr, faq")
	form.Set("retrieval_score_threshold", "0.4")
	form.Set("retrieval_fusion", "rrf")
	form.Set("retrieval_mode", "hybrid")
	r = v.post("/console/agents/form-bot/edit", form)
	body := string(r.Body)
	if r.Status != http.StatusPreconditionFailed || !strings.Contains(body, `id="conflict"`) || !strings.Contains(body, "<dt>Model</dt><dd><pre>gpt-4.1</pre>") {
		t.Fatalf("a save over someone else's: %d %.4000s", r.Status, body)
	}
	again := formValues(t, r.Body, "agent-form")
	if again.Get("version") != "2" || again.Get("retrieval_top_k") != "3" || again.Get("model") != "gpt-4o-mini" {
		t.Fatalf("the refused form: version %s, top_k %s, model %s; want the stored version 2 and what was typed",
			again.Get("version"), again.Get("retrieval_top_k"), again.Get("model"))
	}
	if r := v.post("/console/agents/form-bot/edit", again); r.Status != http.StatusSeeOther {
		t.Fatalf("saving again: %d %.2000s", r.Status, r.Body)
	}
	a := b.Must(200, "GET", "/v1/agents/form-bot", key, nil).JSON(t)
	ret := a["retrieval"].(map[string]any)
	var tags []string
	for _, t := range ret["tags"].([]any) {
		tags = append(tags, t.(string))
	}
	slices.Sort(tags)
	if a["model"] != "gpt-4o-mini" || a["version"] != 3.0 || ret["top_k"] != 3.0 || ret["score_threshold"] != 0.4 || ret["fusion"] != "rrf" ||
		ret["mode"] != "hybrid" || !slices.Equal(tags, []string{"faq", "hr"}) {
		t.Fatalf("after saving over version 2: %v", a)
	}

	// Unchecked, retrieval is off; emptied optional fields are the
	// server's defaults again.
	form = formValues(t, v.get("/console/agents/form-bot/edit").Body, "agent-form")
	form.Del("retrieval_enabled")
	form.Set("retrieval_score_threshold", "")
	form.Set("retrieval_fusion", "")
	if r := v.post("/console/agents/form-bot/edit", form); r.Status != http.StatusSeeOther {
		t.Fatalf("turning retrieval off: %d %.2000s", r.Status, r.Body)
	}
	ret = b.Must(200, "GET", "/v1/agents/form-bot", key, nil).JSON(t)["retrieval"].(map[string]any)
	if ret["enabled"] != false || ret["score_threshold"] != nil || ret["fusion"] != "" {
		t.Fatalf("retrieval after clearing: %v", fmt.Sprint(ret))
	}
}
