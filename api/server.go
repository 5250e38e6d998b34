package api

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/ragd/ragd/agents"
)

// Deps is what the API needs from the rest of ragd.
type Deps struct {
	Logger     *slog.Logger
	Store      *agents.Store
	AdminToken string
	// Ready reports whether each dependency answers, by name ("postgres").
	Ready func(ctx context.Context) map[string]error
}

// NewHandler returns the whole HTTP API.
func NewHandler(d Deps) http.Handler {
	mux := http.NewServeMux()
	for _, rt := range routes(d, newAuthenticator(d.AdminToken, d.Store)) {
		mux.Handle(rt.pattern, rt.handler)
	}
	return observe(d.Logger, problemMux(d.Logger, mux))
}
