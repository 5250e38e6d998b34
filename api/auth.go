package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/console"
	"github.com/ragd/ragd/oidcauth"
)

// TenantHeader lets the admin token call tenant-scoped routes.
const TenantHeader = "Ragd-Tenant"

// caller is who a request comes from, once authenticated: the admin, or a
// tenant's API key, console session or identity-provider token, each of
// which carries its tenant and scopes.
type caller struct {
	admin    bool
	tenantID uuid.UUID // zero for the admin
	scopes   []agents.Scope
	// session is set when the request came with a console session cookie.
	session *agents.Session
}

// has reports whether a tenant caller holds scope s.
func (c caller) has(s agents.Scope) bool { return slices.Contains(c.scopes, s) }

// tenantScope is what a tenant-scoped handler receives: the tenant it may
// touch, decided by authentication and nothing else.
type tenantScope struct {
	TenantID uuid.UUID
	caller
}

// handler is an http.Handler that returns its error; serve writes it.
type handler func(w http.ResponseWriter, r *http.Request) error

// tenantHandler is a handler for tenant-scoped routes. It has no other way
// to learn the tenant than the scope it is given.
type tenantHandler func(w http.ResponseWriter, r *http.Request, t tenantScope) error

// authenticator turns credentials into callers.
type authenticator struct {
	adminTokenHash [32]byte
	store          *agents.ControlPlane
	// oidc verifies bearer JWTs from the identity provider; nil: none.
	oidc *oidcauth.Verifier
}

func newAuthenticator(adminToken string, store *agents.ControlPlane, oidc *oidcauth.Verifier) *authenticator {
	return &authenticator{adminTokenHash: sha256.Sum256([]byte(adminToken)), store: store, oidc: oidc}
}

// authenticate reads the bearer token (or, for browsers, the password of
// HTTP basic auth) and says who the caller is.
func (a *authenticator) authenticate(r *http.Request) (caller, error) {
	token, ok := bearer(r)
	if !ok {
		if c, err := r.Cookie(console.SessionCookie); err == nil {
			return a.fromSession(r, c.Value)
		}
		return caller{}, ragd.ErrUnauthorized
	}
	// Compare hashes so the comparison takes the same time whatever the
	// token's length.
	h := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(h[:], a.adminTokenHash[:]) == 1 {
		return caller{admin: true}, nil
	}
	if a.oidc != nil && oidcauth.LooksLikeJWT(token) {
		return a.fromJWT(r, token)
	}
	key, err := a.store.Authenticate(r.Context(), token)
	if err != nil {
		return caller{}, err
	}
	return caller{tenantID: key.TenantID, scopes: key.Scopes}, nil
}

// fromJWT authenticates a token of the identity provider: its organisation
// is the tenant whose clerk_org_id it is, its role gives the scopes. A
// valid token whose organisation has no tenant, or whose role gives
// nothing, is refused with 403: the caller is known, and not let in.
func (a *authenticator) fromJWT(r *http.Request, token string) (caller, error) {
	ctx := r.Context()
	id, err := a.oidc.Verify(ctx, token)
	switch {
	case errors.Is(err, oidcauth.ErrUnavailable):
		return caller{}, &httpError{status: http.StatusServiceUnavailable, code: codeIdentityProviderUnavailable,
			detail: "the identity provider's keys cannot be fetched now; retry shortly", retryAfter: 5 * time.Second}
	case errors.Is(err, oidcauth.ErrNoOrganization):
		return caller{}, errorf(http.StatusForbidden, codeUnknownOrganization, "the token names no organisation")
	case errors.Is(err, oidcauth.ErrNoScopes):
		return caller{}, errorf(http.StatusForbidden, codeForbiddenScope, "the token's role in its organisation grants no scope")
	case err != nil:
		slog.DebugContext(ctx, "bearer token refused", "err", err)
		return caller{}, ragd.ErrUnauthorized
	}
	t, err := a.store.GetTenantByClerkOrg(ctx, id.OrgID)
	if errors.Is(err, ragd.ErrNotFound) {
		return caller{}, errorf(http.StatusForbidden, codeUnknownOrganization, "the token's organisation has no tenant in ragd")
	}
	if err != nil {
		return caller{}, err
	}
	return caller{tenantID: t.ID, scopes: id.Scopes}, nil
}

