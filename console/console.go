package console

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/agents"
)

// SessionCookie holds a console session's token. The __Host- prefix makes
// browsers keep it only when it is Secure, for this host alone, on path /.
// Browsers treat http://localhost as secure, so it works there too.
const SessionCookie = "__Host-ragd_session"

// CSRFHeader carries a console session's CSRF token on API requests that
// change something; the console's own forms send it as the csrf_token field.
const CSRFHeader = "X-CSRF-Token"

// contentSecurityPolicy lets pages load only the console's own scripts,
// styles and images, talk only to this origin, and never be framed.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// maxFormBytes bounds a form posted to the console.
const maxFormBytes = 1 << 20

//go:embed templates static
var assets embed.FS

// Config is what the console needs.
type Config struct {
	Logger *slog.Logger
	// ControlPlane keeps sessions and checks the API keys people sign in with.
	ControlPlane *agents.ControlPlane
	// API serves the /v1 routes. Every page reads and changes a tenant's
	// data by calling it in-process with the person's session, so the
	// console has no second path to the data and no authorisation of its
	// own.
	API http.Handler
	// OIDC, when set, offers sign-in with the identity provider.
	OIDC *OIDC
	// SessionTTL is how long a session lasts (agents.DefaultSessionTTL
	// when zero).
	SessionTTL time.Duration
}

// Console serves /console/.
type Console struct {
	Config
	pages  map[string]*template.Template
	static http.Handler
}

// New returns the console, to be mounted at /console/.
func New(c Config) *Console {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	con := &Console{Config: c, pages: map[string]*template.Template{}}
	names, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, name := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(name, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		con.pages[base] = template.Must(template.New(base).Funcs(funcs).ParseFS(assets, "templates/layout.html", name))
	}
	static, _ := fs.Sub(assets, "static")
	con.static = http.StripPrefix("/console/static/", http.FileServerFS(static))
	return con
}

// ServeHTTP routes the console's pages.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The console's own forms are small (an agent's schema and prompt the
	// largest); uploads go to the API, which has its own limits.
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	c.mux().ServeHTTP(w, r)
}

// session is the signed-in person of a request, with the token the
// in-process API calls carry.
type session struct {
	agents.Session
	token string
	// TenantName and TenantOrg (the identity provider's organisation id,
	// empty when the tenant has none) name whose data the pages show.
	TenantName string
	TenantOrg  string
}

// page is what every template gets.
type page struct {
	Title   string
	Nav     string
	Session *session
	Notice  string
	Error   string
	Data    any
}

