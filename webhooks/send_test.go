package webhooks

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// TestSignMatchesTheSpecification checks Sign against the Standard
// Webhooks libraries' published test vector, and against HMAC-SHA256
// computed here, and that the specification's library verifies it.
func TestSignMatchesTheSpecification(t *testing.T) {
	t.Parallel()
	const (
		secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		msgID  = "msg_p5jXN8AQM9LWM0D4loKWxJek"
		want   = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	)
	at := time.Unix(1614265330, 0)
	body := []byte(`{"test": 2432232314}`)
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Sign(key, msgID, at, body)
	if err != nil || got != want {
		t.Fatalf("Sign = %q, %v; want %q", got, err, want)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(msgID + ".1614265330." + string(body)))
	if manual := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)); manual != want {
		t.Fatalf("HMAC-SHA256 computed here = %q, want %q", manual, want)
	}
	h := http.Header{}
	h.Set("webhook-id", msgID)
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", got)
	wh, _ := standardwebhooks.NewWebhook(secret)
	if err := wh.VerifyIgnoringTimestamp(body, h); err != nil {
		t.Fatalf("the specification's library refuses the signature: %v", err)
	}
	if err := wh.VerifyIgnoringTimestamp([]byte(`{"test": 2432232315}`), h); err == nil {
		t.Fatal("a changed body verified")
	}
}

func TestNewSecretIsStandard(t *testing.T) {
	t.Parallel()
	key, shown := newSecret()
	wh, err := standardwebhooks.NewWebhook(shown)
	if err != nil || len(key) != 32 || !strings.HasPrefix(shown, SecretPrefix) {
		t.Fatalf("secret %q (%d bytes): %v", shown, len(key), err)
	}
	sig, _ := Sign(key, "m", time.Now(), []byte("{}"))
	h := http.Header{}
	h.Set("webhook-id", "m")
	h.Set("webhook-timestamp", strconv.FormatInt(time.Now().Unix(), 10))
	h.Set("webhook-signature", sig)
	if err := wh.Verify([]byte("{}"), h); err != nil {
		t.Fatalf("a signature with the shown secret does not verify: %v", err)
	}
}

// TestSendRefusesLoopbackAfterResolving: a name that resolves to a
// loopback address is refused when dialled, and nothing reaches the
// receiver; allowed, the same request is delivered.
func TestSendRefusesLoopbackAfterResolving(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	for _, u := range []string{"http://localhost:" + port + "/", srv.URL, "http://[::ffff:127.0.0.1]:" + port + "/"} {
		res := newSender(Config{}.withDefaults()).send(context.Background(), u, []byte("k"), "m", []byte("{}"))
		if res.delivered() || !strings.Contains(res.err, "refused") || res.statusCode != 0 {
			t.Errorf("%s: %+v, want refused", u, res)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the receiver got %d requests", n)
	}
	res := newSender(Config{AllowPrivate: true}.withDefaults()).send(context.Background(), "http://localhost:"+port+"/", []byte("k"), "m", []byte("{}"))
	if !res.delivered() || hits.Load() != 1 {
		t.Fatalf("allowed: %+v, hits %d", res, hits.Load())
	}
}

func TestSendTreatsRedirectsAndErrorsAsFailures(t *testing.T) {
	t.Parallel()
	var redirected atomic.Int32
	release := make(chan struct{}) // the slow receiver answers once the test ends
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/moved":
			http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
		case "/elsewhere":
			redirected.Add(1)
		case "/slow":
			// Answers (a success) only when the test ends: the sender
			// has given up by then, or the test fails.
			select {
			case <-r.Context().Done():
			case <-release:
			}
		default:
			w.WriteHeader(500)
			_, _ = w.Write([]byte(strings.Repeat("x", 10000)))
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // before srv.Close, which waits for the handler
	s := newSender(Config{AllowPrivate: true, Timeout: 500 * time.Millisecond}.withDefaults())
	res := s.send(context.Background(), srv.URL+"/moved", []byte("k"), "m", []byte("{}"))
	if res.delivered() || res.statusCode != 307 || redirected.Load() != 0 || !strings.Contains(res.err, "redirect") {
		t.Errorf("redirect: %+v (followed %d)", res, redirected.Load())
	}
	res = s.send(context.Background(), srv.URL+"/fail", []byte("k"), "m", []byte("{}"))
	if res.delivered() || res.statusCode != 500 || len(res.response) != ExcerptBytes {
		t.Errorf("500: status %d, err %q, %d bytes kept", res.statusCode, res.err, len(res.response))
	}
	res = s.send(context.Background(), srv.URL+"/slow", []byte("k"), "m", []byte("{}"))
	// The attempt's context or the transport's header timeout, whichever
	// fires first.
	if res.delivered() || !strings.Contains(res.err, "timeout") && !strings.Contains(res.err, "deadline exceeded") {
		t.Errorf("slow receiver: %+v, want the attempt's timeout", res)
	}
	if res := newSender(Config{RequireHTTPS: true}.withDefaults()).send(context.Background(), "http://example.com/", []byte("k"), "m", []byte("{}")); res.delivered() || !strings.Contains(res.err, "https") {
		t.Errorf("http in production: %+v", res)
	}
}
