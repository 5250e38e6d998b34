// Package embedder turns texts into dense vectors: an OpenAI (or any
// OpenAI-compatible server) embedder built on go-openai, with batching to
// the provider's limits, bounded concurrency, and retries with jittered
// backoff that honour the provider's Retry-After (a wait longer than the
// embedder's own comes back at once, for the job to snooze); a local,
// deterministic hashing embedder for machines without an API key; and a
// Postgres cache keyed by (tenant, model, dimensions, SHA-256 of the text)
// so a tenant never pays twice for the same text, and never learns from
// the cost or the speed of an embedding whether another tenant holds it.
// Failures are an *Error whose Kind says whether retrying can help.
package embedder

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Embedder embeds texts. Implementations are safe for concurrent use.
//
// Embed takes the tenant on whose behalf it embeds, as every store method
// of tenant data takes its tenant: an implementation that keeps anything
// between calls (Cached) must keep it per tenant, because what a cached
// answer saves (tokens, requests, time) shows in what the tenant sees, and
// must not depend on another tenant's texts. The providers keep nothing and
// ignore it. A parameter rather than a tenant-scoped view or a context
// value, so that no caller can embed without naming the tenant: the
// compiler finds every call site.
type Embedder interface {
	// Model names the model; with Dimensions it keys cached vectors.
	Model() string
	// Dimensions is the length of every vector Embed returns.
	Dimensions() int
	// Embed returns one vector per text, in input order, for tenantID.
	// Texts must not be empty.
	Embed(ctx context.Context, tenantID uuid.UUID, texts []string) (Result, error)
}

// Result is what one Embed call produced.
type Result struct {
	Vectors [][]float32
	// Tokens the provider billed (0 for the local embedder).
	Tokens int
	// Requests made to the provider, retries included.
	Requests int
	// CacheHits: texts answered from the cache without a request.
	CacheHits int
}

// Kind classifies an embedding failure.
type Kind string

// Failure kinds. Auth, Model, BadRequest and Dimensions are permanent:
// retrying cannot help until the configuration changes.
const (
	KindAuth       Kind = "auth"
	KindModel      Kind = "model"
	KindBadRequest Kind = "bad_request"
	KindDimensions Kind = "dimensions"
	KindRateLimit  Kind = "rate_limit"
	KindServer     Kind = "server"
	KindTimeout    Kind = "timeout"
	KindNetwork    Kind = "network"
)

// Error is an embedding failure that names its cause.
type Error struct {
	Kind    Kind
	Status  int           // HTTP status, 0 when there was no response
	Message string        // for people: what is wrong and what to change
	Retry   time.Duration // how long the provider asked us to wait (Retry-After on a 429 or 5xx), or 0
	Err     error
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("embedding %s: %s", e.Kind, e.Message)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Permanent reports whether retrying the same request cannot succeed.
func (e *Error) Permanent() bool {
	switch e.Kind {
	case KindAuth, KindModel, KindBadRequest, KindDimensions:
		return true
	}
	return false
}

// AsError returns the *Error in err's chain.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
