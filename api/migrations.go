package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/embedder"
	"github.com/ragd/ragd/ingest"
	"github.com/ragd/ragd/search"
)

// Rollback windows of embedding migrations.
const (
	DefaultRollbackWindow = 72 * time.Hour
	MaxRollbackWindow     = 30 * 24 * time.Hour
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

func viewMigration(m ingest.Migration) migrationView {
	e := m.Estimate
	v := migrationView{ID: &m.ID, TenantID: m.TenantID, State: m.State, From: m.From, To: m.To,
		RollbackWindowSeconds: int64(m.RollbackWindow / time.Second),
		Estimate:              migrationEstimate{Documents: e.Documents, Chunks: e.Chunks, Tokens: e.Tokens, CostUSD: e.CostUSD},
		Error:                 m.Error, CreatedBy: m.CreatedBy, CreatedAt: &m.CreatedAt, UpdatedAt: &m.UpdatedAt,
		CutOverAt: m.CutOverAt, RetireAfter: m.RetireAfter, FinishedAt: m.FinishedAt}
	v.SearchUses = m.From
	if m.State == ingest.MigrationActive || m.State == ingest.MigrationCompleted {
		v.SearchUses = m.To
	}
	p := &migrationProgress{Documents: m.DoneDocuments, Chunks: m.DoneChunks, EmbeddingTokens: m.EmbeddingTokens, CacheHits: m.CacheHits}
	switch {
	case m.State == ingest.MigrationBuilding && e.Chunks > 0:
		p.Fraction = min(0.99, float64(m.DoneChunks)/float64(e.Chunks))
	case m.State != ingest.MigrationBuilding && m.CutOverAt != nil, m.State == ingest.MigrationBuilding && e.Documents == 0:
		p.Fraction = 1
	}
	v.Progress = p
	return v
}

// migrations serves the embedding migration routes, for the admin (by
// tenant id in the path) and for tenants (scope embeddings:write, and
// only to the spaces the operator offers them).
type migrations struct {
	store  *agents.ControlPlane
	docs   *ingest.Documents
	spaces *search.Indexes
	queue  ingest.MigrationQueue
	prices map[string]float64
	// offered are the spaces tenants may choose (RAGD_EMBEDDING_MODELS);
	// the admin may choose any the provider serves.
	offered []search.Space
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
	if h.spaces == nil {
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
	window := DefaultRollbackWindow
	var probs ragd.Problems
	in.Model = strings.TrimSpace(in.Model)
	switch {
	case in.Model == "":
		probs.Add("model", "is required")
	case len(in.Model) > 200 || strings.IndexFunc(in.Model, func(r rune) bool { return !unicode.IsPrint(r) || r == ' ' }) >= 0:
		probs.Add("model", "must be a model name: at most 200 printable characters without spaces")
	}
	if in.Dimensions < 8 || in.Dimensions > 16384 {
		probs.Add("dimensions", "must be between 8 and 16384")
	}
	if s := in.RollbackWindowSeconds; s != nil {
		if *s < 0 || time.Duration(*s)*time.Second > MaxRollbackWindow {
			probs.Add("rollback_window_seconds", "must be between 0 and %d (30 days)", int64(MaxRollbackWindow/time.Second))
		} else {
			window = time.Duration(*s) * time.Second
		}
	}
	if err := probs.Err(); err != nil {
		return err
	}
	to := search.Space{Model: in.Model, Dimensions: in.Dimensions}
	if !t.admin && !slices.Contains(h.offered, to) {
		if len(h.offered) == 0 {
			return errorf(http.StatusForbidden, codeForbiddenScope, "the operator offers tenants no other embedding model (RAGD_EMBEDDING_MODELS); ask the platform admin")
		}
		names := make([]string, len(h.offered))
		for i, sp := range h.offered {
			names[i] = sp.String()
		}
		return fieldError("model", "is not one of the models offered: "+strings.Join(names, ", "))
	}
	ctx := r.Context()
	if err := h.docs.CheckNoLiveMigration(ctx, t.TenantID); err != nil {
		return err
	}
	cur, err := h.docs.SearchSpace(ctx, t.TenantID)
	if err != nil {
		return err
	}
	from := cur
	if from.IsZero() {
		from = h.spaces.Default().Space
	}
	if to == from {
		return fieldError("model", "is already the tenant's embedding space ("+from.String()+")")
	}
	if err := h.probe(ctx, t.TenantID, to); err != nil {
		return err
	}
	est, err := h.docs.EstimateMigration(ctx, t.TenantID)
	if err != nil {
		return err
	}
	if c, ok := embedder.Cost(h.prices, to.Model, est.Tokens); ok {
		est.CostUSD = &c
	}
	if dry {
		v := migrationView{TenantID: t.TenantID, State: "dry_run", From: from, To: to, SearchUses: from, DryRun: true,
			RollbackWindowSeconds: int64(window / time.Second),
			Estimate:              migrationEstimate{Documents: est.Documents, Chunks: est.Chunks, Tokens: est.Tokens, CostUSD: est.CostUSD}}
		writeJSON(w, http.StatusOK, v)
		return nil
	}
	by := "admin"
	if !t.admin {
		by = "tenant"
		if t.session != nil {
			by = t.session.Subject
		}
	}
	m, err := h.docs.CreateMigration(ctx, t.TenantID, ingest.MigrationInput{From: from, To: to, RollbackWindow: window, Estimate: est, CreatedBy: by}, h.queue)
	if err != nil {
		return err
	}
	w.Header().Set("Location", migrationPath(r, m.ID))
	writeJSON(w, http.StatusAccepted, viewMigration(m))
	return nil
}

// probe embeds one short text in the target space, so that a model the
// provider does not serve, or not at that size, is refused now rather
// than by the job.
func (h migrations) probe(ctx context.Context, tenantID uuid.UUID, to search.Space) error {
	idx, err := h.spaces.Get(ctx, to)
	if errors.Is(err, search.ErrUnknownSpace) {
		return fieldError("model", err.Error())
	}
	if err != nil {
		return err
	}
	_, err = idx.Embedder.Embed(ctx, tenantID, []string{"ragd embedding probe"})
	if e, ok := embedder.AsError(err); ok {
		if e.Permanent() {
			return fieldError("model", "the embedding provider refused "+to.String()+": "+e.Message)
		}
		return &httpError{status: http.StatusBadGateway, code: codeEmbeddingUnavailable,
			detail: "the embedding provider did not answer; try again: " + e.Message, retryAfter: max(e.Retry, 5*time.Second)}
	}
	return err
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
	list, next, err := h.docs.ListMigrations(r.Context(), t.TenantID, page)
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
	m, err := h.docs.GetMigration(r.Context(), t.TenantID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewMigration(m))
	return nil
}

// end cancels, rolls back or completes a migration.
func (h migrations) end(how string) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		id, err := pathUUID(r, "migration_id")
		if err != nil {
			return err
		}
		m, err := h.docs.EndMigration(r.Context(), t.TenantID, id, how, h.queue)
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
	h := migrations{store: d.ControlPlane, docs: d.Documents, spaces: d.Spaces, queue: d.Queue, prices: d.EmbeddingPrices, offered: d.OfferedSpaces}
	if h.prices == nil {
		h.prices = embedder.ListPrices
	}
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
			route{"POST " + base.prefix + "/{migration_id}/cancel", base.wrap(h.end(ingest.EndCancel)), false},
			route{"POST " + base.prefix + "/{migration_id}/rollback", base.wrap(h.end(ingest.EndRollback)), false},
			route{"POST " + base.prefix + "/{migration_id}/complete", base.wrap(h.end(ingest.EndComplete)), false},
		)
	}
	return out
}
