package spaces

import (
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/search"
)

// Migration moves a tenant's documents from one embedding space to
// another without a moment where search is empty or mixes the two.
type Migration struct {
	ID             uuid.UUID
	TenantID       uuid.UUID
	From, To       search.Space
	State          State
	RollbackWindow time.Duration
	Estimate       Estimate
	// Progress of the build's pass over the documents.
	DoneDocuments, DoneChunks int
	EmbeddingTokens           int64
	CacheHits                 int
	Error                     *string
	CreatedBy                 string
	CreatedAt, UpdatedAt      time.Time
	CutOverAt, RetireAfter    *time.Time
	FinishedAt                *time.Time
	// DryRun: what Create would start, not started (nothing is stored).
	DryRun bool

	cursor  *uuid.UUID
	scanned bool
}

// SearchUses is the space the tenant's searches use while the migration
// is in its state.
func (m Migration) SearchUses() search.Space {
	if m.State == Active || m.State == Completed {
		return m.To
	}
	return m.From
}

// other is the space of a live migration that search does not use: the
// target while building, the source once active.
func (m Migration) other() search.Space {
	if m.State == Building {
		return m.To
	}
	return m.From
}

// Fraction is how far the migration is, from 0 to 1: while building, the
// chunks embedded of those estimated (at most 0.99: the cut-over is the
// rest); 1 once cut over, or when there was nothing to embed.
func (m Migration) Fraction() float64 {
	switch {
	case m.State == Building && m.Estimate.Chunks > 0:
		return min(0.99, float64(m.DoneChunks)/float64(m.Estimate.Chunks))
	case m.State != Building && m.CutOverAt != nil, m.State == Building && m.Estimate.Documents == 0:
		return 1
	}
	return 0
}

// underWay is the conflict a second migration of the tenant meets.
func (m Migration) underWay() error {
	return &ragd.ConflictError{Field: "migration", Message: fmt.Sprintf("migration %s of this tenant is %s; cancel, roll it back or complete it first", m.ID, m.State)}
}

// Estimate is what re-embedding a tenant's searchable documents takes: an
// upper bound, since texts the tenant already embedded with the target
// model are answered by the cache.
type Estimate struct {
	Documents, Chunks int
	Tokens            int64
	// CostUSD is Tokens at the model's price (nil: no price known).
	CostUSD *float64
}

// Rollback windows: how long after the cut-over the source's index is
// kept for a rollback.
const (
	DefaultRollbackWindow = 72 * time.Hour
	MaxRollbackWindow     = 30 * 24 * time.Hour
)

// Request asks for a tenant's move to another embedding space.
type Request struct {
	Model      string
	Dimensions int
	// RollbackWindowSeconds (nil: DefaultRollbackWindow; 0: the source's
	// points go at the cut-over).
	RollbackWindowSeconds *int64
	// DryRun says what the migration would take without starting it.
	DryRun bool
	// Admin: the platform admin asks, who may choose any space the
	// provider serves; a tenant may choose only the spaces offered.
	Admin bool
	// By is who asked, as the migration records it.
	By string
}

// validate trims and checks the request, and returns the target space
// and the rollback window. Field names are the API's.
func (r *Request) validate() (search.Space, time.Duration, error) {
	var probs ragd.Problems
	r.Model = strings.TrimSpace(r.Model)
	switch {
	case r.Model == "":
		probs.Add("model", "is required")
	case len(r.Model) > 200 || strings.IndexFunc(r.Model, func(r rune) bool { return !unicode.IsPrint(r) || r == ' ' }) >= 0:
		probs.Add("model", "must be a model name: at most 200 printable characters without spaces")
	}
	if r.Dimensions < 8 || r.Dimensions > 16384 {
		probs.Add("dimensions", "must be between 8 and 16384")
	}
	window := DefaultRollbackWindow
	if s := r.RollbackWindowSeconds; s != nil {
		if max := int64(MaxRollbackWindow / time.Second); *s < 0 || *s > max {
			probs.Add("rollback_window_seconds", "must be between 0 and %d (30 days)", max)
		} else {
			window = time.Duration(*s) * time.Second
		}
	}
	return search.Space{Model: r.Model, Dimensions: r.Dimensions}, window, probs.Err()
}
