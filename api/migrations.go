package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/search"
	"github.com/ragd/ragd/spaces"
)

// migrationInput starts an embedding migration.
type migrationInput struct {
	Model      string `json:"model"`
	Dimensions int    `json:"dimensions"`
	// RollbackWindowSeconds is how long after the cut-over the old index
	// is kept for a rollback (default 72 hours; 0: removed at once).
	RollbackWindowSeconds *int64 `json:"rollback_window_seconds"`
}

type migrationEstimate struct {
	Documents int      `json:"documents"`
	Chunks    int      `json:"chunks"`
	Tokens    int64    `json:"tokens"`
	CostUSD   *float64 `json:"cost_usd"`
}

type migrationProgress struct {
	Documents       int     `json:"documents"`
	Chunks          int     `json:"chunks"`
	EmbeddingTokens int64   `json:"embedding_tokens"`
	CacheHits       int     `json:"cache_hits"`
	Fraction        float64 `json:"fraction"`
}

// migrationView is a migration as the API shows it.
type migrationView struct {
	ID                    *uuid.UUID         `json:"id,omitempty"`
	TenantID              uuid.UUID          `json:"tenant_id"`
	State                 string             `json:"state"`
	From                  search.Space       `json:"from"`
	To                    search.Space       `json:"to"`
	SearchUses            search.Space       `json:"search_uses"`
	RollbackWindowSeconds int64              `json:"rollback_window_seconds"`
	Estimate              migrationEstimate  `json:"estimate"`
	Progress              *migrationProgress `json:"progress,omitempty"`
	Error                 *string            `json:"error"`
	CreatedBy             string             `json:"created_by,omitempty"`
	CreatedAt             *time.Time         `json:"created_at,omitempty"`
	UpdatedAt             *time.Time         `json:"updated_at,omitempty"`
	CutOverAt             *time.Time         `json:"cut_over_at"`
	RetireAfter           *time.Time         `json:"retire_after"`
	FinishedAt            *time.Time         `json:"finished_at"`
	DryRun                bool               `json:"dry_run,omitempty"`
}

func viewMigration(m spaces.Migration) migrationView {
	e := m.Estimate
	v := migrationView{TenantID: m.TenantID, State: string(m.State), From: m.From, To: m.To, SearchUses: m.SearchUses(),
		RollbackWindowSeconds: int64(m.RollbackWindow / time.Second),
		Estimate:              migrationEstimate{Documents: e.Documents, Chunks: e.Chunks, Tokens: e.Tokens, CostUSD: e.CostUSD}}
	if m.DryRun {
		v.State, v.DryRun = "dry_run", true
		return v
	}
	v.ID, v.Error, v.CreatedBy, v.CreatedAt, v.UpdatedAt = &m.ID, m.Error, m.CreatedBy, &m.CreatedAt, &m.UpdatedAt
	v.CutOverAt, v.RetireAfter, v.FinishedAt = m.CutOverAt, m.RetireAfter, m.FinishedAt
	v.Progress = &migrationProgress{Documents: m.DoneDocuments, Chunks: m.DoneChunks, EmbeddingTokens: m.EmbeddingTokens,
		CacheHits: m.CacheHits, Fraction: m.Fraction()}
	return v
}

// migrations serves the embedding migration routes, for the admin (by
// tenant id in the path) and for tenants (scope embeddings:write, and
// only to the spaces the operator offers them).
type migrations struct {
	store *agents.ControlPlane
	svc   *spaces.Service
}

func (h migrations) admin(fn tenantHandler) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathTenant(r, h.store)
		if err != nil {
			return err
		}
		return fn(w, r, tenantScope{TenantID: id, caller: caller{admin: true}})
	}
}

func (h migrations) create(w http.ResponseWriter, r *http.Request, t tenantScope) error {
	if h.svc == nil {
		return errorf(http.StatusBadGateway, codeEmbeddingUnavailable, "this server embeds nothing")
	}
	dry, err := dryRun(r)
	if err != nil {
		return err
	}
	var in migrationInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	by := "admin"
	if !t.admin {
		by = "tenant"
		if t.session != nil {
			by = t.session.Subject
		}
	}
	m, err := h.svc.Create(r.Context(), t.TenantID, spaces.Request{Model: in.Model, Dimensions: in.Dimensions,
		RollbackWindowSeconds: in.RollbackWindowSeconds, DryRun: dry, Admin: t.admin, By: by})
	if err != nil {
		return err
	}
	if dry {
		writeJSON(w, http.StatusOK, viewMigration(m))
		return nil
	}
	w.Header().Set("Location", migrationPath(r, m.ID))
	writeJSON(w, http.StatusAccepted, viewMigration(m))
	return nil
}

// migrationPath is the migration's URL under the route it was made on.
func migrationPath(r *http.Request, id uuid.UUID) string {
	return strings.TrimSuffix(r.URL.Path, "/") + "/" + id.String()
}

func (h migrations) list(w http.ResponseWriter, r *http.Request, t tenantScope) error {
	page, err := pageFrom(r)
	if err != nil {
		return err
	}
	list, next, err := h.svc.List(r.Context(), t.TenantID, page)
	if err != nil {
		return err
	}
	views := make([]migrationView, len(list))
	for i, m := range list {
		views[i] = viewMigration(m)
	}
	writeJSON(w, http.StatusOK, newList(views, next))
	return nil
}

func (h migrations) get(w http.ResponseWriter, r *http.Request, t tenantScope) error {
	id, err := pathUUID(r, "migration_id")
	if err != nil {
		return err
	}
	m, err := h.svc.Get(r.Context(), t.TenantID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewMigration(m))
	return nil
}

// end cancels, rolls back or completes a migration.
func (h migrations) end(how spaces.End) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		id, err := pathUUID(r, "migration_id")
		if err != nil {
			return err
		}
		m, err := h.svc.End(r.Context(), t.TenantID, id, how)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, viewMigration(m))
		return nil
	}
}

// migrationRoutes are the admin's and the tenants' routes.
func migrationRoutes(d Deps, auth *authenticator) []route {
	log := d.Logger
	h := migrations{store: d.ControlPlane, svc: d.Spaces}
	admin := func(fn tenantHandler) http.Handler {
		return serve(log, auth.admin(h.admin(fn)))
	}
	tenant := func(fn tenantHandler) http.Handler {
		return serve(log, auth.tenant(agents.ScopeEmbeddingsWrite, fn))
	}
	var out []route
	for _, base := range []struct {
		prefix string
		wrap   func(tenantHandler) http.Handler
	}{{"/v1/tenants/{tenant_id}/embedding-migrations", admin}, {"/v1/embedding-migrations", tenant}} {
		out = append(out,
			route{"POST " + base.prefix, base.wrap(h.create), false},
			route{"GET " + base.prefix, base.wrap(h.list), false},
			route{"GET " + base.prefix + "/{migration_id}", base.wrap(h.get), false},
			route{"POST " + base.prefix + "/{migration_id}/cancel", base.wrap(h.end(spaces.Cancel)), false},
			route{"POST " + base.prefix + "/{migration_id}/rollback", base.wrap(h.end(spaces.Rollback)), false},
			route{"POST " + base.prefix + "/{migration_id}/complete", base.wrap(h.end(spaces.Complete)), false},
		)
	}
	return out
}
