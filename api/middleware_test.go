package api

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestObserve(t *testing.T) {
	t.Parallel()

	t.Run("PanicBecomesAnOpaque500", func(t *testing.T) {
		t.Parallel()
		var logs bytes.Buffer
		log := slog.New(slog.NewJSONHandler(&logs, nil))
		h := observe(log, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			panic("database password is hunter2")
		}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/boom", nil))
		if rec.Code != 500 || rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Fatalf("status %d, content type %q", rec.Code, rec.Header().Get("Content-Type"))
		}
		var p problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Code != "internal" || p.RequestID == "" {
			t.Fatalf("body = %s", rec.Body)
		}
		if strings.Contains(rec.Body.String(), "hunter2") {
			t.Fatal("the 500 shows the panic's internals")
		}
		if !strings.Contains(logs.String(), "panic in handler") {
			t.Fatal("the panic was not logged")
		}
	})

	t.Run("KeepsASaneRequestIDAndReplacesOthers", func(t *testing.T) {
		t.Parallel()
		h := observe(slog.New(slog.DiscardHandler), nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		for in, keep := range map[string]bool{"abc-123": true, "bad id\n": false, strings.Repeat("x", 65): false} {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("X-Request-Id", in)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			got := rec.Header().Get("X-Request-Id")
			if (got == in) != keep || got == "" {
				t.Fatalf("X-Request-Id %q answered %q", in, got)
			}
		}
	})
}

func TestProblemMux(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /thing", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	h := problemMux(slog.New(slog.DiscardHandler), mux)
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/thing", 204, ""},
		{"GET", "/nothing", 404, "not_found"},
		{"DELETE", "/thing", 405, "method_not_allowed"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.status {
			t.Fatalf("%s %s: %d, want %d", tc.method, tc.path, rec.Code, tc.status)
		}
		if tc.code != "" {
			var p problem
			_ = json.Unmarshal(rec.Body.Bytes(), &p)
			if p.Code != tc.code {
				t.Fatalf("%s %s: code %q, want %q", tc.method, tc.path, p.Code, tc.code)
			}
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("DELETE", "/thing", nil))
	if !strings.Contains(rec.Header().Get("Allow"), "GET") {
		t.Fatalf("405 without Allow: %v", rec.Header())
	}
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err    error
		status int
	}{{nil, 200}, {http.ErrServerClosed, 503}} {
		h := handleReadyz(func(ctx context.Context) map[string]error { return map[string]error{"postgres": tc.err} })
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		if rec.Code != tc.status {
			t.Fatalf("readyz with %v: %d, want %d", tc.err, rec.Code, tc.status)
		}
		if tc.err != nil && !strings.Contains(rec.Body.String(), `"postgres":"unavailable"`) {
			t.Fatalf("body = %s", rec.Body)
		}
	}
}
