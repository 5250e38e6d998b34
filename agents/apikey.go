package agents

import (
	"crypto/sha256"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ragd/ragd"
)

// Scope is a permission an API key carries.
type Scope string

// The scopes. A new key gets DefaultScopes unless it asks for others.
const (
	ScopeAgentsRead     Scope = "agents:read"
	ScopeAgentsWrite    Scope = "agents:write"
	ScopeDocumentsRead  Scope = "documents:read"
	ScopeDocumentsWrite Scope = "documents:write"
	ScopeSearch         Scope = "search"
	ScopeKeysWrite      Scope = "keys:write"
	ScopeWebhooksWrite  Scope = "webhooks:write"
	// ScopeEmbeddingsWrite lets a tenant move itself to another embedding
	// model, among those the operator offers (RAGD_EMBEDDING_MODELS).
	ScopeEmbeddingsWrite Scope = "embeddings:write"
	// ScopeSourcesWrite lets a key add, change, sync and delete website
	// sources, which make ragd fetch from the web on the tenant's behalf
	// (reading them takes documents:read).
	ScopeSourcesWrite Scope = "sources:write"
)

// AllScopes lists every scope, in a stable order.
var AllScopes = []Scope{ScopeAgentsRead, ScopeAgentsWrite, ScopeDocumentsRead, ScopeDocumentsWrite, ScopeSearch, ScopeKeysWrite, ScopeWebhooksWrite, ScopeEmbeddingsWrite, ScopeSourcesWrite}

// DefaultScopes are given to a key created without scopes: all but
// keys:write, webhooks:write, embeddings:write and sources:write, so that
// a leaked key can neither mint more keys, nor send the tenant's events
// somewhere new, nor start re-embedding everything, nor make ragd crawl
// the web.
var DefaultScopes = []Scope{ScopeAgentsRead, ScopeAgentsWrite, ScopeDocumentsRead, ScopeDocumentsWrite, ScopeSearch}

// KeyPrefix starts every API key, so that people and secret scanners
// recognise one.
const KeyPrefix = "ragd_sk_"

// displayLen is how much of a key is kept for display: the prefix and four
// characters of the random part (24 of its 256 bits).
const displayLen = len(KeyPrefix) + 4

// LastUsedGranularity bounds how stale last_used_at may be: a key's
// last_used_at is written at most once per this period, not on every request.
const LastUsedGranularity = time.Minute

// APIKey is a key's record; the key itself is never stored.
type APIKey struct {
	ID         uuid.UUID  `json:"id"`
	TenantID   uuid.UUID  `json:"tenant_id"`
	Name       string     `json:"name"`
	Display    string     `json:"display"`
	Scopes     []Scope    `json:"scopes"`
	ExpiresAt  *time.Time `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	CreatedAt  time.Time  `json:"created_at"`
}

// Has reports whether the key carries scope s.
func (k APIKey) Has(s Scope) bool { return slices.Contains(k.Scopes, s) }

// KeyInput describes a key to create.
type KeyInput struct {
	Name      string     `json:"name"`
	Scopes    []Scope    `json:"scopes"`
	ExpiresAt *time.Time `json:"expires_at"`
}

func (in KeyInput) validate(now time.Time) (KeyInput, error) {
	var probs ragd.Problems
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" {
		in.Name = "default"
	}
	checkName(&probs, "name", in.Name)
	if in.Scopes == nil {
		in.Scopes = slices.Clone(DefaultScopes)
	}
	if len(in.Scopes) == 0 {
		probs.Add("scopes", "must name at least one scope (or be omitted for the defaults)")
	}
	for _, s := range in.Scopes {
		if !slices.Contains(AllScopes, s) {
			probs.Add("scopes", "unknown scope %q; known: %s", s, joinScopes(AllScopes))
		}
	}
	slices.Sort(in.Scopes)
	in.Scopes = slices.Compact(in.Scopes)
	if in.ExpiresAt != nil && !in.ExpiresAt.After(now) {
		probs.Add("expires_at", "must be in the future")
	}
	return in, probs.Err()
}

func joinScopes(ss []Scope) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return strings.Join(out, ", ")
}

// newKeySecret returns a fresh key: the prefix and 256 random bits.
func newKeySecret() string { return KeyPrefix + randomToken() }

// HashKey returns the SHA-256 under which a key is stored. A fast hash is
// right here: the key has 256 random bits, so there is nothing to brute-force.
func HashKey(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}
