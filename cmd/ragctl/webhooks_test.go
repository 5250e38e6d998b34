package main

import (
	"context"
	"net"
	"slices"
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

// TestListenRegisters: listen --register makes an endpoint of its own for
// as long as it listens, receives a document's event signed with that
// endpoint's secret (none copied by hand), and deletes the endpoint when
// it stops, so running it again leaves no stale endpoint behind.
func TestListenRegisters(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t, apitest.Options{Webhooks: webhooks.Config{AllowPrivate: true}})
	_, key := srv.TenantKey(t, "Listener")
	env := map[string]string{"RAGD_URL": srv.URL, "RAGD_API_KEY": key}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // listen takes the port again

	ctx, stop := context.WithCancel(context.Background())
	out, errOut := &lockedWriter{w: &strings.Builder{}}, &lockedWriter{w: &strings.Builder{}}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"ragctl", "webhooks", "listen", "--register", "--addr", addr}, func(k string) string { return env[k] }, out, errOut, false)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(text(errOut), "registered webhook") {
		if time.Now().After(deadline) {
			t.Fatalf("listen --register said %q", text(errOut))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ls, _, _ := ragctl(t, env, "webhooks", "ls"); !strings.Contains(ls, "http://"+addr+"/") {
		t.Fatalf("no endpoint for the listener:\n%s", ls)
	}
	if _, e, code := ragctl(t, env, "upload", writeFile(t, "# Listened\n\nA document for the registered listener.")); code != 0 {
		t.Fatalf("upload: %s", e)
	}
	for !strings.Contains(text(out), `"type":"document.ready"`) {
		if time.Now().After(deadline) {
			t.Fatalf("the listener printed %q; logged %q", text(out), text(errOut))
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("listen: %v (%s)", err, text(errOut))
	}
	if ls, _, _ := ragctl(t, env, "webhooks", "ls"); strings.Contains(ls, addr) || !strings.Contains(text(errOut), "deleted webhook") {
		t.Fatalf("the listener's endpoint is left after it stopped:\n%s\n%s", ls, text(errOut))
	}
}

// TestAllEventTypes: an endpoint ragctl registers without --events (and
// listen --register's) gets every event type the server sends.
func TestAllEventTypes(t *testing.T) {
	t.Parallel()
	if !slices.Equal(allEventTypes, webhooks.EventTypes) {
		t.Errorf("ragctl's event types %v, the server's %v", allEventTypes, webhooks.EventTypes)
	}
}
