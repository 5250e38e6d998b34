package webhooks

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/evals"
	"github.com/ragd/ragd/ingest"
	"github.com/ragd/ragd/outbound"
	"github.com/ragd/ragd/sources"
)

// EventTypes are the events an endpoint may ask for. Each is recorded in
// the transaction of the change it reports, by the package that makes it.
var EventTypes = []string{ingest.EventDocumentReady, ingest.EventDocumentFailed, ingest.EventDocumentDeleted, evals.EventCompleted,
	sources.EventRunCompleted}

// Limits of an endpoint.
const (
	// MaxEndpoints is how many endpoints a tenant may register.
	MaxEndpoints = 10
	// MaxURLLength bounds an endpoint's URL, in bytes.
	MaxURLLength = 2048
	// MaxDescription bounds its description, in characters.
	MaxDescription = 500
	// ExcerptBytes bounds what is kept of a receiver's answer or of an
	// attempt's error.
	ExcerptBytes = 512
)

// SecretPrefix starts every signing secret, as Standard Webhooks has it.
const SecretPrefix = "whsec_"

// secretBytes is the size of a signing key: 256 bits.
const secretBytes = 32

// Endpoint is a URL a tenant's events are sent to. Its signing secret is
// never part of it: Create returns it once.
type Endpoint struct {
	ID          uuid.UUID `json:"id"`
	TenantID    uuid.UUID `json:"tenant_id"`
	URL         string    `json:"url"`
	Description string    `json:"description"`
	EventTypes  []string  `json:"event_types"`
	Enabled     bool      `json:"enabled"`
	// DisabledReason says why ragd disabled the endpoint (nil when it is
	// enabled, or a person disabled it).
	DisabledReason *string `json:"disabled_reason"`
	// FailingSince is the first failed attempt since the last delivered
	// one (nil: the last attempt succeeded, or there was none).
	FailingSince *time.Time `json:"failing_since"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
}

// Input registers an endpoint. Description is optional.
type Input struct {
	URL         string   `json:"url"`
	EventTypes  []string `json:"event_types"`
	Description string   `json:"description"`
}

// Patch changes an endpoint (a JSON merge patch). Enabling an endpoint
// clears why it was disabled and how long it has been failing.
type Patch struct {
	URL         ragd.Optional[string]   `json:"url"`
	EventTypes  ragd.Optional[[]string] `json:"event_types"`
	Description ragd.Optional[string]   `json:"description"`
	Enabled     ragd.Optional[bool]     `json:"enabled"`
}

// Delivery is an event's delivery to one endpoint, with its attempts.
type Delivery struct {
	ID         uuid.UUID `json:"id"`
	EndpointID uuid.UUID `json:"endpoint_id"`
	EventID    uuid.UUID `json:"event_id"`
	EventType  string    `json:"event_type"`
	SubjectID  uuid.UUID `json:"subject_id"`
	// Status is pending (to be sent, or sent again), delivered or failed
	// (attempts ran out, or the endpoint was disabled or deleted).
	Status        string     `json:"status"`
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	LastError     *string    `json:"last_error"`
	Attempts      []Attempt  `json:"attempts"`
	CreatedAt     time.Time  `json:"created_at"`
	DeliveredAt   *time.Time `json:"delivered_at"`
}

// Delivery statuses.
const (
	StatusPending   = "pending"
	StatusDelivered = "delivered"
	StatusFailed    = "failed"
)

// Attempt is one HTTP request of a delivery.
type Attempt struct {
	Attempt int `json:"attempt"`
	// StatusCode is the receiver's HTTP status (nil when none came: a
	// refused address, a timeout, a connection error).
	StatusCode *int   `json:"status_code"`
	LatencyMS  int    `json:"latency_ms"`
	Error      string `json:"error,omitempty"`
	// Response is the start of the receiver's answer, at most ExcerptBytes.
	Response  string    `json:"response,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// envelope is the body of every webhook, as Standard Webhooks suggests.
type envelope struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      any       `json:"data"`
}

