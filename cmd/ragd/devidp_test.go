package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ragd/ragd/oidcauth"
)

// lineBuffer is an io.Writer a test may read while a command writes.
type lineBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lineBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lineBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestDevIdP: `ragd dev-idp` serves an issuer whose tokens ragd's
// verifier accepts, says how to start ragd against it, and refuses to run
// in production.
func TestDevIdP(t *testing.T) {
	t.Parallel()
	prod := func(k string) string { return map[string]string{"RAGD_ENV": "production"}[k] }
	if err := run(t.Context(), []string{"ragd", "dev-idp"}, prod, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "production") {
		t.Fatalf("with RAGD_ENV=production: %v", err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	out := &lineBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"ragd", "dev-idp", "--addr", "127.0.0.1:0"}, func(string) string { return "" }, out, io.Discard)
	}()
	issuerLine := regexp.MustCompile(`RAGD_OIDC_ISSUER=(http://127\.0\.0\.1:\d+)`)
	var issuer string
	for deadline := time.Now().Add(10 * time.Second); issuer == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := issuerLine.FindStringSubmatch(out.String()); m != nil {
			issuer = m[1]
		}
	}
	if issuer == "" {
		t.Fatalf("no issuer in the banner: %q", out.String())
	}
	resp, err := http.Get(issuer + "/dev/token?org=org_demo_globex&role=org:member")
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	v, err := oidcauth.New(t.Context(), oidcauth.Config{Issuer: issuer, Audience: "ragd-api"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := v.Verify(t.Context(), strings.TrimSpace(string(tok)))
	if err != nil || id.OrgID != "org_demo_globex" || id.Role != "org:member" || id.Subject != "user_dev" {
		t.Fatalf("a token of /dev/token: %+v, %v", id, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("dev-idp stopped with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("dev-idp did not stop when cancelled")
	}
}
