package sources

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/ingest"
)

// Source types.
const (
	// TypeWebsite: a start page and the pages its links reach on the same
	// site, within include/exclude, max_depth and max_pages.
	TypeWebsite = "website"
	// TypeSitemap: the pages a sitemap (or sitemap index, gzipped or not)
	// lists; their links are not followed.
	TypeSitemap = "sitemap"
	// TypeURL: one page, or one file such as a PDF.
	TypeURL = "url"
)

// Schedules.
var schedules = map[string]time.Duration{"hourly": time.Hour, "daily": 24 * time.Hour, "weekly": 7 * 24 * time.Hour}

// Limits of a source.
const (
	DefaultMaxPages = 500
	MaxMaxPages     = 50000
	DefaultMaxDepth = 5
	MaxMaxDepth     = 20
	MaxPatterns     = 50
	MaxPatternLen   = 300
	// MaxSources is how many sources a tenant may have.
	MaxSources = 100
)

// Source is a website, sitemap or URL whose pages a tenant keeps as
// documents.
type Source struct {
	ID       uuid.UUID `json:"id"`
	TenantID uuid.UUID `json:"tenant_id"`
	Type     string    `json:"type"`
	URL      string    `json:"url"`
	Include  []string  `json:"include"`
	Exclude  []string  `json:"exclude"`
	MaxPages int       `json:"max_pages"`
	MaxDepth int       `json:"max_depth"`
	// Schedule is hourly, daily, weekly or nil (synced only when asked).
	Schedule *string  `json:"schedule"`
	Tags     []string `json:"tags"`
	// Status is active, or deleting (its documents are being deleted).
	Status    string     `json:"status"`
	NextRunAt *time.Time `json:"next_run_at"`
	// LastRun is the latest run (nil before the first).
	LastRun   *Run      `json:"last_run"`
	Pages     int       `json:"pages"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Input creates a source.
type Input struct {
	Type     string   `json:"type"`
	URL      string   `json:"url"`
	Include  []string `json:"include"`
	Exclude  []string `json:"exclude"`
	MaxPages int      `json:"max_pages"`
	MaxDepth *int     `json:"max_depth"`
	Schedule *string  `json:"schedule"`
	Tags     []string `json:"tags"`
}

// Patch changes a source (a JSON merge patch); its type and URL stay.
type Patch struct {
	Include  ragd.Optional[[]string] `json:"include"`
	Exclude  ragd.Optional[[]string] `json:"exclude"`
	MaxPages ragd.Optional[int]      `json:"max_pages"`
	MaxDepth ragd.Optional[int]      `json:"max_depth"`
	Schedule ragd.Optional[string]   `json:"schedule"`
	Tags     ragd.Optional[[]string] `json:"tags"`
}

// Run is one crawl of a source, with what it found.
type Run struct {
	ID        uuid.UUID  `json:"id"`
	SourceID  uuid.UUID  `json:"source_id"`
	Trigger   string     `json:"trigger"` // created, manual or schedule
	Status    string     `json:"status"`  // running, completed or failed
	StartedAt time.Time  `json:"started_at"`
	EndedAt   *time.Time `json:"ended_at"`
	Fetched   int        `json:"fetched"`
	New       int        `json:"new"`
	Changed   int        `json:"changed"`
	Unchanged int        `json:"unchanged"`
	Removed   int        `json:"removed"`
	Failed    int        `json:"failed"`
	// Truncated: the run stopped at max_pages.
	Truncated bool    `json:"truncated"`
	Error     *string `json:"error"`
	// Failures are the URLs that failed, with why (at most MaxFailuresShown).
	Failures []Failure `json:"failures"`
}

// Failure is a URL a run could not take, and why.
type Failure struct {
	URL    string `json:"url"`
	Reason string `json:"reason"`
}

// MaxFailuresShown bounds the failures a run lists.
const MaxFailuresShown = 100

// Run statuses.
const (
	RunRunning   = "running"
	RunCompleted = "completed"
	RunFailed    = "failed"
)

// EventRunCompleted is the webhook event of a run that ended.
const EventRunCompleted = "source.run.completed"

// validate checks and normalises in.
func (in Input) validate(allowPrivate bool) (Input, error) {
	var probs ragd.Problems
	switch in.Type {
	case TypeWebsite, TypeSitemap, TypeURL:
	case "":
		probs.Add("type", "is required: website, sitemap or url")
	default:
		probs.Add("type", "must be website, sitemap or url")
	}
	if n, err := checkSourceURL(in.URL, allowPrivate); err != "" {
		probs.Add("url", "%s", err)
	} else {
		in.URL = n
	}
	in.Include = checkPatterns(&probs, "include", in.Include)
	in.Exclude = checkPatterns(&probs, "exclude", in.Exclude)
	if in.MaxPages == 0 {
		in.MaxPages = DefaultMaxPages
	}
	if in.MaxPages < 1 || in.MaxPages > MaxMaxPages {
		probs.Add("max_pages", "must be from 1 to %d", MaxMaxPages)
	}
	if in.MaxDepth == nil {
		d := DefaultMaxDepth
		in.MaxDepth = &d
	}
	if *in.MaxDepth < 0 || *in.MaxDepth > MaxMaxDepth {
		probs.Add("max_depth", "must be from 0 to %d", MaxMaxDepth)
	}
	if in.Schedule != nil {
		checkSchedule(&probs, *in.Schedule)
	}
	in.Tags = checkTags(&probs, in.Tags)
	return in, probs.Err()
}

func (p Patch) validate() (Patch, error) {
	var probs ragd.Problems
	if p.Include.Set {
		p.Include.Value = checkPatterns(&probs, "include", p.Include.Value)
	}
	if p.Exclude.Set {
		p.Exclude.Value = checkPatterns(&probs, "exclude", p.Exclude.Value)
	}
	if p.MaxPages.Set && (p.MaxPages.Null || p.MaxPages.Value < 1 || p.MaxPages.Value > MaxMaxPages) {
		probs.Add("max_pages", "must be from 1 to %d", MaxMaxPages)
	}
	if p.MaxDepth.Set && (p.MaxDepth.Null || p.MaxDepth.Value < 0 || p.MaxDepth.Value > MaxMaxDepth) {
		probs.Add("max_depth", "must be from 0 to %d", MaxMaxDepth)
	}
	if p.Schedule.Present() {
		checkSchedule(&probs, p.Schedule.Value)
	}
	if p.Tags.Set {
		p.Tags.Value = checkTags(&probs, p.Tags.Value)
	}
	return p, probs.Err()
}

// checkSourceURL returns the normalised URL, or why it is refused.
func checkSourceURL(raw string, allowPrivate bool) (string, string) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", "is required"
	}
	u, err := url.Parse(raw)
	switch {
	case len(raw) > MaxURLLength:
		return "", fmt.Sprintf("must be at most %d bytes", MaxURLLength)
	case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
		return "", "must be an absolute http or https URL"
	case u.User != nil:
		return "", "must not carry credentials"
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", "must have a port from 1 to 65535, or none"
		}
	}
	if why := checkFetchable(u, allowPrivate); why != "" {
		return "", why + " (a development server started with RAGD_SOURCES_ALLOW_PRIVATE=true fetches from them)"
	}
	n, ok := Normalize(raw)
	if !ok {
		return "", "must be an absolute http or https URL"
	}
	return n, ""
}

func checkPatterns(probs *ragd.Problems, field string, ps []string) []string {
	if len(ps) > MaxPatterns {
		probs.Add(field, "at most %d patterns", MaxPatterns)
		return ps
	}
	out := make([]string, 0, len(ps))
	for i, p := range ps {
		p = strings.TrimSpace(p)
		if p == "" || len(p) > MaxPatternLen || !strings.HasPrefix(p, "/") || !utf8.ValidString(p) || strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			probs.Add(fmt.Sprintf("%s[%d]", field, i), "must be a URL path pattern starting with / (* matches any characters), at most %d bytes", MaxPatternLen)
			continue
		}
		out = append(out, p)
	}
	return out
}

func checkSchedule(probs *ragd.Problems, s string) {
	if _, ok := schedules[s]; !ok {
		probs.Add("schedule", "must be hourly, daily, weekly or null")
	}
}

// checkTags checks tags as an upload's are checked (they are given to
// every document of the source).
func checkTags(probs *ragd.Problems, tags []string) []string {
	u := ingest.Upload{Tags: tags}
	if err := u.Validate(); err != nil {
		if ve, ok := err.(*ragd.ValidationError); ok {
			for k, v := range ve.Fields {
				if strings.HasPrefix(k, "tags") {
					probs.Add(k, "%s", v)
				}
			}
		}
	}
	if u.Tags == nil {
		return []string{}
	}
	return u.Tags
}
