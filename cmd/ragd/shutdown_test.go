package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/postgres/pgtest"
	"github.com/ragd/ragd/secret"
)

// TestGracefulShutdown cancels serve's context (what SIGTERM does) while a
// request is in flight and a job is running: the request completes, the
// job finishes within the grace period, new connections are refused, and
// nothing is lost.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	key := secret.NewKey()
	env := map[string]string{
		"DATABASE_URL":              pgtest.NewDatabaseURL(t),
		"RAGD_DATA_DIR":             t.TempDir(),
		"RAGD_ADDR":                 "127.0.0.1:0",
		"RAGD_LOG_FORMAT":           "json",
		"RAGD_ENCRYPTION_KEY":       base64.StdEncoding.EncodeToString(key),
		"RAGD_ADMIN_TOKEN":          "admin-token-for-shutdown-test",
		"RAGD_SHUTDOWN_TIMEOUT":     "120s",
		"RAGD_EMBEDDING_DIMENSIONS": "64",
	}
	pool := pgtest.OpenPool(t, env["DATABASE_URL"])
	box, _ := secret.NewBox(key)
	store := agents.NewControlPlane(pool, box, nil)
	tenant, err := store.CreateTenant(ctx, agents.TenantPatch{Name: ragd.Some("T")})
	if err != nil {
		t.Fatal(err)
	}
	_, apiKey, err := store.CreateKey(ctx, tenant.ID, agents.KeyInput{})
	if err != nil {
		t.Fatal(err)
	}

	srvCtx, stop := context.WithCancel(ctx)
	defer stop()
	base, done := startServe(t, srvCtx, env)
	call := func(method, path string, body io.Reader) (*http.Response, error) {
		req, _ := http.NewRequest(method, base+path, body)
		req.Header.Set("Authorization", "Bearer "+apiKey)
		req.Header.Set("Content-Type", "application/json")
		return http.DefaultClient.Do(req)
	}
	docStatus := func(id string) string {
		resp, err := call("GET", "/v1/documents/"+id, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var d struct{ Status string }
		json.NewDecoder(resp.Body).Decode(&d)
		return d.Status
	}

	// A job that takes a while: a few megabytes of text to chunk and embed.
	big, _ := json.Marshal(map[string]string{"text": strings.Repeat("Graceful shutdown lets running jobs finish. ", 120_000)})
	resp, err := call("POST", "/v1/documents", bytes.NewReader(big))
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("upload: %v %v", resp, err)
	}
	var doc struct{ ID string }
	json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	for deadline := time.Now().Add(60 * time.Second); docStatus(doc.ID) != "processing"; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) || docStatus(doc.ID) == "ready" {
			t.Fatalf("never saw the job running (status %s)", docStatus(doc.ID))
		}
	}

	// A request in flight: its body arrives in two halves around the stop.
	pr, pw := io.Pipe()
	inflight := make(chan *http.Response, 1)
	go func() {
		resp, err := call("POST", "/v1/documents", pr)
		if err != nil {
			t.Errorf("in-flight request: %v", err)
			inflight <- nil
			return
		}
		inflight <- resp
	}()
	body := []byte(`{"text": "sent across the shutdown"}`)
	pw.Write(body[:10])
	time.Sleep(100 * time.Millisecond)
	stop() // SIGTERM
	time.Sleep(200 * time.Millisecond)
	pw.Write(body[10:])
	pw.Close()

	if r := <-inflight; r == nil || r.StatusCode != 202 {
		t.Fatalf("the in-flight request did not complete: %+v", r)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(120 * time.Second):
		t.Fatal("serve did not stop")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("the server still accepts connections after shutdown")
	}
	var status string
	if err := pool.QueryRow(ctx, "SELECT status FROM documents WHERE id = $1", doc.ID).Scan(&status); err != nil || status != "ready" {
		t.Fatalf("the running job did not finish within the grace period: %s %v", status, err)
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM documents").Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d documents stored, want 2 (nothing lost): %v", n, err)
	}
}
