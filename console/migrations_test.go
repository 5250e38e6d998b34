package console_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ragd/ragd/api/apitest"
	"github.com/ragd/ragd/embedder"
	"github.com/ragd/ragd/search"
)

// TestConsoleMigrations: an embedding migration is estimated, started,
// followed and completed from the console; bad input says what is wrong;
// another tenant cannot end it.
func TestConsoleMigrations(t *testing.T) {
	t.Parallel()
	b := setupWith(t, apitest.Options{OfferedSpaces: []search.Space{{Model: embedder.LocalModel, Dimensions: 32}}})
	_, key := b.TenantWithKey("models-a", allScopes...)
	_, keyB := b.TenantWithKey("models-b", allScopes...)
	doc := b.Upload(key, "", "notes.txt", []byte("the notes say vacation is 25 days")).JSON(t)["id"].(string)
	b.WaitDocument(key, doc)
	a, other := b.signIn(key), b.signIn(keyB)
	form := url.Values{"csrf_token": {a.csrf()}, "model": {embedder.LocalModel}, "dimensions": {"32"}, "do": {"estimate"}}

	r := a.post("/console/migrations", form)
	if r.Status != 200 || !regexp.MustCompile(`id="estimate"[^>]*>Moving to <code>[^<]+@32</code> embeds 1 chunk of 1 document,`).Match(r.Body) {
		t.Fatalf("estimate: %d %.3000s", r.Status, r.Body)
	}
	if n := len(b.Must(200, "GET", "/v1/embedding-migrations", key, nil).JSON(t)["data"].([]any)); n != 0 {
		t.Fatalf("an estimate started %d migrations", n)
	}
	for _, bad := range []struct{ field, value, says string }{
		{"dimensions", "x", "whole number"},
		{"dimensions", "48", "offer"},
		{"rollback_window_hours", "-1", "hours from 0 to 720"},
	} {
		f := url.Values{}
		for k, v := range form {
			f[k] = v
		}
		f.Set(bad.field, bad.value)
		if r := a.post("/console/migrations", f); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), bad.says) {
			t.Errorf("%s %q: %d, want 400 saying %q: %.3000s", bad.field, bad.value, r.Status, bad.says, r.Body)
		}
	}

	form.Set("do", "start")
	if r := a.post("/console/migrations", form); r.Status != http.StatusSeeOther {
		t.Fatalf("start: %d %.2000s", r.Status, r.Body)
	}
	var page, id string
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		page = string(a.get("/console/migrations").Body)
		if m := regexp.MustCompile(`data-migration="([^"]+)" data-state="active"`).FindStringSubmatch(page); m != nil {
			id = m[1]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the migration did not become active: %.3000s", page)
		}
	}
	if !strings.Contains(page, `aria-label="Complete the migration`) || !strings.Contains(page, `aria-label="Roll back the migration`) || strings.Contains(page, `aria-label="Cancel the migration`) {
		t.Errorf("an active migration's actions: %.3000s", page)
	}
	if r := other.post("/console/migrations/"+id+"/complete", url.Values{"csrf_token": {other.csrf()}}); r.Status != http.StatusNotFound {
		t.Errorf("tenant B completing A's migration: %d", r.Status)
	}
	if strings.Contains(string(other.get("/console/migrations").Body), id) {
		t.Error("tenant B's page lists A's migration")
	}
	if r := a.post("/console/migrations/"+id+"/complete", url.Values{"csrf_token": {a.csrf()}}); r.Status != http.StatusSeeOther {
		t.Fatalf("complete: %d %.2000s", r.Status, r.Body)
	}
	if m := b.Must(200, "GET", "/v1/embedding-migrations/"+id, key, nil).JSON(t); m["state"] != "completed" {
		t.Fatalf("after complete: %v", m["state"])
	}
	if r := a.post("/console/migrations/"+id+"/rollback", url.Values{"csrf_token": {a.csrf()}}); r.Status < 400 || !strings.Contains(string(r.Body), `class="error"`) {
		t.Errorf("rolling back a completed migration: %d", r.Status)
	}
}
