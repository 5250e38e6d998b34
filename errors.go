package ragd

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Sentinel errors. Domain packages wrap them with context (%w); callers test
// them with errors.Is.
var (
	// ErrNotFound: the object does not exist, or belongs to another tenant
	// (the two are indistinguishable on purpose).
	ErrNotFound = errors.New("not found")
	// ErrPreconditionFailed: an If-Match version is no longer current.
	ErrPreconditionFailed = errors.New("precondition failed")
	// ErrUnauthorized: no, an unknown, a revoked or an expired credential.
	ErrUnauthorized = errors.New("unauthorized")
)

// ValidationError lists what is wrong with an input, field by field. Field
// names are the JSON paths a client sent ("mcp_servers[0].url").
type ValidationError struct {
	Fields map[string]string
}

func (e *ValidationError) Error() string {
	keys := slices.Sorted(maps.Keys(e.Fields))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + e.Fields[k]
	}
	return "validation failed: " + strings.Join(parts, "; ")
}

// Problems collects field errors while validating. Its zero value is ready.
type Problems map[string]string

// Add records a problem with field unless one is already recorded for it.
func (p *Problems) Add(field, format string, args ...any) {
	if *p == nil {
		*p = Problems{}
	}
	if _, ok := (*p)[field]; !ok {
		(*p)[field] = fmt.Sprintf(format, args...)
	}
}

// Err returns a *ValidationError when problems were recorded, else nil.
func (p Problems) Err() error {
	if len(p) == 0 {
		return nil
	}
	return &ValidationError{Fields: p}
}

// ConflictError says that a unique field already has the given value.
type ConflictError struct {
	Field   string
	Message string
}

func (e *ConflictError) Error() string { return e.Message }

// QuotaError says that a tenant's quota does not allow the request.
type QuotaError struct {
	// Quota names it: "documents", "stored_bytes" or
	// "embedding_tokens_per_month".
	Quota       string
	Limit, Used int64
	// RetryAfter is when the quota resets (a monthly one); 0 when only
	// deleting something or a higher quota helps.
	RetryAfter time.Duration
}

func (e *QuotaError) Error() string {
	return fmt.Sprintf("the tenant's %s quota of %d is used up (%d used)", e.Quota, e.Limit, e.Used)
}
