package agents

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"golang.org/x/text/unicode/norm"

	"github.com/ragd/ragd"
)

// Tenant is a customer organisation; everything else belongs to one.
type Tenant struct {
	ID         uuid.UUID       `json:"id"`
	Name       string          `json:"name"`
	Slug       string          `json:"slug"`
	ClerkOrgID *string         `json:"clerk_org_id"`
	Settings   json.RawMessage `json:"settings"`
	// Quotas set for this tenant; a nil one takes the default from the
	// environment.
	Quotas    Quotas    `json:"quotas"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Quotas bound what a tenant may hold and spend. Nil takes the default;
// 0 allows nothing.
type Quotas struct {
	Documents   *int64 `json:"documents"`
	StoredBytes *int64 `json:"stored_bytes"`
	// EmbeddingTokensPerMonth: tokens billed by the embedding provider per
	// calendar month (UTC).
	EmbeddingTokensPerMonth *int64 `json:"embedding_tokens_per_month"`
}

// QuotasPatch changes quotas field by field; null returns one to the
// default.
type QuotasPatch struct {
	Documents               ragd.Optional[int64] `json:"documents"`
	StoredBytes             ragd.Optional[int64] `json:"stored_bytes"`
	EmbeddingTokensPerMonth ragd.Optional[int64] `json:"embedding_tokens_per_month"`
}

// TenantPatch creates (applied to an empty tenant) or changes a tenant.
// On create, a missing slug is derived from the name.
type TenantPatch struct {
	Name       ragd.Optional[string]          `json:"name"`
	Slug       ragd.Optional[string]          `json:"slug"`
	ClerkOrgID ragd.Optional[string]          `json:"clerk_org_id"`
	Settings   ragd.Optional[json.RawMessage] `json:"settings"`
	// Quotas merge field by field; null returns them all to the defaults.
	Quotas ragd.Optional[QuotasPatch] `json:"quotas"`
}

// Limits on tenant fields.
const (
	MaxNameLen       = 200
	MaxSettingsBytes = 64 << 10
)

var (
	slugRE     = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$`)
	clerkOrgRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
)

// apply returns t changed by p, validated.
func (p TenantPatch) apply(t Tenant, creating bool) (Tenant, error) {
	var probs ragd.Problems
	if p.Name.Set {
		t.Name = strings.TrimSpace(p.Name.Value)
	}
	checkName(&probs, "name", t.Name)

	switch {
	case p.Slug.Present():
		t.Slug = p.Slug.Value
	case p.Slug.Null && !creating:
		probs.Add("slug", "cannot be null")
	case creating:
		t.Slug = Slugify(t.Name, 64)
	}
	if !slugRE.MatchString(t.Slug) {
		probs.Add("slug", "must be 1 to 64 lowercase letters, digits and inner hyphens")
	}

	if p.ClerkOrgID.Null {
		t.ClerkOrgID = nil
	} else if p.ClerkOrgID.Set {
		v := p.ClerkOrgID.Value
		t.ClerkOrgID = &v
		if !clerkOrgRE.MatchString(v) {
			probs.Add("clerk_org_id", "must be 1 to 128 letters, digits, '_' or '-'")
		}
	}

	if p.Settings.Null || (creating && !p.Settings.Set) {
		t.Settings = json.RawMessage(`{}`)
	} else if p.Settings.Set {
		t.Settings = p.Settings.Value
		if len(t.Settings) > MaxSettingsBytes {
			probs.Add("settings", "must be at most %d bytes", MaxSettingsBytes)
		} else if !isJSONObject(t.Settings) {
			probs.Add("settings", "must be a JSON object")
		}
	}
	if p.Quotas.Null {
		t.Quotas = Quotas{}
	} else if p.Quotas.Set {
		q := p.Quotas.Value
		for _, f := range []struct {
			name string
			p    ragd.Optional[int64]
			dst  **int64
		}{
			{"quotas.documents", q.Documents, &t.Quotas.Documents},
			{"quotas.stored_bytes", q.StoredBytes, &t.Quotas.StoredBytes},
			{"quotas.embedding_tokens_per_month", q.EmbeddingTokensPerMonth, &t.Quotas.EmbeddingTokensPerMonth},
		} {
			switch {
			case f.p.Null:
				*f.dst = nil
			case f.p.Set && f.p.Value < 0:
				probs.Add(f.name, "must be at least 0 (0 allows nothing), or null for the default")
			case f.p.Set:
				v := f.p.Value
				*f.dst = &v
			}
		}
	}
	return t, probs.Err()
}

func checkName(probs *ragd.Problems, field, name string) {
	switch {
	case name == "":
		probs.Add(field, "is required")
	case utf8.RuneCountInString(name) > MaxNameLen:
		probs.Add(field, "must be at most %d characters", MaxNameLen)
	case strings.ContainsFunc(name, isControl):
		probs.Add(field, "must not contain control characters")
	}
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func isJSONObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{' && json.Valid(raw)
}

// Slugify turns a name into a slug of at most max characters: lowercase
// ASCII letters and digits (accents dropped), other runs as single hyphens.
// It may return "".
func Slugify(name string, max int) string {
	var b strings.Builder
	hyphen := false
	// NFD splits "é" into "e" and a combining accent, which is then dropped.
	for _, r := range norm.NFD.String(strings.ToLower(name)) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			if hyphen && b.Len() > 0 {
				b.WriteByte('-')
			}
			hyphen = false
			b.WriteRune(r)
		default:
			hyphen = true
		}
		if b.Len() >= max {
			break
		}
	}
	return strings.Trim(b.String()[:min(b.Len(), max)], "-")
}
