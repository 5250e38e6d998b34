package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/ragd/ragd/api/apitest"
	"github.com/ragd/ragd/webhooks"
)

// receiver is a local webhook receiver: it verifies each request's
// signature with the Standard Webhooks library and answers with the next
// status of its script (200 once the script is used up).
type receiver struct {
	t      testing.TB
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	script []int
	got    []received
	// bad counts requests whose signature did not verify.
	bad int
}

type received struct {
	ID      string
	Type    string
	Data    map[string]any
	Status  int
	Headers http.Header
}

func newReceiver(t testing.TB, script ...int) *receiver {
	r := &receiver{t: t, script: script}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		status := 200
		if len(r.script) > 0 {
			status, r.script = r.script[0], r.script[1:]
		}
		var ev struct {
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		_ = json.Unmarshal(body, &ev)
		if wh, err := standardwebhooks.NewWebhook(r.secret); err != nil || wh.Verify(body, req.Header) != nil {
			r.bad++
		}
		r.got = append(r.got, received{ID: req.Header.Get("webhook-id"), Type: ev.Type, Data: ev.Data, Status: status, Headers: req.Header.Clone()})
		w.WriteHeader(status)
		_, _ = w.Write([]byte("status from the receiver"))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) setSecret(s string) {
	r.mu.Lock()
	r.secret = s
	r.mu.Unlock()
}

// wait waits until a request satisfies ok, and returns all received.
func (r *receiver) wait(what string, ok func([]received) bool) []received {
	r.t.Helper()
	var got []received
	apitest.Eventually(r.t, "the receiver to get "+what, func() bool {
		r.mu.Lock()
		got = append([]received(nil), r.got...)
		r.mu.Unlock()
		return ok(got)
	})
	return got
}

func has(typ, subject string, status int) func([]received) bool {
	return func(got []received) bool {
		for _, g := range got {
			if g.Type == typ && g.Data["id"] == subject && g.Status == status {
				return true
			}
		}
		return false
	}
}

// fastRetries keeps the tests' schedules short: three attempts.
var fastRetries = []time.Duration{20 * time.Millisecond, 20 * time.Millisecond}

func setupWebhooks(t *testing.T) *testBundle {
	t.Helper()
	return setupWith(t, apitest.Options{Webhooks: webhooks.Config{AllowPrivate: true, Retries: fastRetries}})
}

func (b *testBundle) createWebhook(key, url string, types ...string) (string, string) {
	b.t.Helper()
	if types == nil {
		types = webhooks.EventTypes
	}
	m := b.Must(201, "POST", "/v1/webhooks", key, map[string]any{"url": url, "event_types": types}).JSON(b.t)
	return m["id"].(string), m["secret"].(string)
}

func (b *testBundle) deliveries(key, webhookID string) []map[string]any {
	b.t.Helper()
	var out struct {
		Data []map[string]any `json:"data"`
	}
	r := b.Must(200, "GET", "/v1/webhooks/"+webhookID+"/deliveries", key, nil)
	if err := json.Unmarshal(r.Body, &out); err != nil {
		b.t.Fatal(err)
	}
	return out.Data
}

// settled polls the endpoint's deliveries until there are n and none is
// pending: a receiver hears of a delivery just before it is recorded.
func (b *testBundle) settled(key, webhookID string, n int) []map[string]any {
	b.t.Helper()
	var ds []map[string]any
	apitest.Eventually(b.t, fmt.Sprintf("%d deliveries, none pending", n), func() bool {
		ds = b.deliveries(key, webhookID)
		pending := 0
		for _, d := range ds {
			if d["status"] == "pending" {
				pending++
			}
		}
		return len(ds) == n && pending == 0
	})
	return ds
}

func TestWebhooks(t *testing.T) {
	t.Parallel()
	b := setupWebhooks(t)
	// Each subtest is a tenant of its own: an endpoint hears of every
	// document of its tenant.
	tenant := func(slug string) string {
		_, key := b.TenantWithKey(slug, allScopes...)
		return key
	}

	t.Run("DocumentEventsAreSignedAndInOrder", func(t *testing.T) {
		t.Parallel()
		key := tenant("hooks-order")
		rcv := newReceiver(t)
		id, secret := b.createWebhook(key, rcv.srv.URL+"/hook")
		rcv.setSecret(secret)
		got := b.Must(200, "GET", "/v1/webhooks/"+id, key, nil).JSON(t)
		if _, ok := got["secret"]; ok || got["enabled"] != true {
			t.Fatalf("GET shows %v", got)
		}
		doc := b.Must(202, "POST", "/v1/documents", key, map[string]any{"text": "# Leave\n\nEveryone gets 25 days.", "format": "markdown"}).JSON(t)
		docID := doc["id"].(string)
		rcv.wait("document.ready", has("document.ready", docID, 200))
		b.Must(202, "DELETE", "/v1/documents/"+docID, key, nil)
		all := rcv.wait("document.deleted", has("document.deleted", docID, 200))
		var order []string
		for _, g := range all {
			if g.Data["id"] == docID {
				order = append(order, g.Type)
				if g.Type == "document.ready" && (g.Data["status"] != "ready" || g.Data["chunk_count"].(float64) < 1) {
					t.Errorf("document.ready data: %v", g.Data)
				}
				if g.Type == "document.deleted" && g.Data["status"] != "deleting" {
					t.Errorf("document.deleted data: %v", g.Data)
				}
			}
		}
		if len(order) != 2 || order[0] != "document.ready" || order[1] != "document.deleted" {
			t.Fatalf("events of the document, in arrival order: %v", order)
		}
		rcv.mu.Lock()
		bad := rcv.bad
		rcv.mu.Unlock()
		if bad != 0 {
			t.Fatalf("%d deliveries did not verify with the secret returned at creation", bad)
		}
		ds := b.settled(key, id, 2)
		if len(ds) != 2 || ds[0]["status"] != "delivered" || ds[0]["event_type"] != "document.deleted" {
			t.Fatalf("deliveries: %v", ds)
		}
		att := ds[1]["attempts"].([]any)[0].(map[string]any)
		if att["status_code"].(float64) != 200 || att["latency_ms"] == nil {
			t.Fatalf("attempt: %v", att)
		}
		if ds[1]["event_id"] != all[0].ID {
			t.Errorf("webhook-id %q is not the event id %v", all[0].ID, ds[1]["event_id"])
		}
	})

	t.Run("FailedDocument", func(t *testing.T) {
		t.Parallel()
		key := tenant("hooks-failed")
		rcv := newReceiver(t)
		_, secret := b.createWebhook(key, rcv.srv.URL, "document.failed")
		rcv.setSecret(secret)
		r := b.Upload(key, "", "bad.pdf", []byte("%PDF-1.4\nnot really"))
		if r.Status != 202 {
			t.Fatalf("upload: %d %s", r.Status, r.Body)
		}
		docID := r.JSON(t)["id"].(string)
		got := rcv.wait("document.failed", has("document.failed", docID, 200))
		for _, g := range got {
			if g.Data["id"] == docID {
				e, _ := g.Data["error"].(map[string]any)
				if g.Data["status"] != "failed" || e["code"] != "pdf_malformed" {
					t.Fatalf("document.failed data: %v", g.Data)
				}
			}
		}
	})

	t.Run("RetriesUntilDelivered", func(t *testing.T) {
		t.Parallel()
		key := tenant("hooks-retry")
		rcv := newReceiver(t, 500, 503)
		id, secret := b.createWebhook(key, rcv.srv.URL, "document.ready")
		rcv.setSecret(secret)
		docID := b.Must(202, "POST", "/v1/documents", key, map[string]any{"text": "retried"}).JSON(t)["id"].(string)
		rcv.wait("the third attempt", has("document.ready", docID, 200))
		d := b.settled(key, id, 1)[0]
		atts := d["attempts"].([]any)
		if len(atts) != 3 {
			t.Fatalf("attempts: %v", atts)
		}
		for i, want := range []float64{500, 503, 200} {
			a := atts[i].(map[string]any)
			if a["status_code"] != want || a["attempt"] != float64(i+1) || a["latency_ms"] == nil {
				t.Errorf("attempt %d: %v", i+1, a)
			}
		}
		if e := b.Must(200, "GET", "/v1/webhooks/"+id, key, nil).JSON(t); e["failing_since"] != nil || e["enabled"] != true {
			t.Errorf("endpoint after a success: %v", e)
		}
	})

	t.Run("DisablesAnEndpointThatKeepsFailingThenRetriesByHand", func(t *testing.T) {
		t.Parallel()
		key := tenant("hooks-disable")
		rcv := newReceiver(t, 500, 500, 500)
		id, secret := b.createWebhook(key, rcv.srv.URL, "document.ready")
		rcv.setSecret(secret)
		docID := b.Must(202, "POST", "/v1/documents", key, map[string]any{"text": "refused"}).JSON(t)["id"].(string)
		var e map[string]any
		apitest.Eventually(t, "the failing endpoint to be disabled", func() bool {
			// The deliveries come with the endpoint as of the same moment:
			// the last attempt fails the delivery and turns the endpoint
			// off in one commit, so no answer shows one without the other.
			r := b.Must(200, "GET", "/v1/webhooks/"+id+"/deliveries", key, nil).JSON(t)
			e = r["endpoint"].(map[string]any)
			if ds := r["data"].([]any); e["id"] != id || len(ds) == 1 && ds[0].(map[string]any)["status"] == "failed" && e["enabled"] != false {
				t.Fatalf("deliveries and endpoint of different moments: %v", r)
			}
			return e["enabled"] == false
		})
		if got := b.Must(200, "GET", "/v1/webhooks/"+id, key, nil).JSON(t); got["enabled"] != false || got["disabled_reason"] != e["disabled_reason"] {
			t.Fatalf("the endpoint = %v, with its deliveries %v", got, e)
		}
		if reason, _ := e["disabled_reason"].(string); reason == "" || e["failing_since"] == nil {
			t.Fatalf("disabled without a reason: %v", e)
		}
		d := b.settled(key, id, 1)[0]
		if d["status"] != "failed" || len(d["attempts"].([]any)) != 3 {
			t.Fatalf("delivery: %v", d)
		}
		deliveryID := d["id"].(string)
		if r := b.Req("POST", "/v1/webhooks/"+id+"/deliveries/"+deliveryID+"/retry", key, nil); r.Status != 409 || r.Code(t) != "conflict" {
			t.Fatalf("retry while disabled: %d %s", r.Status, r.Body)
		}
		e = b.Must(200, "PATCH", "/v1/webhooks/"+id, key, map[string]any{"enabled": true}).JSON(t)
		if e["disabled_reason"] != nil || e["failing_since"] != nil {
			t.Fatalf("enabled: %v", e)
		}
		b.Must(202, "POST", "/v1/webhooks/"+id+"/deliveries/"+deliveryID+"/retry", key, nil)
		rcv.wait("the retry", has("document.ready", docID, 200))
	})

	t.Run("EvaluationCompleted", func(t *testing.T) {
		t.Parallel()
		key := tenant("hooks-eval")
		rcv := newReceiver(t)
		_, secret := b.createWebhook(key, rcv.srv.URL, "evaluation.completed")
		rcv.setSecret(secret)
		doc := b.Must(202, "POST", "/v1/documents", key, map[string]any{"text": "Visitors park in the south lot.", "external_id": "kb-park"}).JSON(t)
		b.WaitDocument(key, doc["id"].(string))
		id := b.Must(202, "POST", "/v1/evaluations", key, map[string]any{"queries": []map[string]any{
			{"query": "where do visitors park", "relevant": []map[string]any{{"external_id": "kb-park"}}}}}).JSON(t)["id"].(string)
		got := rcv.wait("evaluation.completed", has("evaluation.completed", id, 200))
		for _, g := range got {
			if g.Data["id"] == id && (g.Data["status"] != "succeeded" || g.Data["best"] == nil || g.Data["results"] != nil) {
				t.Fatalf("evaluation.completed data: %v", g.Data)
			}
		}
		if e := b.Must(200, "GET", "/v1/evaluations/"+id, key, nil).JSON(t); e["status"] != "succeeded" {
			t.Fatalf("evaluation %v", e["status"])
		}
	})

	t.Run("Validation", func(t *testing.T) {
		t.Parallel()
		key := tenant("hooks-valid")
		for name, body := range map[string]map[string]any{
			"url":         {"url": "ftp://example.com/x", "event_types": []string{"document.ready"}},
			"event_types": {"url": "https://example.com/x", "event_types": []string{"document.exploded"}},
		} {
			r := b.Req("POST", "/v1/webhooks", key, body)
			if r.Status != 400 || r.Code(t) != "validation_failed" || r.JSON(t)["errors"].(map[string]any)[name] == nil {
				t.Errorf("%s: %d %s", name, r.Status, r.Body)
			}
		}
		if r := b.Req("PATCH", "/v1/webhooks/00000000-0000-0000-0000-000000000000", key, map[string]any{"enabled": true}); r.Status != 404 {
			t.Errorf("unknown webhook: %d", r.Status)
		}
	})
}

func TestWebhooksIsolationAndScope(t *testing.T) {
	t.Parallel()
	b := setupWebhooks(t)
	_, keyA := b.TenantWithKey("hooks-a", allScopes...)
	_, keyB := b.TenantWithKey("hooks-b", allScopes...)
	_, plain := b.TenantWithKey("hooks-c")
	rcv := newReceiver(t)
	id, secret := b.createWebhook(keyA, rcv.srv.URL, "document.ready")
	rcv.setSecret(secret)
	docID := b.Must(202, "POST", "/v1/documents", keyA, map[string]any{"text": "a's"}).JSON(t)["id"].(string)
	rcv.wait("document.ready", has("document.ready", docID, 200))
	deliveryID := b.settled(keyA, id, 1)[0]["id"].(string)

	for _, rt := range [][2]string{{"GET", "/v1/webhooks/" + id}, {"PATCH", "/v1/webhooks/" + id}, {"DELETE", "/v1/webhooks/" + id},
		{"GET", "/v1/webhooks/" + id + "/deliveries"}, {"POST", "/v1/webhooks/" + id + "/deliveries/" + deliveryID + "/retry"}} {
		var body any
		if rt[0] == "PATCH" {
			body = map[string]any{"enabled": false}
		}
		if r := b.Req(rt[0], rt[1], keyB, body); r.Status != 404 {
			t.Errorf("tenant B: %s %s = %d, want 404", rt[0], rt[1], r.Status)
		}
	}
	if r := b.Must(200, "GET", "/v1/webhooks", keyB, nil).JSON(t); len(r["data"].([]any)) != 0 {
		t.Errorf("tenant B lists %v", r["data"])
	}
	// B's own document makes no event for A's endpoint.
	b.Must(202, "POST", "/v1/documents", keyB, map[string]any{"text": "b's"})
	if r := b.Req("GET", "/v1/webhooks", plain, nil); r.Status != 403 || r.Code(t) != "forbidden_scope" {
		t.Errorf("a default key: %d %s", r.Status, r.Body)
	}
	b.Must(204, "DELETE", "/v1/webhooks/"+id, keyA, nil)
	b.Must(404, "GET", "/v1/webhooks/"+id, keyA, nil)
}

func TestWebhooksRefusePrivateAddresses(t *testing.T) {
	t.Parallel()
	b := setupWith(t, apitest.Options{})
	_, key := b.TenantWithKey("hooks-ssrf", allScopes...)
	for _, u := range []string{"http://127.0.0.1/x", "http://10.0.0.1/x", "http://169.254.169.254/latest/meta-data", "http://[::1]:8080/",
		"http://localhost:9000/", "http://[::ffff:10.1.2.3]/", "https://192.168.0.10/"} {
		r := b.Req("POST", "/v1/webhooks", key, map[string]any{"url": u, "event_types": []string{"document.ready"}})
		if r.Status != 400 || r.Code(t) != "validation_failed" {
			t.Errorf("%s: %d %s", u, r.Status, r.Body)
		}
	}
	b.Must(201, "POST", "/v1/webhooks", key, map[string]any{"url": "https://hooks.example.com/ragd", "event_types": []string{"document.ready"}})
}

// TestWebhooksKeepADocumentsOrderThroughRetries: a document's deletion
// is not sent while its ready event is waiting for a retry; it follows
// once ready got through.
func TestWebhooksKeepADocumentsOrderThroughRetries(t *testing.T) {
	t.Parallel()
	b := setupWith(t, apitest.Options{Webhooks: webhooks.Config{AllowPrivate: true, Retries: []time.Duration{500 * time.Millisecond, 500 * time.Millisecond}}})
	_, key := b.TenantWithKey("hooks-ordered", allScopes...)
	rcv := newReceiver(t, 500)
	_, secret := b.createWebhook(key, rcv.srv.URL, "document.ready", "document.deleted")
	rcv.setSecret(secret)
	docID := b.Must(202, "POST", "/v1/documents", key, map[string]any{"text": "soon gone"}).JSON(t)["id"].(string)
	rcv.wait("the failed first attempt", has("document.ready", docID, 500))
	b.Must(202, "DELETE", "/v1/documents/"+docID, key, nil)
	got := rcv.wait("document.deleted", has("document.deleted", docID, 200))
	var seq []string
	for _, g := range got {
		seq = append(seq, g.Type+" "+http.StatusText(g.Status))
	}
	want := []string{"document.ready Internal Server Error", "document.ready OK", "document.deleted OK"}
	if len(seq) != 3 || seq[0] != want[0] || seq[1] != want[1] || seq[2] != want[2] {
		t.Fatalf("the receiver got %v, want %v", seq, want)
	}
}
