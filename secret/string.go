package secret

import (
	"encoding/json"
	"log/slog"
)

// String holds a secret in memory. Every way it can leave the process by
// accident (fmt, JSON, slog) shows it redacted; only Reveal gives the value.
type String string

// Reveal returns the secret in the clear, for sealing or for use.
func (s String) Reveal() string { return string(s) }

// String returns the redacted form (fmt's %v, %s, %q and %x use it).
func (s String) String() string { return Redact(string(s)) }

// GoString returns the redacted form for %#v.
func (s String) GoString() string { return Redact(string(s)) }

// LogValue implements slog.LogValuer.
func (s String) LogValue() slog.Value { return slog.StringValue(Redact(string(s))) }

// MarshalJSON writes the redacted form.
func (s String) MarshalJSON() ([]byte, error) { return json.Marshal(Redact(string(s))) }

// UnmarshalJSON reads a plain JSON string: clients send secrets in the clear.
func (s *String) UnmarshalJSON(b []byte) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = String(v)
	return nil
}
