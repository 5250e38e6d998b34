package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestValidText: a path value or a query parameter that Postgres cannot
// store stops at the middleware with a 400 naming it; text in any script
// reaches the handler.
func TestValidText(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	for _, p := range []string{"GET /things/{thing_id}", "GET /things/{thing_id}/parts/{part...}", "GET /files/"} {
		mux.Handle(p, validText(slog.New(slog.DiscardHandler), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
		})))
	}
	for target, want := range map[string]string{ // request: the field named ("" for 204)
		"/things/%00":                "thing_id",
		"/things/a%FFb":              "thing_id",
		"/things/%C3%28/parts/x":     "thing_id",
		"/things/ok/parts/a/b%00":    "part",
		"/files/x/%FE":               "path",
		"/things/ok?tag=%00":         "tag",
		"/things/ok?tag=%FF":         "tag",
		"/things/ok?a=1&b=%C3%28":    "b",
		"/things/ok?b=%00&a=%00":     "a", // the first in order
		"/things/ok?ta%00g=1":        `"ta\x00g"`,
		"/things/caf%C3%A9?tag=café": "",
		"/things/%E6%97%A5%E6%9C%AC?tag=%E6%97%A5%E6%9C%AC&x=%EF%BF%BD": "",
		"/files/%E3%81%82/b": "",
	} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
		if want == "" {
			if rec.Code != http.StatusNoContent {
				t.Errorf("%s: %d %s, want it through", target, rec.Code, rec.Body)
			}
			continue
		}
		var p problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || rec.Code != 400 || p.Code != codeValidationFailed || p.Errors[want] == "" {
			t.Errorf("%s: %d %s, want 400 naming %s", target, rec.Code, rec.Body, want)
		}
	}
}
