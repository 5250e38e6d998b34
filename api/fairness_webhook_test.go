package api_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/ragd/ragd/api/apitest"
	"github.com/ragd/ragd/jobs"
	"github.com/ragd/ragd/webhooks"
)

// TestFairWebhookDeliveries: tenant H has ten endpoints at a receiver
// that never answers, with a dozen documents' events pending to each (120
// deliveries, each attempt waiting out the whole 10 s timeout). Tenant B
// uploads a small document: it is ready, and its webhook delivered, before
// one of H's attempts could have timed out (10 s). Before deliveries had
// their own queue they ran on the ingest workers, and B's document took
// 67 s to be ready. H never holds every sender, and each of its
// endpoints, once failing, gets one attempt at a time.
func TestFairWebhookDeliveries(t *testing.T) {
	t.Parallel()
	b := setupWith(t, apitest.Options{Webhooks: webhooks.Config{AllowPrivate: true, Timeout: webhooks.DefaultTimeout}})
	hang := newHangingReceiver(t)
	_, hkey := b.TenantWithKey("fair-hooks-hanging", allScopes...)
	for range 10 {
		b.createWebhook(hkey, hang.srv.URL, "document.ready")
	}
	for i := range 12 {
		id := b.Upload(hkey, "", fmt.Sprintf("h%d.txt", i), fmt.Appendf(nil, "Hanging tenant's document %d.", i)).JSON(t)["id"].(string)
		b.WaitDocument(hkey, id)
	}
	// The senders are busy with H's receiver before B comes.
	apitest.Eventually(t, "the hanging receiver to hold several requests", func() bool { return hang.inFlight() >= 4 })

	_, bkey := b.TenantWithKey("fair-hooks-healthy", allScopes...)
	rcv := newReceiver(t)
	_, secret := b.createWebhook(bkey, rcv.srv.URL, "document.ready")
	rcv.setSecret(secret)
	start := time.Now()
	r := b.Upload(bkey, "", "b.txt", []byte("The healthy tenant's small document."))
	if r.Status != 202 {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	id := r.JSON(t)["id"].(string)
	d := b.WaitDocument(bkey, id)
	ready := time.Since(start)
	rcv.wait("document.ready", has("document.ready", id, 200))
	delivered := time.Since(start)
	t.Logf("with %d of H's requests hanging (at most %d at once), B's document was %s in %s and its webhook delivered in %s",
		hang.total(), hang.peak(), d["status"], ready.Round(10*time.Millisecond), delivered.Round(10*time.Millisecond))
	// Waiting behind any one of H's attempts would cost its whole timeout
	// (10 s): B's document and delivery must both come sooner. The bound
	// is that, not tighter, so that the race detector on a loaded machine
	// (a ready document has taken 5.1 s there) is not what fails it.
	if d["status"] != "ready" || ready >= webhooks.DefaultTimeout {
		t.Errorf("B's document: %v after %s behind H's hanging receiver; want ready within the %s one of H's attempts takes", d["status"], ready, webhooks.DefaultTimeout)
	}
	if delivered >= webhooks.DefaultTimeout {
		t.Errorf("B's webhook was delivered %s after its upload; want within the %s one of H's attempts takes", delivered, webhooks.DefaultTimeout)
	}
	if senders := jobs.WebhookWorkers(2); hang.peak() >= senders {
		t.Errorf("H's receiver held %d requests at once: every one of the %d senders", hang.peak(), senders)
	}
}

// hangingReceiver accepts webhooks and never answers, until the test ends
// or the sender gives up; it counts the requests it holds.
type hangingReceiver struct {
	srv             *httptest.Server
	mu              sync.Mutex
	now, max, count int
}

func newHangingReceiver(t *testing.T) *hangingReceiver {
	h := &hangingReceiver{}
	stop := make(chan struct{})
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body first: net/http watches the connection for the
		// client's hang-up (and cancels r.Context()) only once the body
		// is read. Unread, a request the sender gave up on (its 10 s
		// timeout, on a loaded machine) stayed counted as held, and the
		// peak counted every attempt ever made (13 of 8 senders, once).
		_, _ = io.Copy(io.Discard, r.Body)
		h.mu.Lock()
		h.now++
		h.count++
		h.max = max(h.max, h.now)
		h.mu.Unlock()
		select {
		case <-r.Context().Done():
		case <-stop:
		}
		h.mu.Lock()
		h.now--
		h.mu.Unlock()
	}))
	t.Cleanup(h.srv.Close)
	t.Cleanup(func() { close(stop) }) // first: Close waits for the handlers
	return h
}

func (h *hangingReceiver) inFlight() int { h.mu.Lock(); defer h.mu.Unlock(); return h.now }
func (h *hangingReceiver) peak() int     { h.mu.Lock(); defer h.mu.Unlock(); return h.max }
func (h *hangingReceiver) total() int    { h.mu.Lock(); defer h.mu.Unlock(); return h.count }
