package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/search"
)

// migration is an embedding migration as the API shows it.
type migration struct {
	ID                    string       `json:"id"`
	State                 string       `json:"state"`
	From                  search.Space `json:"from"`
	To                    search.Space `json:"to"`
	SearchUses            search.Space `json:"search_uses"`
	RollbackWindowSeconds int64        `json:"rollback_window_seconds"`
	Estimate              struct {
		Documents int      `json:"documents"`
		Chunks    int      `json:"chunks"`
		Tokens    int64    `json:"tokens"`
		CostUSD   *float64 `json:"cost_usd"`
	} `json:"estimate"`
	Progress *struct {
		Documents       int     `json:"documents"`
		Chunks          int     `json:"chunks"`
		EmbeddingTokens int64   `json:"embedding_tokens"`
		CacheHits       int     `json:"cache_hits"`
		Fraction        float64 `json:"fraction"`
	} `json:"progress"`
	Error       *string    `json:"error"`
	CreatedBy   string     `json:"created_by"`
	CreatedAt   *time.Time `json:"created_at"`
	CutOverAt   *time.Time `json:"cut_over_at"`
	RetireAfter *time.Time `json:"retire_after"`
	FinishedAt  *time.Time `json:"finished_at"`
}

// Cost is the estimate's price in dollars, or "" when the server has none
// for the model.
func (m migration) Cost() string {
	if m.Estimate.CostUSD == nil {
		return ""
	}
	return "$" + strconv.FormatFloat(*m.Estimate.CostUSD, 'f', 2, 64)
}

type migrationsData struct {
	CanWrite   bool
	Migrations []migration
	// The form as typed, and the dry run it asked for.
	Model, Dimensions, WindowHours string
	Estimate                       *migration
	Errors                         map[string]string
}

func (c *Console) migrations(w http.ResponseWriter, r *http.Request, s *session) {
	c.renderMigrations(w, r, s, http.StatusOK, page{Notice: notices[r.URL.Query().Get("done")]}, migrationsData{})
}

func (c *Console) renderMigrations(w http.ResponseWriter, r *http.Request, s *session, status int, p page, d migrationsData) {
	p.Title, p.Nav, p.Session = "Embedding migrations", "migrations", s
	d.CanWrite = s.Has(agents.ScopeEmbeddingsWrite)
	if d.CanWrite {
		var list struct {
			Data []migration `json:"data"`
		}
		if res := c.api(r, s, http.MethodGet, "/v1/embedding-migrations?limit=50", nil); res.Decode(&list) != nil && p.Error == "" {
			p.Error = res.Problem().Detail
		}
		d.Migrations = list.Data
	}
	p.Data = d
	c.render(w, status, "migrations", p)
}

// startMigration estimates (a dry run) or starts a migration, as the
// form's button says.
func (c *Console) startMigration(w http.ResponseWriter, r *http.Request, s *session) {
	d := migrationsData{Model: strings.TrimSpace(r.PostFormValue("model")), Dimensions: strings.TrimSpace(r.PostFormValue("dimensions")),
		WindowHours: strings.TrimSpace(r.PostFormValue("rollback_window_hours")), Errors: map[string]string{}}
	body := map[string]any{"model": d.Model}
	if n, err := strconv.Atoi(d.Dimensions); err != nil {
		d.Errors["dimensions"] = "must be a whole number"
	} else {
		body["dimensions"] = n
	}
	if d.WindowHours != "" {
		h, err := strconv.ParseFloat(d.WindowHours, 64)
		if err != nil || !(h >= 0 && h <= 720) {
			d.Errors["rollback_window_seconds"] = "must be a number of hours from 0 to 720"
		}
		body["rollback_window_seconds"] = int64(h * 3600)
	}
	if len(d.Errors) > 0 {
		c.renderMigrations(w, r, s, http.StatusBadRequest, page{Error: "Some fields need fixing."}, d)
		return
	}
	path := "/v1/embedding-migrations"
	dry := r.PostFormValue("do") != "start"
	if dry {
		path += "?dry_run=true"
	}
	res := c.apiJSON(r, s, http.MethodPost, path, body)
	var m migration
	if err := res.Decode(&m); err != nil {
		pr := res.Problem()
		d.Errors = pr.Errors
		c.renderMigrations(w, r, s, res.Status, page{Error: pr.Detail}, d)
		return
	}
	if dry {
		d.Estimate = &m
		c.renderMigrations(w, r, s, http.StatusOK, page{}, d)
		return
	}
	http.Redirect(w, r, "/console/migrations?done=migration-started", http.StatusSeeOther)
}

// endMigration cancels, rolls back or completes a migration.
func (c *Console) endMigration(w http.ResponseWriter, r *http.Request, s *session) {
	how := r.PathValue("end")
	switch how {
	case "cancel", "rollback", "complete":
	default:
		c.render(w, http.StatusNotFound, "notfound", page{Title: "Not found", Session: s})
		return
	}
	res := c.api(r, s, http.MethodPost, "/v1/embedding-migrations/"+url.PathEscape(r.PathValue("id"))+"/"+how, nil)
	if !res.OK() {
		c.renderMigrations(w, r, s, res.Status, page{Error: res.Problem().Detail}, migrationsData{})
		return
	}
	http.Redirect(w, r, "/console/migrations?done=migration-"+how, http.StatusSeeOther)
}
