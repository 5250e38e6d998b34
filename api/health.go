package api

import (
	"context"
	"crypto/subtle"
	_ "embed"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ragd/ragd/metrics"
)

func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// handleReadyz answers 200 when every dependency answers within two
// seconds, else 503; either way it says which ones failed.
func handleReadyz(ready func(ctx context.Context) map[string]error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		results := ready(ctx)
		checks := map[string]string{}
		status := http.StatusOK
		for _, name := range slices.Sorted(maps.Keys(results)) {
			checks[name] = "ok"
			if err := results[name]; err != nil {
				// Say that it failed, not why: the error can name hosts.
				checks[name] = "unavailable"
				status = http.StatusServiceUnavailable
			}
		}
		body := map[string]any{"status": "ok", "checks": checks}
		if status != http.StatusOK {
			body["status"] = "unavailable"
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, status, body)
	})
}

//go:embed openapi.json
var openAPIDoc []byte

func handleOpenAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openAPIDoc)
	})
}

// handleMetrics serves Prometheus metrics. They carry no tenant data
// (no tenant ids in labels), so, like /healthz, they need no token.
func handleMetrics(log *slog.Logger, m *metrics.Metrics, token string) http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	h := promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
	if token == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			writeError(w, r, log, errorf(http.StatusUnauthorized, codeUnauthorized, "/metrics needs the scrape token (RAGD_METRICS_TOKEN) as a bearer token"))
			return
		}
		h.ServeHTTP(w, r)
	})
}
