package search

import (
	"container/list"
	"context"
	"errors"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/embedder"
)

// DocumentInfo is what search needs to know of a document.
type DocumentInfo struct {
	Title string
	// WebURL is the page the document was fetched from (a website
	// source's; "" for an upload).
	WebURL string
	// Version is the content version whose points are complete.
	Version int
}

// Documents tells which documents search may show. ingest.Documents is one.
type Documents interface {
	// Searchable returns, of ids (all of tenantID), the documents that are
	// not being deleted and have a complete indexed version.
	Searchable(ctx context.Context, tenantID uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]DocumentInfo, error)
}

// SpaceDocuments is Documents that also reads the tenant's search space in
// the same lookup (ingest.Documents is one): the routed Searcher's check
// after the store query, that the tenant's space did not change, then
// costs no round trip of its own.
type SpaceDocuments interface {
	SearchableIn(ctx context.Context, tenantID uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]DocumentInfo, Space, error)
}

// Request limits.
const (
	DefaultTopK   = 8
	MaxTopK       = 100
	MaxQueryChars = 2000
)

// Request is a tenant's search.
type Request struct {
	Query  string
	TopK   int  // default DefaultTopK
	Mode   Mode // default hybrid
	Filter Filter
	// ScoreThreshold drops hits whose Relevance (the calibrated score, in
	// [0, 1], see Calibrated) is below it, in every mode and fusion; nil
	// takes the Searcher's default for the mode (DefaultThresholds), 0
	// keeps every hit.
	ScoreThreshold *float64
	// Fusion and Weights combine a hybrid search's arms; "" and nil take
	// the Searcher's defaults (DefaultFusing for its embedder). Weights
	// given alone apply to the default fusion, a fusion given alone gets
	// the default weights.
	Fusion  Fusion
	Weights *Weights
}

// Validate checks a request and fills its defaults.
func (r *Request) Validate() error {
	var probs ragd.Problems
	switch {
	case r.Query == "":
		probs.Add("query", "is required")
	case utf8.RuneCountInString(r.Query) > MaxQueryChars:
		probs.Add("query", "must be at most %d characters", MaxQueryChars)
	case !utf8.ValidString(r.Query):
		probs.Add("query", "must be UTF-8")
	}
	if r.TopK == 0 {
		r.TopK = DefaultTopK
	}
	if r.TopK < 1 || r.TopK > MaxTopK {
		probs.Add("top_k", "must be between 1 and %d", MaxTopK)
	}
	switch r.Mode {
	case "":
		r.Mode = ModeHybrid
	case ModeHybrid, ModeDense, ModeSparse:
	default:
		probs.Add("mode", "must be hybrid, dense or sparse")
	}
	if t := r.ScoreThreshold; t != nil && !(*t >= 0 && *t <= 1) {
		probs.Add("score_threshold", "must be between 0 and 1")
	}
	if r.Fusion != "" && !slices.Contains(Fusions, r.Fusion) {
		probs.Add("fusion", "must be rrf, dbsf, convex or calibrated")
	}
	if w := r.Weights; w != nil && (Fusing{Fusion: FusionRRF, Weights: *w}).Validate() != nil {
		probs.Add("weights", "dense and sparse must be between 0 and %d, not both 0", MaxWeight)
	}
	if len(r.Filter.DocumentIDs) > 1000 || len(r.Filter.TagsAny) > 64 || len(r.Filter.TagsAll) > 64 || len(r.Filter.Metadata) > 32 {
		probs.Add("filter", "has too many values")
	}
	for k, v := range r.Filter.Metadata {
		switch v.(type) {
		case string, bool, float64:
		default:
			probs.Add("filter.metadata."+k, "must be a string, a number or a boolean")
		}
	}
	return probs.Err()
}

// Found is a search result: a chunk and its score.
type Found struct {
	ChunkID       uuid.UUID
	DocumentID    uuid.UUID
	DocumentTitle string
	// DocumentWebURL is the page the document was fetched from ("" for
	// an upload).
	DocumentWebURL string
	// Score orders the hits (the mode's or the fusion's score); Relevance
	// is the calibrated score the threshold compares (equal to Score in
	// dense and sparse modes and with the calibrated fusion).
	Score       float32
	Relevance   float32
	Text        string
	PageStart   int
	PageEnd     int
	HeadingPath []string
	CharStart   int       // the chunk's offsets in the document's extracted text, in code points
	CharEnd     int       // (see Point)
	Sections    []Section // the parts of the chunk under each heading path; HeadingPath is their common prefix
	Tags        []string
	Metadata    map[string]any
	// Snippet is about SnippetChars runes of Text around the query's
	// words; Highlights are those words in Snippet, ChunkHighlights in
	// Text, in runes (see Snippet).
	Snippet                     string
	Highlights, ChunkHighlights []Span
}

