package search

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/ragd/ragd/chunker"
)

// Point is one chunk in the vector store. Its id is the chunk's id,
// deterministic per (document, content version, index), so writing the
// same chunk twice overwrites it.
type Point struct {
	ID             uuid.UUID      `json:"id"`
	TenantID       uuid.UUID      `json:"tenant_id"`
	DocumentID     uuid.UUID      `json:"document_id"`
	ContentVersion int            `json:"content_version"`
	Index          int            `json:"index"`
	Dense          []float32      `json:"dense,omitempty"`
	Sparse         SparseVector   `json:"sparse"`
	Title          string         `json:"title"`
	Text           string         `json:"text"`
	Tags           []string       `json:"tags"`
	Metadata       map[string]any `json:"metadata"`
	HeadingPath    []string       `json:"heading_path"`
	PageStart      int            `json:"page_start"`
	PageEnd        int            `json:"page_end"`
	// CharStart and CharEnd are the chunk's offsets in the document's
	// extracted text, in Unicode code points (0, 0 in points written
	// before they were recorded).
	CharStart int `json:"char_start"`
	CharEnd   int `json:"char_end"`
	// Sections are the parts of the chunk under each heading path
	// (chunker.Chunk.Sections); HeadingPath is their common prefix.
	Sections []Section `json:"sections,omitempty"`
}

// Section is the part of a chunk under one heading path: code points
// [CharStart, CharEnd) of the document's extracted text.
type Section struct {
	HeadingPath []string `json:"heading_path"`
	CharStart   int      `json:"char_start"`
	CharEnd     int      `json:"char_end"`
	// PageStart and PageEnd: the pages (slides) the part is on; absent
	// for a document without pages, and for chunks stored before they
	// were recorded (until a reindex).
	PageStart int `json:"page_start,omitempty"`
	PageEnd   int `json:"page_end,omitempty"`
}

// SectionsOf converts a chunk's sections (nil for none).
func SectionsOf(cs []chunker.ChunkSection) []Section {
	if len(cs) == 0 {
		return nil
	}
	out := make([]Section, len(cs))
	for i, c := range cs {
		path := c.HeadingPath
		if path == nil {
			path = []string{}
		}
		out[i] = Section{HeadingPath: path, CharStart: c.CharStart, CharEnd: c.CharEnd, PageStart: c.PageStart, PageEnd: c.PageEnd}
	}
	return out
}

// Filter narrows a query or a count; empty fields do not filter and all
// given fields must hold. The tenant is not part of it: every Store
// method takes the tenant id on its own, and no query runs without it.
type Filter struct {
	DocumentIDs []uuid.UUID
	TagsAny     []string
	TagsAll     []string
	// Metadata values must equal (strings, numbers, booleans).
	Metadata map[string]any
}

// Versions selects content versions of a document: all of them (the zero
// value), those older than Below, or exactly Only. Cleaning up after
// indexing version n removes Below n, never "all but n": a run for an
// older version that finishes late must not remove a newer one's points.
type Versions struct {
	Below, Only int
}

// AllVersions selects every version of a document.
var AllVersions = Versions{}

func (v Versions) match(version int) bool {
	switch {
	case v.Only != 0:
		return version == v.Only
	case v.Below != 0:
		return version < v.Below
	}
	return true
}

// Mode is the kind of retrieval.
type Mode string

// Retrieval modes. Scores: dense is cosine similarity (−1 to 1); sparse is
// BM25 (IDF × saturated term frequency, summed over query terms, ≥ 0);
// hybrid fuses a dense and a sparse prefetch of PrefetchLimit candidates
// each by the query's Fusing (see Fusion for each fusion's scores).
const (
	ModeDense  Mode = "dense"
	ModeSparse Mode = "sparse"
	ModeHybrid Mode = "hybrid"
)

// RRFK is the rank constant of Reciprocal Rank Fusion: Qdrant's default.
const RRFK = 2

// PrefetchLimit is how many candidates each branch of a hybrid query
// fetches before fusion.
func PrefetchLimit(topK int) int { return max(4*topK, 50) }

// Query asks for the TopK points nearest to a dense vector, a sparse
// vector, or both fused.
type Query struct {
	Mode   Mode
	Dense  []float32
	Sparse SparseVector
	TopK   int
	Filter Filter
	// Fusing combines the arms of a hybrid query; the zero value is RRF
	// with equal weights.
	Fusing Fusing
}

