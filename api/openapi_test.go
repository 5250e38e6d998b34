package api

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

// TestOpenAPICoversEveryRoute fails when a registered route is missing from
// /openapi.json, or the document describes a route that does not exist.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	t.Parallel()
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatalf("openapi.json does not parse: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi = %q", doc.OpenAPI)
	}
	registered := map[string]bool{}
	for _, rt := range routes(Deps{Logger: slog.New(slog.DiscardHandler)}, newAuthenticator("x", nil, nil)) {
		if rt.ui {
			continue
		}
		method, path, ok := strings.Cut(rt.pattern, " ")
		if !ok {
			t.Fatalf("route %q has no method", rt.pattern)
		}
		registered[strings.ToLower(method)+" "+path] = true
		op, ok := doc.Paths[path][strings.ToLower(method)]
		if !ok {
			t.Errorf("route %s is not in openapi.json", rt.pattern)
			continue
		}
		if op["operationId"] == nil || op["responses"] == nil {
			t.Errorf("route %s lacks operationId or responses in openapi.json", rt.pattern)
		}
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if !registered[method+" "+path] {
				t.Errorf("openapi.json describes %s %s, which is not a route", strings.ToUpper(method), path)
			}
		}
	}
}