// Result is a search's answer.
type Result struct {
	Hits []Found
	// Threshold is the Relevance a hit needed (the request's, or the
	// default for its mode); NoRelevantPassages says that none reached it
	// (or nothing matched at all): Hits is empty, and a chatbot should
	// answer that its documents do not say.
	Threshold          float64
	NoRelevantPassages bool
	Mode               Mode
	// Fusing is what combined a hybrid search's arms (zero otherwise).
	Fusing Fusing
	// Space is the embedding space searched.
	Space           Space
	EmbeddingTokens int
	// Time spent embedding the query, in the vector store, and looking the
	// documents up.
	EmbedTime, StoreTime, LookupTime time.Duration
}

// Router says which embedding space a tenant's searches use.
type Router interface {
	// SearchSpace returns tenantID's space (zero: the default).
	SearchSpace(ctx context.Context, tenantID uuid.UUID) (Space, error)
}

// Searcher answers tenants' searches: it embeds the query (through a small
// cache of each tenant's own queries) in the tenant's embedding space,
// asks that space's store, and keeps only hits of documents search may
// show, at the version that is completely indexed.
type Searcher struct {
	spaces     *Indexes
	router     Router // nil: every tenant is in the default space
	docs       Documents
	cache      *queryCache
	defaults   Fusing
	thresholds Thresholds
}

// NewSearcher returns a Searcher of one embedding space; cacheSize bounds
// the query-embedding cache (0: 1024 queries). Hybrid searches that name
// no fusion get DefaultFusing for emb.
func NewSearcher(emb embedder.Embedder, store VectorStore, docs Documents, cacheSize int) *Searcher {
	return NewRoutedSearcher(SingleIndex(emb, store), nil, docs, cacheSize)
}

// NewRoutedSearcher returns a Searcher that asks router, at each search,
// which of spaces the tenant's searches use: a migration's cut-over is
// one row in Postgres, seen by the next search.
func NewRoutedSearcher(spaces *Indexes, router Router, docs Documents, cacheSize int) *Searcher {
	if cacheSize <= 0 {
		cacheSize = 1024
	}
	return &Searcher{spaces: spaces, router: router, docs: docs, cache: newQueryCache(cacheSize),
		defaults:   DefaultFusing(spaces.Default().Embedder.Model() == embedder.LocalModel),
		thresholds: DefaultThresholds(spaces.Default().Embedder.Model() == embedder.LocalModel)}
}

// index returns the index tenantID's searches use.
func (s *Searcher) index(ctx context.Context, tenantID uuid.UUID) (Index, error) {
	if s.router == nil {
		return s.spaces.Default(), nil
	}
	sp, err := s.router.SearchSpace(ctx, tenantID)
	if err != nil {
		return Index{}, err
	}
	return s.spaces.Get(ctx, sp)
}

// Thresholds returns the thresholds searches get when they name none, in
// the default embedding space.
func (s *Searcher) Thresholds() Thresholds { return s.thresholds }

// DefaultsFor returns the fusion and thresholds tenantID's searches get
// when they name none: those of the embedder of the tenant's space.
func (s *Searcher) DefaultsFor(ctx context.Context, tenantID uuid.UUID) (Fusing, Thresholds, error) {
	idx, err := s.index(ctx, tenantID)
	if err != nil {
		return Fusing{}, Thresholds{}, err
	}
	f, th := s.defaultsOf(idx)
	return f, th, nil
}

// defaultsOf is the default fusion and thresholds for idx's embedder.
func (s *Searcher) defaultsOf(idx Index) (Fusing, Thresholds) {
	if idx.Space == s.spaces.Default().Space {
		return s.defaults, s.thresholds
	}
	local := idx.Embedder.Model() == embedder.LocalModel
	return DefaultFusing(local), DefaultThresholds(local)
}

// threshold is the request's threshold, or the default for its mode.
func threshold(r Request, defaults Thresholds) float64 {
	if r.ScoreThreshold != nil {
		return *r.ScoreThreshold
	}
	return defaults.For(r.Mode)
}

// fusing is the request's fusion with the defaults filled in.
func fusing(r Request, f Fusing) Fusing {
	if r.Fusion != "" {
		f.Fusion = r.Fusion
	}
	if r.Weights != nil {
		f.Weights = *r.Weights
	}
	return f
}

// Search runs a validated request for tenantID.
func (s *Searcher) Search(ctx context.Context, tenantID uuid.UUID, r Request) (Result, error) {
	res, err := s.search(ctx, tenantID, r)
	res.NoRelevantPassages = err == nil && len(res.Hits) == 0
	return res, err
}

