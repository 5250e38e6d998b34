package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/ragd/ragd/webhooks"
)

// TestListenRefusesReplays: the listener prints a message once; the very
// same signed request sent again within its window is refused (409), and
// the message signed anew (ragd's retry) is acknowledged without being
// printed again.
func TestListenRefusesReplays(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{7}, 32)
	wh, err := standardwebhooks.NewWebhook(webhooks.SecretPrefix + base64.StdEncoding.EncodeToString(key))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	got, logs := &lockedWriter{w: &strings.Builder{}}, &lockedWriter{w: &strings.Builder{}}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveWebhooks(ctx, ln, wh, got, logs) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("listener: %v", err)
		}
	})
	send := func(id string, at time.Time, body string) int {
		t.Helper()
		sig, err := webhooks.Sign(key, id, at, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("POST", "http://"+ln.Addr().String()+"/", strings.NewReader(body))
		req.Header.Set("webhook-id", id)
		req.Header.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
		req.Header.Set("webhook-signature", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	at := time.Now()
	if code := send("msg_1", at, `{"n":1}`); code != 204 {
		t.Fatalf("first delivery: %d", code)
	}
	if code := send("msg_1", at, `{"n":1}`); code != http.StatusConflict {
		t.Fatalf("exact replay: %d, want 409", code)
	}
	if !strings.Contains(text(logs), "refused a replay of message msg_1") {
		t.Fatalf("the replay was not reported: %q", text(logs))
	}
	if code := send("msg_1", at.Add(-time.Minute), `{"n":1}`); code != 204 {
		t.Fatalf("the message signed anew: %d, want 204", code)
	}
	if code := send("msg_2", at, `{"n":2}`); code != 204 {
		t.Fatalf("another message: %d", code)
	}
	if code := send("msg_3", at.Add(-6*time.Minute), `{"n":3}`); code != 401 {
		t.Fatalf("a message older than the window: %d, want 401", code)
	}
	if out := text(got); out != "{\"n\":1}\n{\"n\":2}\n" {
		t.Fatalf("printed %q, want each message once", out)
	}
}

// TestSeenMessagesForgetOutsideTheWindow: a message is remembered until
// its latest signature stops verifying, and no longer.
func TestSeenMessagesForgetOutsideTheWindow(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	s := &seenMessages{now: func() time.Time { return now }}
	ts := strconv.FormatInt(now.Unix(), 10)
	later := strconv.FormatInt(now.Add(time.Minute).Unix(), 10)
	for i, step := range []struct {
		after     time.Duration
		id, ts    string
		want      int
		remembers int
	}{
		{0, "a", ts, fresh, 2},
		{0, "a", ts, replayed, 2},
		{0, "b", ts, fresh, 4},
		{30 * time.Second, "a", later, resent, 5},
		{replayWindow, "a", later, replayed, 5},                          // a's later signature still verifies
		{replayWindow + time.Minute + time.Second, "a", later, fresh, 2}, // everything forgotten, then a again
	} {
		now = time.Unix(1_800_000_000, 0).Add(step.after)
		if got := s.add(step.id, step.ts); got != step.want {
			t.Errorf("step %d: add(%s, %s) = %d, want %d", i, step.id, step.ts, got, step.want)
		}
		if len(s.until) != step.remembers {
			t.Errorf("step %d: %d entries remembered, want %d", i, len(s.until), step.remembers)
		}
	}
}