// newSecret returns a fresh signing key and its display form.
func newSecret() ([]byte, string) {
	key := make([]byte, secretBytes)
	_, _ = rand.Read(key) // never fails (crypto/rand panics instead)
	return key, SecretPrefix + base64.StdEncoding.EncodeToString(key)
}

func (in Input) validate(cfg Config) (Input, error) {
	var probs ragd.Problems
	in.URL = strings.TrimSpace(in.URL)
	checkURL(&probs, cfg, in.URL)
	in.EventTypes = checkTypes(&probs, in.EventTypes)
	in.Description = strings.TrimSpace(in.Description)
	checkDescription(&probs, in.Description)
	return in, probs.Err()
}

func (p Patch) validate(cfg Config) (Patch, error) {
	var probs ragd.Problems
	if p.URL.Set {
		p.URL.Value = strings.TrimSpace(p.URL.Value)
		if p.URL.Null {
			probs.Add("url", "is required")
		} else {
			checkURL(&probs, cfg, p.URL.Value)
		}
	}
	if p.EventTypes.Set {
		p.EventTypes.Value = checkTypes(&probs, p.EventTypes.Value)
	}
	if p.Description.Set {
		p.Description.Value = strings.TrimSpace(p.Description.Value)
		checkDescription(&probs, p.Description.Value)
	}
	if p.Enabled.Null {
		probs.Add("enabled", "must be true or false")
	}
	return p, probs.Err()
}

func checkDescription(probs *ragd.Problems, s string) {
	if len([]rune(s)) > MaxDescription {
		probs.Add("description", "must be at most %d characters", MaxDescription)
	}
}

func checkTypes(probs *ragd.Problems, types []string) []string {
	if len(types) == 0 {
		probs.Add("event_types", "must name at least one of: %s", strings.Join(EventTypes, ", "))
		return types
	}
	for _, t := range types {
		if !slices.Contains(EventTypes, t) {
			probs.Add("event_types", "unknown event type %q; known: %s", t, strings.Join(EventTypes, ", "))
		}
	}
	out := slices.Clone(types)
	slices.Sort(out)
	return slices.Compact(out)
}

// checkURL refuses what could never be delivered to: a URL that does not
// parse, another scheme, http in production, credentials in the URL, a
// port outside 1 to 65535, and a host that is an address (in any spelling
// the system's resolver reads as one: outbound.CheckHost) or localhost, in a range
// refused unless cfg.AllowPrivate. Names are resolved only when sending,
// where the dialer checks every address.
func checkURL(probs *ragd.Problems, cfg Config, raw string) {
	if raw == "" {
		probs.Add("url", "is required")
		return
	}
	if len(raw) > MaxURLLength {
		probs.Add("url", "must be at most %d bytes", MaxURLLength)
		return
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		probs.Add("url", "must be an absolute http or https URL")
		return
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			probs.Add("url", "must have a port from 1 to 65535, or none")
			return
		}
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		probs.Add("url", "must be an http or https URL")
	case u.Scheme == "http" && cfg.RequireHTTPS:
		probs.Add("url", "must be https")
	case u.User != nil:
		probs.Add("url", "must not carry credentials; the signature authenticates ragd to the receiver")
	case u.Fragment != "":
		probs.Add("url", "must not have a fragment")
	}
	if cfg.AllowPrivate {
		return
	}
	if why := outbound.CheckHost(u.Hostname()); why != "" {
		probs.Add("url", "%s", why+allowPrivateHint)
	}
}

// allowPrivateHint ends a refusal of a non-public address: what a person
// developing a receiver on their own machine sets.
const allowPrivateHint = " (a development server started with RAGD_WEBHOOK_ALLOW_PRIVATE=true sends to them)"

// marshalEnvelope is the body of an event.
func marshalEnvelope(typ string, at time.Time, data any) ([]byte, error) {
	return json.Marshal(envelope{Type: typ, Timestamp: at.UTC(), Data: data})
}