// Hit is a point (without its vectors) and its score.
type Hit struct {
	Point
	// Score orders a query's hits: the mode's score, or the fusion's.
	Score float32
	// Relevance is the hit's calibrated score, in [0, 1] with the same
	// meaning for every query (see Calibrated): what a threshold compares,
	// in every mode and fusion.
	Relevance float32
}

// VectorStore keeps points for all tenants. Every method takes the tenant id and
// touches only that tenant's points.
type VectorStore interface {
	// EnsureSchema prepares the store for dense vectors of dims
	// dimensions; it fails when the store already holds another size.
	EnsureSchema(ctx context.Context, dims int) error
	// Upsert writes points (all of tenantID); it returns once they are
	// durable.
	Upsert(ctx context.Context, tenantID uuid.UUID, points []Point) error
	// DeleteDocument removes the document's points of the content
	// versions v selects.
	DeleteDocument(ctx context.Context, tenantID, documentID uuid.UUID, v Versions) error
	// DeleteTenant removes all of a tenant's points.
	DeleteTenant(ctx context.Context, tenantID uuid.UUID) error
	// Query returns up to q.TopK hits, best first.
	Query(ctx context.Context, tenantID uuid.UUID, q Query) ([]Hit, error)
	// Count returns how many of the tenant's points match f.
	Count(ctx context.Context, tenantID uuid.UUID, f Filter) (int, error)
	// Close releases the store.
	Close() error
}

// RateLimitError says the vector store asked to be called again later.
type RateLimitError struct {
	RetryAfter time.Duration
	Err        error
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", e.Err, e.RetryAfter)
}

func (e *RateLimitError) Unwrap() error { return e.Err }

// ErrDimensions is returned when vectors or a schema do not match the
// store's dimensions.
var ErrDimensions = errors.New("vector dimensions do not match the store")

// ErrInUse is returned by OpenEmbedded when another process has the
// directory open.
var ErrInUse = errors.New("open in another process")

// validate checks points and query arguments common to all stores.
func validatePoints(tenantID uuid.UUID, dims int, points []Point) error {
	for i, p := range points {
		if p.TenantID != tenantID {
			return fmt.Errorf("point %d belongs to tenant %s, not %s", i, p.TenantID, tenantID)
		}
		if len(p.Dense) != dims {
			return fmt.Errorf("point %d: %w: %d, the store has %d", i, ErrDimensions, len(p.Dense), dims)
		}
		if len(p.Sparse.Indices) != len(p.Sparse.Values) {
			return fmt.Errorf("point %d: sparse vector has %d indices and %d values", i, len(p.Sparse.Indices), len(p.Sparse.Values))
		}
	}
	return nil
}

func validateQuery(q Query, dims int) error {
	if q.TopK < 1 {
		return errors.New("top_k must be at least 1")
	}
	switch q.Mode {
	case ModeDense, ModeHybrid:
		if len(q.Dense) != dims {
			return fmt.Errorf("query: %w: %d, the store has %d", ErrDimensions, len(q.Dense), dims)
		}
	case ModeSparse:
	default:
		return fmt.Errorf("unknown mode %q", q.Mode)
	}
	return nil
}

// matches reports whether p passes f.
func (f Filter) matches(p *Point) bool {
	if len(f.DocumentIDs) > 0 && !slices.Contains(f.DocumentIDs, p.DocumentID) {
		return false
	}
	if len(f.TagsAny) > 0 && !slices.ContainsFunc(f.TagsAny, func(t string) bool { return slices.Contains(p.Tags, t) }) {
		return false
	}
	for _, t := range f.TagsAll {
		if !slices.Contains(p.Tags, t) {
			return false
		}
	}
	for k, want := range f.Metadata {
		got, ok := p.Metadata[k]
		if !ok || !sameValue(got, want) {
			return false
		}
	}
	return true
}

// sameValue compares JSON scalars, numbers by value whatever their Go type.
func sameValue(a, b any) bool {
	fa, aNum := toFloat(a)
	fb, bNum := toFloat(b)
	if aNum || bNum {
		return aNum && bNum && fa == fb
	}
	return a == b
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	}
	return 0, false
}
