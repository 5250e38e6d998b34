package main

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/ragd/ragd/api/apitest"
	"github.com/ragd/ragd/webhooks"
)

// text reads what a lockedWriter over a strings.Builder holds.
func text(l *lockedWriter) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.(*strings.Builder).String()
}

// TestWebhooksCommands: create an endpoint with ragctl, receive a
// document's event on ragctl's listener, which verified its signature,
// and see the delivery.
func TestWebhooksCommands(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t, apitest.Options{Webhooks: webhooks.Config{AllowPrivate: true}})
	_, key := srv.TenantKey(t, "Hooks")
	env := map[string]string{"RAGD_URL": srv.URL, "RAGD_API_KEY": key}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := ragctl(t, env, "webhooks", "create", "http://"+ln.Addr().String()+"/", "--events", "document.ready")
	if code != 0 || !strings.Contains(out, "whsec_") {
		t.Fatalf("create: %d %s %s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	secret, id := lines[len(lines)-1], strings.TrimSuffix(strings.Fields(lines[0])[1], ";")
	wh, err := standardwebhooks.NewWebhook(secret)
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

	if out, errOut, code := ragctl(t, env, "webhooks", "ls"); code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "enabled") {
		t.Fatalf("ls: %d %s %s", code, out, errOut)
	}
	upload := writeFile(t, "# Hooks\n\nA document for the listener.")
	if _, errOut, code := ragctl(t, env, "upload", upload); code != 0 {
		t.Fatalf("upload: %s", errOut)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(text(got), `"type":"document.ready"`) {
		if time.Now().After(deadline) {
			t.Fatalf("the listener printed %q; logged %q", text(got), text(logs))
		}
		time.Sleep(20 * time.Millisecond)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		out, errOut, code := ragctl(t, env, "webhooks", "deliveries", id)
		if code != 0 {
			t.Fatalf("deliveries: %s", errOut)
		}
		if strings.Contains(out, "status: delivered\n") && strings.Contains(out, "status_code: 204\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries: %s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out, _, code := ragctl(t, env, "webhooks", "disable", id); code != 0 || !strings.Contains(out, "disabled") {
		t.Fatalf("disable: %s", out)
	}
	if out, _, code := ragctl(t, env, "webhooks", "rm", id); code != 0 || !strings.Contains(out, "deleted") {
		t.Fatalf("rm: %s", out)
	}
}
