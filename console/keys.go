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
	Keys     []keyRow
	Scopes   []agents.Scope
	CanWrite bool
	// NewKey is the key just created, shown this once.
	NewKey     string
	NewKeyName string
	Errors     map[string]string
	// The create form's values: empty and the default scopes at first;
	// after an error, what was typed and ticked, so that nobody types it
	// again.
	Name, ExpiresInDays string
	Checked             map[agents.Scope]bool
}

// keyForm is the create form as posted, to show again with its errors.
func keyForm(r *http.Request, errors map[string]string) keysData {
	d := keysData{Name: r.PostForm.Get("name"), ExpiresInDays: r.PostForm.Get("expires_in_days"),
		Checked: map[agents.Scope]bool{}, Errors: errors}
	for _, sc := range r.PostForm["scopes"] {
		d.Checked[agents.Scope(sc)] = true
	}
	return d
}

// keyRow is a key as the list shows it.
type keyRow struct {
	agents.APIKey
	// Current: the session signed in with this key; revoking it ends the
	// session, so the console asks first.
	Current bool
	Expired bool
}

func (c *Console) keys(w http.ResponseWriter, r *http.Request, s *session) {
	c.renderKeys(w, r, s, http.StatusOK, page{Notice: notices[r.URL.Query().Get("done")]}, keysData{})
}

func (c *Console) renderKeys(w http.ResponseWriter, r *http.Request, s *session, status int, p page, d keysData) {
	p.Title, p.Nav, p.Session = "API keys", "keys", s
	d.Scopes, d.CanWrite = agents.AllScopes, s.Has(agents.ScopeKeysWrite)
	if d.Checked == nil {
		d.Checked = map[agents.Scope]bool{}
		for _, sc := range agents.DefaultScopes {
			d.Checked[sc] = true
		}
	}
	if d.CanWrite {
		var list struct {
			Data []agents.APIKey `json:"data"`
		}
		if res := c.api(r, s, http.MethodGet, "/v1/api-keys?limit=200", nil); res.Decode(&list) != nil && p.Error == "" {
			p.Error = res.Problem().Detail
		}
		now := time.Now()
		for _, k := range list.Data {
			d.Keys = append(d.Keys, keyRow{APIKey: k, Current: s.KeyID != nil && *s.KeyID == k.ID,
				Expired: k.ExpiresAt != nil && !k.ExpiresAt.After(now)})
		}
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
				keyForm(r, map[string]string{"expires_in_days": "must be a whole number of days from 1 to 3650"}))
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
		c.renderKeys(w, r, s, res.Status, page{Error: pr.Detail}, keyForm(r, pr.Errors))
		return
	}
	// Shown in this answer only (no redirect: the key must not be in a URL
	// or a later page).
	c.renderKeys(w, r, s, http.StatusCreated, page{Notice: "Copy the key now: it is shown only this once."},
		keysData{NewKey: created.Key, NewKeyName: created.Name})
}

// revokeKey revokes a key of the session's tenant. The key the session
// signed in with is revoked only from the confirmation page this answers
// first: revoking it ends the session.
func (c *Console) revokeKey(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	own := s.KeyID != nil && s.KeyID.String() == id
	if own && !confirmed(r) {
		c.render(w, http.StatusOK, "confirm", page{Title: "Revoke the key you are signed in with?", Nav: "keys", Session: s, Data: confirmData{
			Question: "This session signed in with this key (" + s.Subject + ").",
			Detail:   "Revoking it signs you out of the console at once, and every program that uses it gets 401 from then on. Sign in again with another key, or through your identity provider.",
			Action:   "/console/keys/" + url.PathEscape(id) + "/revoke",
			Button:   "Revoke it and sign out",
			Cancel:   "/console/keys",
		}})
		return
	}
	res := c.api(r, s, http.MethodDelete, "/v1/api-keys/"+url.PathEscape(id), nil)
	if !res.OK() {
		c.renderKeys(w, r, s, res.Status, page{Error: res.Problem().Detail}, keysData{})
		return
	}
	if own {
		// The session ended with its key; the cookie goes too.
		http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
		http.Redirect(w, r, "/console/login?done=revoked-own", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/console/keys?done=revoked", http.StatusSeeOther)
}