func (s *Searcher) search(ctx context.Context, tenantID uuid.UUID, r Request) (Result, error) {
	res := Result{Mode: r.Mode, Hits: []Found{}}
	idx, err := s.index(ctx, tenantID)
	if err != nil {
		return res, err
	}
	defFusing, defThresholds := s.defaultsOf(idx)
	res.Space, res.Threshold = idx.Space, threshold(r, defThresholds)
	q := Query{Mode: r.Mode, TopK: overfetch(r.TopK), Filter: r.Filter}
	if r.Mode == ModeHybrid {
		q.Fusing = fusing(r, defFusing)
		res.Fusing = q.Fusing
	}
	if r.Mode != ModeDense {
		q.Sparse = QuerySparse(r.Query)
	}
	if r.Mode != ModeSparse {
		start := time.Now()
		v, tokens, err := s.embedQuery(ctx, idx.Embedder, tenantID, r.Query)
		if err != nil {
			return res, err
		}
		q.Dense, res.EmbeddingTokens, res.EmbedTime = v, tokens, time.Since(start)
	}
	if r.Mode == ModeSparse && len(q.Sparse.Indices) == 0 {
		return res, nil // only stop words: nothing can match
	}
	start := time.Now()
	hits, err := idx.Store.Query(ctx, tenantID, q)
	res.StoreTime = time.Since(start)
	if err != nil {
		return res, err
	}
	// A migration may have switched the tenant's space after it was read,
	// and the space left may be losing the tenant's points: that removal
	// starts only after the switch, so the space read again after the
	// store answered shows it, and the search runs again in the new one.
	sd, together := s.docs.(SpaceDocuments)
	if s.router != nil && (len(hits) == 0 || !together) {
		if again, err := s.index(ctx, tenantID); err != nil {
			return res, err
		} else if again.Space != idx.Space {
			return s.search(ctx, tenantID, r)
		}
	}
	if len(hits) == 0 {
		return res, nil
	}
	start = time.Now()
	ids := make([]uuid.UUID, 0, len(hits))
	seen := map[uuid.UUID]bool{}
	for _, h := range hits {
		if !seen[h.DocumentID] {
			seen[h.DocumentID] = true
			ids = append(ids, h.DocumentID)
		}
	}
	var docs map[uuid.UUID]DocumentInfo
	if s.router != nil && together {
		var sp Space
		docs, sp, err = sd.SearchableIn(ctx, tenantID, ids)
		if err == nil && sp.Or(s.spaces.Default().Space) != idx.Space {
			return s.search(ctx, tenantID, r)
		}
	} else {
		docs, err = s.docs.Searchable(ctx, tenantID, ids)
	}
	res.LookupTime = time.Since(start)
	if err != nil {
		return res, err
	}
	for _, h := range hits {
		d, ok := docs[h.DocumentID]
		if !ok || d.Version != h.ContentVersion || h.TenantID != tenantID || float64(h.Relevance) < res.Threshold {
			continue
		}
		res.Hits = append(res.Hits, Found{
			ChunkID: h.ID, DocumentID: h.DocumentID, DocumentTitle: d.Title, DocumentWebURL: d.WebURL, Score: h.Score, Relevance: h.Relevance, Text: h.Text,
			PageStart: h.PageStart, PageEnd: h.PageEnd, HeadingPath: h.HeadingPath, Tags: h.Tags, Metadata: h.Metadata,
			CharStart: h.CharStart, CharEnd: h.CharEnd, Sections: h.Sections,
		})
		if len(res.Hits) == r.TopK {
			break
		}
	}
	addSnippets(res.Hits, r.Query)
	return res, nil
}

// overfetch asks the store for more than wanted, so that hits dropped
// afterwards (a document being deleted, an older version during a
// reindex) rarely leave the answer short.
func overfetch(k int) int { return min(2*k+10, 250) }

// embedQuery embeds q for tenantID, answering from the tenant's own cached
// queries only: a hit shows (no tokens in the usage, a short embed time),
// so one tenant's query must never answer another's.
func (s *Searcher) embedQuery(ctx context.Context, emb embedder.Embedder, tenantID uuid.UUID, q string) ([]float32, int, error) {
	key := queryKey{tenant: tenantID, model: emb.Model(), dims: emb.Dimensions(), query: q}
	if v, ok := s.cache.get(key); ok {
		return v, 0, nil
	}
	out, err := emb.Embed(ctx, tenantID, []string{q})
	if err != nil {
		return nil, 0, err
	}
	if len(out.Vectors) != 1 {
		return nil, 0, errors.New("search: the embedder returned no vector")
	}
	s.cache.put(key, out.Vectors[0])
	return out.Vectors[0], out.Tokens, nil
}

// queryKey keys a cached query embedding: the tenant, then the model and
// dimensions that made it, then the query's text.
type queryKey struct {
	tenant uuid.UUID
	model  string
	dims   int
	query  string
}

// queryCache is a bounded LRU of query embeddings. Entries are keyed by
// tenant but share the capacity: one tenant's new queries can evict
// another's, which that tenant then pays to embed again.
type queryCache struct {
	mu    sync.Mutex
	max   int
	order *list.List
	items map[queryKey]*list.Element
}

type cacheEntry struct {
	key queryKey
	vec []float32
}

func newQueryCache(max int) *queryCache {
	return &queryCache{max: max, order: list.New(), items: map[queryKey]*list.Element{}}
}

func (c *queryCache) get(key queryKey) ([]float32, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*cacheEntry).vec, true
	}
	return nil, false
}

func (c *queryCache) put(key queryKey, vec []float32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.order.MoveToFront(e)
		return
	}
	c.items[key] = c.order.PushFront(&cacheEntry{key, vec})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*cacheEntry).key)
	}
}
