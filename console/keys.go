package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ragd/ragd/agents"
)

type keysData struct {
	Keys     []agents.APIKey
	Scopes   []agents.Scope
	Default  map[agents.Scope]bool
	CanWrite bool
	// NewKey is the key just created, shown this once.
	NewKey     string
	NewKeyName string
	Errors     map[string]string
}

func (c *Console) keys(w http.ResponseWriter, r *http.Request, s *session) {
	c.renderKeys(w, r, s, http.StatusOK, page{Notice: notices[r.URL.Query().Get("done")]}, keysData{})
}

func (c *Console) renderKeys(w http.ResponseWriter, r *http.Request, s *session, status int, p page, d keysData) {
	p.Title, p.Nav, p.Session = "API keys", "keys", s
	d.Scopes, d.CanWrite = agents.AllScopes, s.Has(agents.ScopeKeysWrite)
	d.Default = map[agents.Scope]bool{}
	for _, sc := range agents.DefaultScopes {
		d.Default[sc] = true
	}
	if d.CanWrite {
		var list struct {
			Data []agents.APIKey `json:"data"`
		}
		if res := c.api(r, s, http.MethodGet, "/v1/api-keys?limit=200", nil); res.Decode(&list) != nil && p.Error == "" {
			p.Error = res.Problem().Detail
		}
		d.Keys = list.Data
	}
	p.Data = d
	c.render(w, status, "keys", p)
}

func (c *Console) createKey(w http.ResponseWriter, r *http.Request, s *session) {
	_ = r.ParseForm()
	body := map[string]any{"name": r.PostForm.Get("name"), "scopes": r.PostForm["scopes"]}
	if r.PostForm["scopes"] == nil {
		body["scopes"] = []string{}
	}
	if days := strings.TrimSpace(r.PostForm.Get("expires_in_days")); days != "" {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 || n > 3650 {
			c.renderKeys(w, r, s, http.StatusBadRequest, page{Error: "Some fields need fixing."},
				keysData{Errors: map[string]string{"expires_in_days": "must be a whole number of days from 1 to 3650"}})
			return
		}
		body["expires_at"] = time.Now().Add(time.Duration(n) * 24 * time.Hour).UTC().Format(time.RFC3339)
	}
	res := c.apiJSON(r, s, http.MethodPost, "/v1/api-keys", body)
	var created struct {
		Key  string `json:"key"`
		Name string `json:"name"`
	}
	if err := res.Decode(&created); err != nil {
		pr := res.Problem()
		c.renderKeys(w, r, s, res.Status, page{Error: pr.Detail}, keysData{Errors: pr.Errors})
		return
	}
	// Shown in this answer only (no redirect: the key must not be in a URL
	// or a later page).
	c.renderKeys(w, r, s, http.StatusCreated, page{Notice: "Copy the key now: it is shown only this once."},
		keysData{NewKey: created.Key, NewKeyName: created.Name})
}

func (c *Console) revokeKey(w http.ResponseWriter, r *http.Request, s *session) {
	res := c.api(r, s, http.MethodDelete, "/v1/api-keys/"+url.PathEscape(r.PathValue("id")), nil)
	if !res.OK() {
		c.renderKeys(w, r, s, res.Status, page{Error: res.Problem().Detail}, keysData{})
		return
	}
	http.Redirect(w, r, "/console/keys?done=revoked", http.StatusSeeOther)
}
