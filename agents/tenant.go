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
	CreatedAt  time.Time       `json:"created_at"`
	UpdatedAt  time.Time       `json:"updated_at"`
}

// TenantPatch creates (applied to an empty tenant) or changes a tenant.
// On create, a missing slug is derived from the name.
type TenantPatch struct {
	Name       ragd.Optional[string]          `json:"name"`
	Slug       ragd.Optional[string]          `json:"slug"`
	ClerkOrgID ragd.Optional[string]          `json:"clerk_org_id"`
	Settings   ragd.Optional[json.RawMessage] `json:"settings"`
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
