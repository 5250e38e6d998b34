package console_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestConsoleSearchAsAgent: the playground offers the agents with
// retrieval on, and a search as one of them uses its settings (here, its
// tags and its number of results, which the placeholder shows); the
// default's placeholder is the server's real default.
func TestConsoleSearchAsAgent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, key := b.TenantWithKey("search-agent", allScopes...)
	hr := b.Upload(key, "", "leave.txt", []byte("Vacation is 25 days a year."), "tags", "hr").JSON(t)["id"].(string)
	faq := b.Upload(key, "", "faq.txt", []byte("Vacation days carry over, up to five.")).JSON(t)["id"].(string)
	b.WaitDocument(key, hr)
	b.WaitDocument(key, faq)
	b.Must(201, "POST", "/v1/agents", key, map[string]any{"id": "hr-bot", "name": "HR bot", "model": "m", "retrieval": map[string]any{"tags": []string{"hr"}, "top_k": 3}})
	b.Must(201, "POST", "/v1/agents", key, map[string]any{"id": "quiet-bot", "name": "Quiet bot", "model": "m", "retrieval": map[string]any{"enabled": false}})
	v := b.signIn(key)

	page := string(v.get("/console/search").Body)
	if !strings.Contains(page, `<option value="hr-bot" >HR bot (hr-bot)</option>`) || strings.Contains(page, "quiet-bot") || !strings.Contains(page, `placeholder="8"`) {
		t.Fatalf("the agent picker: %.4000s", page)
	}
	all := string(v.get("/console/search?q=vacation+days&threshold=0").Body)
	if !strings.Contains(all, hr) || !strings.Contains(all, faq) {
		t.Fatalf("without an agent, both documents: %.3000s", all)
	}
	as := v.get("/console/search?q=vacation+days&threshold=0&agent=hr-bot")
	body := string(as.Body)
	if as.Status != 200 || !strings.Contains(body, hr) || strings.Contains(body, faq) || !strings.Contains(body, `placeholder="3"`) || !strings.Contains(body, `<option value="hr-bot" selected>`) {
		t.Fatalf("as hr-bot (tags hr, top 3): %d %.4000s", as.Status, body)
	}
	if r := v.get("/console/search?q=vacation&agent=quiet-bot"); r.Status != http.StatusConflict || !strings.Contains(string(r.Body), "retrieval is disabled") {
		t.Errorf("as an agent without retrieval: %d", r.Status)
	}
}
