package console_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ragd/ragd/api/apitest"
	"github.com/ragd/ragd/webhooks"
)

// TestConsoleWebhooks: a webhook is added from the console with its secret
// shown once; its page lists deliveries with their attempts; a failed one
// is sent again; it is turned off and on, and deleted after a
// confirmation. Bad input says what is wrong; another tenant gets 404.
func TestConsoleWebhooks(t *testing.T) {
	t.Parallel()
	var fail atomic.Bool
	fail.Store(true)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()
	b := setupWith(t, apitest.Options{Webhooks: webhooks.Config{AllowPrivate: true, Retries: []time.Duration{20 * time.Millisecond}}})
	_, key := b.TenantWithKey("hooks-a", allScopes...)
	_, keyB := b.TenantWithKey("hooks-b", allScopes...)
	a, other := b.signIn(key), b.signIn(keyB)

	r := a.post("/console/webhooks", url.Values{"csrf_token": {a.csrf()}, "url": {receiver.URL + "/hook"}, "description": {"the CRM"},
		"event_types": {"document.ready", "document.failed"}})
	secret := regexp.MustCompile(`<code id="new-secret">(whsec_[^<]+)</code>`).FindSubmatch(r.Body)
	if r.Status != http.StatusCreated || secret == nil {
		t.Fatalf("add a webhook: %d %.3000s", r.Status, r.Body)
	}
	list := string(a.get("/console/webhooks").Body)
	if strings.Contains(list, string(secret[1])) || !strings.Contains(list, receiver.URL+"/hook") || !strings.Contains(list, "document.failed, document.ready") {
		t.Fatalf("the list (once more, without the secret): %.3000s", list[strings.Index(list, `<section aria-labelledby="all">`):])
	}
	id := regexp.MustCompile(`data-webhook="([^"]+)"`).FindStringSubmatch(list)[1]

	// A document's ready event fails twice (the receiver is down), then
	// is sent again from the page once the receiver is back.
	doc := b.Upload(key, "", "notes.txt", []byte("the notes say hello")).JSON(t)["id"].(string)
	b.WaitDocument(key, doc)
	// Wait for both the failed delivery and the endpoint turned off: the
	// page reads the endpoint and then its deliveries, so a page served
	// while the last attempt commits can show the one without the other.
	var page string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		page = string(a.get("/console/webhooks/" + id).Body)
		if strings.Contains(page, `data-status="failed"`) && strings.Contains(page, `<span class="badge failed">off</span>`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no failed delivery with its endpoint turned off shown: %.3000s", page)
		}
	}
	if !strings.Contains(page, "HTTP 503") || !strings.Contains(page, "down for maintenance") || !strings.Contains(page, "2 attempts") {
		t.Errorf("the failed delivery's attempts: %.4000s", page)
	}
	delivery := regexp.MustCompile(`data-delivery="([^"]+)" data-status="failed"`).FindStringSubmatch(page)[1]
	// Every attempt of a whole schedule failed: ragd turned the webhook
	// off, and the page says why and that it must be on to send again.
	if !strings.Contains(page, `<span class="badge failed">off</span><p class="reason">`) || !strings.Contains(page, "Turn the webhook on to send this again") {
		t.Errorf("the disabled webhook's page: %.4000s", page[strings.Index(page, `id="facts"`):])
	}
	fail.Store(false)
	a.post("/console/webhooks/"+id+"/enable", url.Values{"csrf_token": {a.csrf()}, "from": {"endpoint"}})
	r = a.post("/console/webhooks/"+id+"/deliveries/"+delivery+"/retry", url.Values{"csrf_token": {a.csrf()}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("send again: %d %.300s", r.Status, r.Body)
	}
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(page, `data-status="delivered"`); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the delivery sent again is not delivered: %.3000s", page)
		}
		page = string(a.get("/console/webhooks/" + id).Body)
	}

	// Off and on again, from its page.
	r = a.post("/console/webhooks/"+id+"/disable", url.Values{"csrf_token": {a.csrf()}, "from": {"endpoint"}})
	if r.Header.Get("Location") != "/console/webhooks/"+id+"?done=webhook-disabled" {
		t.Fatalf("turn off: %d %s", r.Status, r.Header.Get("Location"))
	}
	if e := b.Must(200, "GET", "/v1/webhooks/"+id, key, nil).JSON(t); e["enabled"] != false {
		t.Fatalf("after turning off: %v", e)
	}
	a.post("/console/webhooks/"+id+"/enable", url.Values{"csrf_token": {a.csrf()}})
	if e := b.Must(200, "GET", "/v1/webhooks/"+id, key, nil).JSON(t); e["enabled"] != true {
		t.Fatalf("after turning on: %v", e)
	}

	// Bad input: the API's message beside the field.
	r = a.post("/console/webhooks", url.Values{"csrf_token": {a.csrf()}, "url": {"ftp://example.com/x"}, "event_types": {"document.ready"}})
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `id="webhook-url-error"><p class="field-error"`) {
		t.Errorf("a bad URL: %d %.2000s", r.Status, r.Body)
	}
	r = a.post("/console/webhooks", url.Values{"csrf_token": {a.csrf()}, "url": {receiver.URL}})
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `class="field-error"`) {
		t.Errorf("no events: %d %.2000s", r.Status, r.Body)
	}

	// Another tenant: 404 on every route, and nothing changes.
	for _, path := range []string{"/console/webhooks/" + id} {
		if r := other.get(path); r.Status != http.StatusNotFound || strings.Contains(string(r.Body), receiver.URL) {
			t.Errorf("tenant B's GET %s: %d", path, r.Status)
		}
	}
	for _, path := range []string{"/disable", "/delete", "/deliveries/" + delivery + "/retry"} {
		if r := other.post("/console/webhooks/"+id+path, url.Values{"csrf_token": {other.csrf()}, "confirm": {"yes"}}); r.Status != http.StatusNotFound {
			t.Errorf("tenant B's POST %s: %d", path, r.Status)
		}
	}
	if strings.Contains(string(other.get("/console/webhooks").Body), receiver.URL) {
		t.Error("tenant B's list shows tenant A's webhook")
	}

	// Delete asks first; confirmed, it is gone.
	r = a.post("/console/webhooks/"+id+"/delete", url.Values{"csrf_token": {a.csrf()}})
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `name="confirm" value="yes"`) {
		t.Fatalf("delete without confirmation: %d", r.Status)
	}
	b.Must(200, "GET", "/v1/webhooks/"+id, key, nil)
	r = a.post("/console/webhooks/"+id+"/delete", url.Values{"csrf_token": {a.csrf()}, "confirm": {"yes"}})
	if r.Status != http.StatusSeeOther || b.Req("GET", "/v1/webhooks/"+id, key, nil).Status != 404 {
		t.Fatalf("confirmed delete: %d", r.Status)
	}
}
