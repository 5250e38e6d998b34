package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ragd/ragd/metrics"
)

type ctxKey int

const (
	requestInfoKey ctxKey = iota
)

// requestInfo travels in the request context so that the outermost
// middleware can log what inner ones learned (the tenant).
type requestInfo struct {
	id       string
	tenantID uuid.UUID
}

func requestID(ctx context.Context) string {
	if ri, ok := ctx.Value(requestInfoKey).(*requestInfo); ok {
		return ri.id
	}
	return ""
}

func setTenant(ctx context.Context, id uuid.UUID) {
	if ri, ok := ctx.Value(requestInfoKey).(*requestInfo); ok {
		ri.tenantID = id
	}
}

var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe gives each request an id (the client's X-Request-Id when it is
// sane), logs one line per request, and turns a panic into a 500.
func observe(log *slog.Logger, m *metrics.Metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri := &requestInfo{id: r.Header.Get("X-Request-Id")}
		if !requestIDRE.MatchString(ri.id) {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			ri.id = hex.EncodeToString(b)
		}
		r = r.WithContext(context.WithValue(r.Context(), requestInfoKey, ri))
		w.Header().Set("X-Request-Id", ri.id)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.ErrorContext(r.Context(), "panic in handler", "panic", fmt.Sprint(v), "stack", string(debug.Stack()), "request_id", ri.id)
				if sw.status == 0 {
					writeError(sw, r, log, errors.New("panic"))
				}
			}
			attrs := []any{
				"method", r.Method, "route", r.Pattern, "path", r.URL.Path, "status", sw.status,
				"duration_ms", float64(time.Since(start).Microseconds()) / 1000, "request_id", ri.id,
			}
			if ri.tenantID != uuid.Nil {
				attrs = append(attrs, "tenant_id", ri.tenantID)
			}
			log.InfoContext(r.Context(), "http request", attrs...)
			m.HTTPRequest(r.Pattern, r.Method, sw.status, time.Since(start))
		}()
		next.ServeHTTP(sw, r)
	})
}

// problemMux answers unknown paths and wrong methods with problem
// documents instead of ServeMux's plain-text ones.
func problemMux(log *slog.Logger, mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		// ServeMux's own 404 or 405 handler: learn which, keep its Allow.
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		switch rec.Code {
		case http.StatusMethodNotAllowed:
			w.Header().Set("Allow", rec.Header().Get("Allow"))
			writeError(w, r, log, errorf(http.StatusMethodNotAllowed, codeMethodNotAllowed, "this path does not accept "+r.Method))
		case http.StatusNotFound:
			writeError(w, r, log, errorf(http.StatusNotFound, codeNotFound, "no such route"))
		default:
			// A redirect (for example a cleaned path): pass it on as it is.
			mux.ServeHTTP(w, r)
		}
	})
}

// validText answers 400, naming the parameter, when a query parameter (name
// or value) or a path value is not text Postgres can store (textProblem),
// before any handler sees it. NewHandler puts it in front of every route,
// so no handler has to remember; JSON bodies are checked by decode, and an
// upload's multipart fields by ingest.Upload.Validate. The console's forms
// are left to the console, which bounds them itself and sends what they
// hold to these routes as JSON.
func validText(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := requestText(r); err != nil {
			writeError(w, r, log, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func requestText(r *http.Request) error {
	// The pattern's wildcards name the path's parts ("{document_id}").
	for rest := r.Pattern; ; {
		_, after, ok := strings.Cut(rest, "{")
		if !ok {
			break
		}
		name, tail, _ := strings.Cut(after, "}")
		rest = tail
		name = strings.TrimSuffix(name, "...")
		if name == "$" {
			continue
		}
		if msg := textProblem(r.PathValue(name)); msg != "" {
			return textError("path value", name, msg)
		}
	}
	// What no wildcard names (a subtree's rest: /jobs/...).
	if msg := textProblem(r.URL.Path); msg != "" {
		return &httpError{status: http.StatusBadRequest, code: codeValidationFailed,
			detail: "the URL's path " + msg, fields: map[string]string{"path": msg}}
	}
	return valuesText("query parameter", r.URL.Query())
}

func valuesText(kind string, vs url.Values) error {
	for _, name := range slices.Sorted(maps.Keys(vs)) { // the first bad one, always the same
		values := vs[name]
		if msg := textProblem(name); msg != "" {
			return textError(kind+" name", name, msg)
		}
		for _, v := range values {
			if msg := textProblem(v); msg != "" {
				return textError(kind, name, msg)
			}
		}
	}
	return nil
}
