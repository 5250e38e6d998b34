package console

import (
	"errors"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/ingest"
)

// mux is the console's routes, in one screen.
func (c *Console) mux() *http.ServeMux {
	m := http.NewServeMux()
	m.Handle("GET /console/static/", c.static)
	m.HandleFunc("GET /console/{$}", c.home)
	m.HandleFunc("GET /console/login", c.loginPage)
	m.HandleFunc("POST /console/login", c.loginWithKey)
	m.HandleFunc("GET /console/login/oidc", c.loginWithOIDC)
	m.HandleFunc("GET /console/callback", c.oidcCallback)
	m.HandleFunc("POST /console/logout", c.signedIn(c.logout))

	m.HandleFunc("GET /console/documents", c.signedIn(c.documents))
	m.HandleFunc("GET /console/documents/{id}", c.signedIn(c.document))
	m.HandleFunc("POST /console/documents/{id}/edit", c.signedIn(c.editDocument))
	m.HandleFunc("POST /console/documents/{id}/reindex", c.signedIn(c.reindexDocument))
	m.HandleFunc("POST /console/documents/{id}/delete", c.signedIn(c.deleteDocument))
	m.HandleFunc("GET /console/sources", c.signedIn(c.sources))
	m.HandleFunc("POST /console/sources", c.signedIn(c.createSource))
	m.HandleFunc("GET /console/sources/{id}", c.signedIn(c.source))
	m.HandleFunc("POST /console/sources/{id}/sync", c.signedIn(c.syncSource))
	m.HandleFunc("POST /console/sources/{id}/delete", c.signedIn(c.deleteSource))
	m.HandleFunc("GET /console/search", c.signedIn(c.search))
	m.HandleFunc("GET /console/agents", c.signedIn(c.agents))
	m.HandleFunc("GET /console/agents/new", c.signedIn(c.newAgent))
	m.HandleFunc("POST /console/agents/new", c.signedIn(c.saveAgent))
	m.HandleFunc("GET /console/agents/{id}/edit", c.signedIn(c.editAgent))
	m.HandleFunc("POST /console/agents/{id}/edit", c.signedIn(c.saveAgent))
	m.HandleFunc("GET /console/agents/{id}/delete", c.signedIn(c.confirmDeleteAgent))
	m.HandleFunc("POST /console/agents/{id}/delete", c.signedIn(c.deleteAgent))
	m.HandleFunc("POST /console/agents/validate", c.signedIn(c.validateAgent))
	m.HandleFunc("GET /console/keys", c.signedIn(c.keys))
	m.HandleFunc("POST /console/keys", c.signedIn(c.createKey))
	m.HandleFunc("POST /console/keys/{id}/revoke", c.signedIn(c.revokeKey))
	m.HandleFunc("GET /console/usage", c.signedIn(c.usage))
	m.HandleFunc("GET /console/migrations", c.signedIn(c.migrations))
	m.HandleFunc("POST /console/migrations", c.signedIn(c.startMigration))
	m.HandleFunc("POST /console/migrations/{id}/{end}", c.signedIn(c.endMigration))
	m.HandleFunc("GET /console/webhooks", c.signedIn(c.webhooks))
	m.HandleFunc("POST /console/webhooks", c.signedIn(c.createWebhook))
	m.HandleFunc("GET /console/webhooks/{id}", c.signedIn(c.webhook))
	m.HandleFunc("POST /console/webhooks/{id}/{state}", c.signedIn(c.setWebhook))
	m.HandleFunc("POST /console/webhooks/{id}/delete", c.signedIn(c.deleteWebhook))
	m.HandleFunc("POST /console/webhooks/{id}/deliveries/{delivery}/retry", c.signedIn(c.retryDelivery))
	m.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) {
		c.render(w, http.StatusNotFound, "notfound", page{Title: "Not found", Session: c.sessionOf(r)})
	})
	return m
}

