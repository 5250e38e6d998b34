package agents

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ragd/ragd"
)

// SessionPrefix starts every console session token (the cookie's value).
const SessionPrefix = "ragd_ss_"

// DefaultSessionTTL is how long a console session lasts when the caller
// gives no lifetime: a working day, then the person signs in again.
const DefaultSessionTTL = 12 * time.Hour

// Session is a person signed in to the console. Its token is never stored.
type Session struct {
	TenantID uuid.UUID
	// KeyID is the API key signed in with, nil for an OIDC sign-in. Such a
	// session ends when its key is revoked or expires, and has the key's
	// scopes of the moment.
	KeyID *uuid.UUID
	// OrgID is the organisation of an OIDC sign-in: the session ends when
	// the tenant is no longer mapped to it (its clerk_org_id changes).
	OrgID     *string
	Subject   string
	Scopes    []Scope
	CSRFToken string
	ExpiresAt time.Time
}

// Has reports whether the session carries scope s.
func (s Session) Has(sc Scope) bool { return slices.Contains(s.Scopes, sc) }

// CreateSession starts a session for in (TenantID, Subject, and Scopes or
// KeyID) lasting ttl (DefaultSessionTTL when zero) and returns its token,
// which the caller hands to the browser once. Expired sessions of every
// tenant are deleted on the way, so the table holds only live ones.
func (s *ControlPlane) CreateSession(ctx context.Context, in Session, ttl time.Duration) (string, Session, error) {
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	token := SessionPrefix + randomToken()
	in.CSRFToken = randomToken()
	scopes := make([]string, len(in.Scopes))
	for i, sc := range in.Scopes {
		scopes[i] = string(sc)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM console_sessions WHERE expires_at < now()`); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `
			INSERT INTO console_sessions (token_hash, tenant_id, api_key_id, org_id, subject, scopes, csrf_token, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, now() + $8::interval) RETURNING expires_at`,
			HashKey(token), in.TenantID, in.KeyID, in.OrgID, in.Subject, scopes, in.CSRFToken, ttl.String()).Scan(&in.ExpiresAt)
	})
	if err != nil {
		return "", Session{}, translate(err, "create session")
	}
	return token, in, nil
}

// Session returns the live session whose token is token. Unknown and
// expired sessions, sessions whose API key is revoked or expired, and OIDC
// sessions whose tenant is no longer mapped to their organisation, are
// ragd.ErrUnauthorized.
func (s *ControlPlane) Session(ctx context.Context, token string) (Session, error) {
	if !strings.HasPrefix(token, SessionPrefix) || len(token) > 128 {
		return Session{}, ragd.ErrUnauthorized
	}
	var out Session
	var scopes, keyScopes []string
	err := s.pool.QueryRow(ctx, `
		SELECT s.tenant_id, s.api_key_id, s.org_id, s.subject, s.scopes, k.scopes, s.csrf_token, s.expires_at
		FROM console_sessions s LEFT JOIN api_keys k ON k.id = s.api_key_id
		WHERE s.token_hash = $1 AND s.expires_at > now()
		  AND (s.api_key_id IS NULL OR (k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())))
		  AND (s.org_id IS NULL OR EXISTS (SELECT FROM tenants t WHERE t.id = s.tenant_id AND t.clerk_org_id = s.org_id))`,
		HashKey(token)).Scan(&out.TenantID, &out.KeyID, &out.OrgID, &out.Subject, &scopes, &keyScopes, &out.CSRFToken, &out.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, ragd.ErrUnauthorized
	}
	if err != nil {
		return Session{}, translate(err, "read session")
	}
	if out.KeyID != nil {
		scopes = keyScopes
	}
	for _, sc := range scopes {
		out.Scopes = append(out.Scopes, Scope(sc))
	}
	return out, nil
}

// DeleteSession ends the session whose token is token (signing out). An
// unknown token is not an error.
func (s *ControlPlane) DeleteSession(ctx context.Context, token string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM console_sessions WHERE token_hash = $1`, HashKey(token))
	return translate(err, "delete session")
}

// randomToken is 256 random bits, base64url-encoded.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}