// fromSession authenticates a console session. A request that may change
// something must also come from the same site and carry the session's
// CSRF token, so that another site cannot ride on the cookie.
func (a *authenticator) fromSession(r *http.Request, token string) (caller, error) {
	s, err := a.store.Session(r.Context(), token)
	if err != nil {
		return caller{}, err
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		got := r.Header.Get(console.CSRFHeader)
		if console.CrossSite(r) || subtle.ConstantTimeCompare([]byte(got), []byte(s.CSRFToken)) != 1 {
			return caller{}, errorf(http.StatusForbidden, codeCSRFFailed, "a console session must send its CSRF token ("+console.CSRFHeader+") from the console's own site to change anything")
		}
	}
	return caller{tenantID: s.TenantID, scopes: s.Scopes, session: &s}, nil
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if scheme, token, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
		token = strings.TrimSpace(token)
		return token, token != ""
	}
	if _, pass, ok := r.BasicAuth(); ok && pass != "" {
		return pass, true
	}
	return "", false
}

// admin guards a route only the admin token may call.
func (a *authenticator) admin(h handler) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		c, err := a.authenticate(r)
		if err != nil {
			return err
		}
		if !c.admin {
			return errorf(http.StatusForbidden, codeForbiddenScope, "this route needs the admin token")
		}
		return h(w, r)
	}
}

// anyScope marks a tenant route any key of the tenant may call, whatever
// its scopes.
const anyScope agents.Scope = ""

// tenant guards a tenant-scoped route: a tenant key needs scope; the admin
// token names the tenant in the Ragd-Tenant header. A tenant that does not
// exist, or another tenant than the key's, is not found.
func (a *authenticator) tenant(scope agents.Scope, h tenantHandler) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		c, err := a.authenticate(r)
		if err != nil {
			return err
		}
		header := r.Header.Get(TenantHeader)
		var t tenantScope
		t.caller = c
		if c.admin {
			if header == "" {
				return &httpError{status: http.StatusBadRequest, code: codeValidationFailed, detail: "the admin token must name a tenant",
					fields: map[string]string{TenantHeader: "is required with the admin token on tenant routes"}}
			}
			id, err := uuid.Parse(header)
			if err != nil {
				return ragd.ErrNotFound
			}
			if _, err := a.store.GetTenant(r.Context(), id); err != nil {
				return err
			}
			t.TenantID = id
		} else {
			if header != "" && header != c.tenantID.String() {
				return ragd.ErrNotFound
			}
			if scope != anyScope && !c.has(scope) {
				return errorf(http.StatusForbidden, codeForbiddenScope, "these credentials lack the "+string(scope)+" scope")
			}
			t.TenantID = c.tenantID
		}
		setTenant(r.Context(), t.TenantID)
		return h(w, r, t)
	}
}

// serve adapts an error-returning handler to http.Handler.
func serve(log *slog.Logger, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
				return // the client went away; nobody is left to answer
			}
			writeError(w, r, log, err)
		}
	})
}

// adminUI guards a browser-facing admin page (the job dashboard): the
// admin token as a bearer token or as the password of HTTP basic auth, so
// a browser can sign in. Browsers send cached basic credentials on
// cross-site requests too, so requests that change state must come from
// the same site (Sec-Fetch-Site, or else Origin against Host).
func (a *authenticator) adminUI(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Only the admin token opens the dashboard: a console session's
		// cookie (sent here too, its path is /) must not stand in the way
		// of the browser's prompt for it.
		_, hasToken := bearer(r)
		c, err := a.authenticate(r)
		if !hasToken {
			err = ragd.ErrUnauthorized
		}
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Basic realm="ragd jobs", charset="UTF-8"`)
			http.Error(w, "the admin token is required (as the password)", http.StatusUnauthorized)
			return
		}
		if !c.admin {
			http.Error(w, "the admin token is required", http.StatusForbidden)
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if console.CrossSite(r) {
				http.Error(w, "cross-site requests may not change jobs", http.StatusForbidden)
				return
			}
		}
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}