func (c *Console) home(w http.ResponseWriter, r *http.Request) {
	if c.sessionOf(r) == nil {
		http.Redirect(w, r, "/console/login", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/console/documents", http.StatusSeeOther)
}

// ---- signing in and out ----

type loginData struct {
	Next     string
	OIDCName string
}

// safeNext keeps a post-sign-in destination only if it is a console page
// of this site (no open redirect).
func safeNext(next string) string {
	const home = "/console/documents"
	if strings.HasPrefix(next, "//") || strings.Contains(next, `\`) {
		return home
	}
	u, err := url.Parse(next)
	if err != nil || u.Host != "" || u.Scheme != "" || u.User != nil {
		return home
	}
	if p := path.Clean(u.Path); p != u.Path || !strings.HasPrefix(p, "/console/") {
		return home
	}
	return u.RequestURI()
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	d := loginData{Next: safeNext(r.URL.Query().Get("next"))}
	if c.OIDC != nil {
		d.OIDCName = c.OIDC.Name
	}
	p := page{Title: "Sign in", Data: d, Notice: notices[r.URL.Query().Get("done")]}
	if e := r.URL.Query().Get("error"); e != "" {
		p.Error = loginErrors[e]
	}
	c.render(w, http.StatusOK, "login", p)
}

// loginErrors are the fixed messages the sign-in page shows (the query
// names one; nothing from the URL is shown as is).
var loginErrors = map[string]string{
	"oidc":     "Signing in with the identity provider failed; try again.",
	"tenant":   "Your organisation has no ragd tenant yet; ask the platform's operator to map it.",
	"role":     "Your role in the organisation gives no access to ragd.",
	"state":    "The sign-in took too long or was started in another tab; try again.",
	"provider": "The identity provider cannot be reached; try again shortly.",
}

// loginWithKey starts a session with a tenant API key (for development and
// for tenants without an identity provider). The session lives only while
// the key does and has the key's scopes.
func (c *Console) loginWithKey(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "the form could not be read (over 1 MiB?)", http.StatusRequestEntityTooLarge)
		return
	}
	next := safeNext(r.PostFormValue("next"))
	// A sign-in form posted from another site would sign the victim in to
	// the attacker's tenant (login CSRF).
	if CrossSite(r) {
		http.Error(w, "sign in from the console's own page", http.StatusForbidden)
		return
	}
	key, err := c.ControlPlane.Authenticate(r.Context(), strings.TrimSpace(r.PostFormValue("api_key")))
	if err != nil {
		status, msg := http.StatusUnauthorized, "That key is unknown, revoked or expired."
		if !errors.Is(err, ragd.ErrUnauthorized) {
			c.Logger.ErrorContext(r.Context(), "console: sign in", "err", err)
			status, msg = http.StatusInternalServerError, "Signing in failed; try again."
		}
		c.render(w, status, "login", page{Title: "Sign in", Error: msg, Data: loginData{Next: next, OIDCName: c.oidcName()}})
		return
	}
	id := key.ID
	c.startSession(w, r, agents.Session{TenantID: key.TenantID, KeyID: &id, Subject: "key " + key.Display + "… (" + key.Name + ")"}, next)
}

func (c *Console) oidcName() string {
	if c.OIDC == nil {
		return ""
	}
	return c.OIDC.Name
}

func (c *Console) startSession(w http.ResponseWriter, r *http.Request, in agents.Session, next string) {
	// A sign-in replaces the browser's session, if it had one: end that.
	if old, err := r.Cookie(SessionCookie); err == nil {
		if err := c.ControlPlane.DeleteSession(r.Context(), old.Value); err != nil {
			c.Logger.WarnContext(r.Context(), "console: end the replaced session", "err", err)
		}
	}
	token, s, err := c.ControlPlane.CreateSession(r.Context(), in, c.SessionTTL)
	if err != nil {
		c.Logger.ErrorContext(r.Context(), "console: create session", "err", err)
		http.Error(w, "signing in failed; try again", http.StatusInternalServerError)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: token, Path: "/", Expires: s.ExpiresAt,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, s *session) {
	if err := c.ControlPlane.DeleteSession(r.Context(), s.token); err != nil {
		c.Logger.ErrorContext(r.Context(), "console: sign out", "err", err)
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
}

// ---- documents ----

// docRow is a row of the documents list, with the actions that apply.
type docRow struct {
	Doc           ingest.Document
	CanReindex    bool
	NeedsPassword bool
}

type documentsData struct {
	Query      listQuery
	Rows       []docRow
	Total      int
	NextCursor string
	Statuses   []string
	Sorts      []listSort
	SortLabel  string
	CanWrite   bool
}

func (c *Console) documents(w http.ResponseWriter, r *http.Request, s *session) {
	in := r.URL.Query()
	lq := readListQuery(in)
	d := documentsData{Query: lq, CanWrite: s.Has(agents.ScopeDocumentsWrite), Sorts: listSorts,
		Statuses: []string{ingest.StatusQueued, ingest.StatusProcessing, ingest.StatusReady, ingest.StatusFailed}}
	p := page{Title: "Documents", Nav: "documents", Session: s, Notice: notices[in.Get("done")]}
	status := http.StatusOK
	q, ok := lq.apiValues()
	for _, s := range listSorts {
		if s.Value == lq.Sort {
			d.SortLabel = s.Label
		}
	}
	var list struct {
		Data       []ingest.Document `json:"data"`
		NextCursor string            `json:"next_cursor"`
		Total      int               `json:"total"`
	}
	if !ok {
		p.Error, status = "There is no such order; choose one from the list.", http.StatusBadRequest
	} else if res := c.api(r, s, http.MethodGet, "/v1/documents?"+q.Encode(), nil); res.Decode(&list) != nil {
		p.Error, status = res.Problem().Detail, res.Status // a bad filter is 400
	}
	d.NextCursor, d.Total = list.NextCursor, list.Total
	for _, doc := range list.Data {
		d.Rows = append(d.Rows, docRow{Doc: doc, CanReindex: canReindex(doc), NeedsPassword: needsPassword(doc)})
	}
	p.Data = d
	c.render(w, status, "documents", p)
}

// notices are the fixed messages shown after an action (named in ?done=).
var notices = map[string]string{
	"reindexed":      "The document is queued to be processed again.",
	"document-saved": "Saved. A ready document is processed again, so that search sees the change.",
	"deleted":        "The document is being deleted.",
	"revoked":        "The key is revoked; requests with it now answer 401.",
	"agent-saved":    "The agent is saved.",
	"agent-deleted":  "The agent is deleted; searches that name it now answer 404.",
	"revoked-own":    "The key you were signed in with is revoked, which ended your session; sign in with another key.",
}

// confirmData is a page that asks before an action that cannot be undone:
// its form posts confirm=yes to Action. It works without JavaScript.
type confirmData struct {
	Question string
	Detail   string
	Action   string
	Button   string
	Cancel   string
	// Keep, when set, labels a box that sends keep_documents=true.
	Keep string
}

// confirmed reports whether a form came from a confirmation page.
func confirmed(r *http.Request) bool { return r.PostFormValue("confirm") == "yes" }

func (c *Console) reindexDocument(w http.ResponseWriter, r *http.Request, s *session) {
	path := "/v1/documents/" + url.PathEscape(r.PathValue("id")) + "/reindex"
	// A password opens a protected PDF for this run (the API's JSON body).
	var res apiResult
	if pw := r.PostFormValue("password"); pw != "" {
		res = c.apiJSON(r, s, http.MethodPost, path, map[string]string{"password": pw})
	} else {
		res = c.api(r, s, http.MethodPost, path, nil)
	}
	c.documentAction(w, r, s, res, "reindexed")
}

func (c *Console) deleteDocument(w http.ResponseWriter, r *http.Request, s *session) {
	res := c.api(r, s, http.MethodDelete, "/v1/documents/"+url.PathEscape(r.PathValue("id")), nil)
	c.documentAction(w, r, s, res, "deleted")
}

// documentAction answers a reindex or delete: the API's error, or back to
// where it was asked, the document's page or the list as it was filtered.
func (c *Console) documentAction(w http.ResponseWriter, r *http.Request, s *session, res apiResult, done string) {
	if !res.OK() {
		c.render(w, res.Status, "message", page{Title: "Documents", Nav: "documents", Session: s, Error: res.Problem().Detail})
		return
	}
	if r.PostFormValue("from") == "document" && done != "deleted" {
		http.Redirect(w, r, "/console/documents/"+url.PathEscape(r.PathValue("id"))+"?done="+done, http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, readListQuery(r.PostForm).URL(done), http.StatusSeeOther)
}