func (c *Console) render(w http.ResponseWriter, status int, name string, p page) {
	t, ok := c.pages[name]
	if !ok {
		panic("console: no template " + name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		c.Logger.Error("console: render", "page", name, "err", err)
		http.Error(w, "the page could not be drawn", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// sessionOf returns the request's live session, or nil.
func (c *Console) sessionOf(r *http.Request) *session {
	ck, err := r.Cookie(SessionCookie)
	if err != nil {
		return nil
	}
	s, err := c.ControlPlane.Session(r.Context(), ck.Value)
	if err != nil {
		if !errors.Is(err, ragd.ErrUnauthorized) {
			c.Logger.ErrorContext(r.Context(), "console: read session", "err", err)
		}
		return nil
	}
	out := &session{Session: s, token: ck.Value}
	// The header names the tenant; a page still works without it.
	var t struct {
		Name       string  `json:"name"`
		ClerkOrgID *string `json:"clerk_org_id"`
	}
	if res := c.api(r, out, http.MethodGet, "/v1/tenant", nil); res.Decode(&t) != nil {
		c.Logger.WarnContext(r.Context(), "console: read the session's tenant", "status", res.Status)
	} else {
		out.TenantName = t.Name
		if t.ClerkOrgID != nil {
			out.TenantOrg = *t.ClerkOrgID
		}
	}
	return out
}

// signedIn wraps a page that needs a session: without one, the browser goes
// to the sign-in page (and comes back after). A request that changes
// something must carry the session's CSRF token and come from this site.
func (c *Console) signedIn(h func(w http.ResponseWriter, r *http.Request, s *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := c.sessionOf(r)
		if s == nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/console/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Error(w, "your session has ended; sign in again", http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if err := r.ParseForm(); err != nil {
				http.Error(w, "the form could not be read (over 1 MiB?)", http.StatusRequestEntityTooLarge)
				return
			}
			if CrossSite(r) || subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf_token")), []byte(s.CSRFToken)) != 1 {
				http.Error(w, "this form is stale or came from another site; reload the page and try again", http.StatusForbidden)
				return
			}
		}
		h(w, r, s)
	}
}

// CrossSite reports whether a browser sent r from another site: by
// Sec-Fetch-Site, or else by Origin against Host. Requests without either
// (curl, scripts) are not a browser's cross-site requests.
func CrossSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return false
	case "same-site", "cross-site":
		return true
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	u, err := url.Parse(origin)
	return err != nil || u.Host != r.Host
}

// apiResult is the answer of an in-process API call.
type apiResult struct {
	Status int
	Header http.Header
	Body   []byte
}

// problem is the part of an API error the console shows.
type problem struct {
	Code   string            `json:"code"`
	Detail string            `json:"detail"`
	Errors map[string]string `json:"errors"`
}

// OK reports a 2xx answer.
func (a apiResult) OK() bool { return a.Status >= 200 && a.Status < 300 }

// Problem decodes an error answer.
func (a apiResult) Problem() problem {
	var p problem
	if json.Unmarshal(a.Body, &p) != nil || p.Detail == "" {
		p.Detail = fmt.Sprintf("the server answered %d", a.Status)
	}
	return p
}

// Decode reads a successful answer into v.
func (a apiResult) Decode(v any) error {
	if !a.OK() {
		return fmt.Errorf("api: %d %s", a.Status, a.Problem().Detail)
	}
	return json.Unmarshal(a.Body, v)
}

// api calls the HTTP API in-process (headers come in name, value pairs)
// as the session's person: the request carries the session cookie and its
// CSRF token, so the API authenticates and authorises it exactly as it
// would the browser's own request.
func (c *Console) api(r *http.Request, s *session, method, path string, body io.Reader, headers ...string) apiResult {
	req, err := http.NewRequestWithContext(r.Context(), method, path, body)
	if err != nil {
		return apiResult{Status: http.StatusInternalServerError, Body: []byte(`{"detail":"bad request path"}`)}
	}
	if body == nil {
		req.Body = http.NoBody // as a server's request: handlers read it
	}
	req.Host = r.Host
	req.RemoteAddr = r.RemoteAddr
	req.AddCookie(&http.Cookie{Name: SessionCookie, Value: s.token})
	// The console is the caller here: it has checked its own form's CSRF
	// token and site (signedIn) before any change, and a page reached by a
	// link from elsewhere (a shared search) is a read. So the browser's
	// site headers stay out, and the session's token goes in.
	req.Header.Set(CSRFHeader, s.CSRFToken)
	if v := r.Header.Get("User-Agent"); v != "" {
		req.Header.Set("User-Agent", v)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := &recorder{header: http.Header{}}
	c.API.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return apiResult{Status: rec.status, Header: rec.header, Body: rec.body.Bytes()}
}

// apiJSON calls the API with v as its JSON body (and headers, in pairs).
func (c *Console) apiJSON(r *http.Request, s *session, method, path string, v any, headers ...string) apiResult {
	b, err := json.Marshal(v)
	if err != nil {
		return apiResult{Status: http.StatusInternalServerError, Body: []byte(`{"detail":"could not encode the request"}`)}
	}
	return c.api(r, s, method, path, bytes.NewReader(b), append(headers, "Content-Type", "application/json")...)
}

// listPage reads one page of the list at path: at most limit items,
// after the request's ?cursor=, and the next page's cursor ("" at the
// end). When the API refuses, it returns the problem's detail.
func listPage[T any](c *Console, r *http.Request, s *session, path string, limit int) (items []T, next, problem string) {
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if cur := r.URL.Query().Get("cursor"); cur != "" {
		q.Set("cursor", cur)
	}
	var list struct {
		Data       []T    `json:"data"`
		NextCursor string `json:"next_cursor"`
	}
	if res := c.api(r, s, http.MethodGet, path+"?"+q.Encode(), nil); res.Decode(&list) != nil {
		return nil, "", res.Problem().Detail
	}
	return list.Data, list.NextCursor, ""
}

// getObject reads the object at path into v. When the API refuses (404
// for another tenant's id), it draws the message page, titled for the
// section nav, and reports false.
func (c *Console) getObject(w http.ResponseWriter, r *http.Request, s *session, path string, v any, title, nav string) bool {
	res := c.api(r, s, http.MethodGet, path, nil)
	if err := res.Decode(v); err != nil {
		c.render(w, res.Status, "message", page{Title: title, Nav: nav, Session: s, Error: res.Problem().Detail})
		return false
	}
	return true
}

// hostOf is a URL's host, "" when it has none.
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}

// recorder is the ResponseWriter of an in-process API call. Answers the
// console reads are small (lists are paged, files are not read through it).
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

// randomToken is 256 random bits, base64url-encoded.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
