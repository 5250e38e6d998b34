package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/embedder"
	"github.com/ragd/ragd/ingest"
	"github.com/ragd/ragd/metrics"
	"github.com/ragd/ragd/search"
	"github.com/ragd/ragd/usage"
)

type searchFilter struct {
	DocumentIDs []string       `json:"document_ids"`
	TagsAny     []string       `json:"tags_any"`
	TagsAll     []string       `json:"tags_all"`
	Metadata    map[string]any `json:"metadata"`
}

type searchRequest struct {
	Query          string                 `json:"query"`
	TopK           ragd.Optional[int]     `json:"top_k"`
	Mode           ragd.Optional[string]  `json:"mode"`
	Filter         *searchFilter          `json:"filter"`
	ScoreThreshold ragd.Optional[float64] `json:"score_threshold"`
	Fusion         ragd.Optional[string]  `json:"fusion"`
	Weights        *search.Weights        `json:"weights"`
}

type searchHit struct {
	ChunkID       uuid.UUID `json:"chunk_id"`
	DocumentID    uuid.UUID `json:"document_id"`
	DocumentTitle string    `json:"document_title"`
	// Score orders the hits; Relevance is the calibrated score in [0, 1]
	// that the threshold compares (equal to Score but in rrf, dbsf and
	// convex fusions).
	Score       float32        `json:"score"`
	Relevance   float32        `json:"relevance"`
	Text        string         `json:"text"`
	PageStart   *int           `json:"page_start"`
	PageEnd     *int           `json:"page_end"`
	HeadingPath []string       `json:"heading_path"`
	Tags        []string       `json:"tags"`
	Metadata    map[string]any `json:"metadata"`
	// Snippet is about 200 characters of Text around the query's words,
	// "…" where cut; Highlights are the query's words in Snippet and
	// ChunkHighlights in Text, as [start, end) offsets in Unicode code
	// points (search.Snippet).
	Snippet         string        `json:"snippet"`
	Highlights      []search.Span `json:"highlights"`
	ChunkHighlights []search.Span `json:"chunk_highlights"`
	// SourceURL opens the original file (GET /v1/documents/{id}/content,
	// which needs the same credentials), at the hit's page for a PDF.
	SourceURL string `json:"source_url"`
	// WebURL is the page on the web the document was fetched from (a
	// website source's document; null for an upload): what a chatbot
	// links its citation to.
	WebURL *string `json:"web_url"`
	// CharStart and CharEnd place Text in the document's extracted text,
	// in Unicode code points (null for chunks indexed before they were
	// recorded); Sections are the parts of Text under each heading path,
	// in order (HeadingPath is their common prefix).
	CharStart *int             `json:"char_start"`
	CharEnd   *int             `json:"char_end"`
	Sections  []search.Section `json:"sections"`
}

type searchResponse struct {
	Data []searchHit `json:"data"`
	// NoRelevantPassages: nothing reached ScoreThreshold (data is empty),
	// so the tenant's documents do not answer the query.
	NoRelevantPassages bool    `json:"no_relevant_passages"`
	ScoreThreshold     float64 `json:"score_threshold"`
	Usage              struct {
		EmbeddingTokens int `json:"embedding_tokens"`
	} `json:"usage"`
	Mode search.Mode `json:"mode"`
	// Fusion is what combined a hybrid search's arms (absent otherwise).
	Fusion *search.Fusing `json:"fusion,omitempty"`
	// EmbeddingSpace is the model and dimensions of the index searched:
	// the tenant's, which an embedding migration switches in one step.
	EmbeddingSpace search.Space `json:"embedding_space"`
}

// toRequest turns the body into a search request, the agent's retrieval
// settings (when given) filling what the body leaves out.
func (b searchRequest) toRequest(defaults *agents.Retrieval) (search.Request, error) {
	r := search.Request{Query: b.Query}
	if defaults != nil {
		r.TopK, r.Mode, r.ScoreThreshold = defaults.TopK, search.Mode(defaults.Mode), defaults.ScoreThreshold
		r.Filter.TagsAny = defaults.Tags
		r.Fusion = search.Fusion(defaults.Fusion)
		if w := defaults.Weights; w != nil {
			r.Weights = &search.Weights{Dense: w.Dense, Sparse: w.Sparse}
		}
	}
	var probs ragd.Problems
	if b.TopK.Present() {
		r.TopK = b.TopK.Value
		if r.TopK < 1 {
			probs.Add("top_k", "must be between 1 and %d", search.MaxTopK)
		}
	}
	if b.Mode.Present() {
		r.Mode = search.Mode(b.Mode.Value)
	}
	if b.ScoreThreshold.Null {
		r.ScoreThreshold = nil // the server's default, whatever the agent says
	} else if b.ScoreThreshold.Set {
		t := b.ScoreThreshold.Value
		r.ScoreThreshold = &t
	}
	if b.Fusion.Present() {
		r.Fusion = search.Fusion(b.Fusion.Value)
	}
	if b.Weights != nil {
		r.Weights = b.Weights
	}
	if f := b.Filter; f != nil {
		for i, s := range f.DocumentIDs {
			id, err := uuid.Parse(s)
			if err != nil {
				probs.Add(fmt.Sprintf("filter.document_ids[%d]", i), "is not a document id")
			}
			r.Filter.DocumentIDs = append(r.Filter.DocumentIDs, id)
		}
		if f.TagsAny != nil {
			r.Filter.TagsAny = f.TagsAny
		}
		r.Filter.TagsAll, r.Filter.Metadata = f.TagsAll, f.Metadata
	}
	if err := probs.Err(); err != nil {
		return r, err
	}
	return r, r.Validate()
}

func handleSearch(s *search.Searcher, m *metrics.Metrics, docs *ingest.Documents) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		var body searchRequest
		if err := decode(w, r, &body); err != nil {
			return err
		}
		req, err := body.toRequest(nil)
		if err != nil {
			return err
		}
		return runSearch(w, r, s, m, docs, t, req)
	}
}

func handleAgentSearch(store *agents.ControlPlane, s *search.Searcher, m *metrics.Metrics, docs *ingest.Documents) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		a, err := store.GetAgent(r.Context(), t.TenantID, r.PathValue("agent_id"))
		if err != nil {
			return err
		}
		if !a.Retrieval.Enabled {
			return errorf(http.StatusConflict, codeRetrievalDisabled, "retrieval is disabled for agent "+a.ID)
		}
		var body searchRequest
		if err := decode(w, r, &body); err != nil {
			return err
		}
		req, err := body.toRequest(&a.Retrieval)
		if err != nil {
			return err
		}
		return runSearch(w, r, s, m, docs, t, req)
	}
}

func runSearch(w http.ResponseWriter, r *http.Request, s *search.Searcher, m *metrics.Metrics, docs *ingest.Documents, t tenantScope, req search.Request) error {
	// A query embedding bills the monthly token quota: once it is spent,
	// dense and hybrid searches are refused (429, Retry-After: the month's
	// end); sparse ones embed nothing and go on.
	if req.Mode != search.ModeSparse {
		if err := docs.QueryTokensLeft(r.Context(), t.TenantID); err != nil {
			return err
		}
	}
	start := time.Now()
	res, err := s.Search(r.Context(), t.TenantID, req)
	m.Search(string(req.Mode), time.Since(start))
	if uerr := docs.AddUsage(r.Context(), t.TenantID, res.EmbeddingTokens, 1); uerr != nil && err == nil {
		return uerr
	}
	if err != nil {
		if e, ok := embedder.AsError(err); ok {
			m.EmbeddingError(string(e.Kind))
			return errorf(http.StatusBadGateway, codeEmbeddingUnavailable, "the query could not be embedded: "+e.Message)
		}
		if errors.Is(err, search.ErrDimensions) {
			return err // a configuration error: a 500, logged
		}
		return err
	}
	out := searchResponse{Data: make([]searchHit, len(res.Hits)), Mode: res.Mode, EmbeddingSpace: res.Space,
		NoRelevantPassages: res.NoRelevantPassages, ScoreThreshold: res.Threshold}
	if res.Mode == search.ModeHybrid {
		out.Fusion = &res.Fusing
	}
	out.Usage.EmbeddingTokens = res.EmbeddingTokens
	for i, h := range res.Hits {
		out.Data[i] = searchHit{ChunkID: h.ChunkID, DocumentID: h.DocumentID, DocumentTitle: h.DocumentTitle, Score: h.Score,
			Relevance: h.Relevance, Text: h.Text, PageStart: nonZero(h.PageStart), PageEnd: nonZero(h.PageEnd), HeadingPath: orEmpty(h.HeadingPath),
			Tags: orEmpty(h.Tags), Metadata: h.Metadata,
			Snippet: h.Snippet, Highlights: h.Highlights, ChunkHighlights: h.ChunkHighlights, SourceURL: sourceURL(h), WebURL: nilIfEmpty(h.DocumentWebURL)}
		if out.Data[i].Metadata == nil {
			out.Data[i].Metadata = map[string]any{}
		}
		out.Data[i].CharStart, out.Data[i].CharEnd, out.Data[i].Sections = charSpan(h)
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	w.Header().Set("Server-Timing", fmt.Sprintf("embed;dur=%.3f, store;dur=%.3f, db;dur=%.3f", ms(res.EmbedTime), ms(res.StoreTime), ms(res.LookupTime)))
	writeJSON(w, http.StatusOK, out)
	return nil
}

// sourceURL is the relative URL of a hit's original file, with the
// PDF viewers' #page=N fragment when the hit has a page (only PDFs have
// pages): the content route serves a PDF inline, so a browser opens it
// there.
func sourceURL(h search.Found) string {
	u := "/v1/documents/" + h.DocumentID.String() + "/content"
	if h.PageStart > 0 {
		u += "#page=" + strconv.Itoa(h.PageStart)
	}
	return u
}

// charSpan is a hit's code point offsets (nil when its point has none: a
// chunk always holds text, so an end of 0 is one indexed before they were
// recorded) and its sections ([] for none).
func charSpan(h search.Found) (start, end *int, sections []search.Section) {
	if h.CharEnd > 0 {
		start, end = &h.CharStart, &h.CharEnd
	}
	if sections = h.Sections; sections == nil {
		sections = []search.Section{}
	}
	return start, end, sections
}

func nonZero(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func handleUsage(docs *ingest.Documents) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		u, err := docs.Usage(r.Context(), t.TenantID)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, u)
		return nil
	}
}

func handleTenantUsage(store *agents.ControlPlane, docs *ingest.Documents) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathTenant(r, store)
		if err != nil {
			return err
		}
		u, err := docs.Usage(r.Context(), id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, u)
		return nil
	}
}

func handleUsageDaily(docs *ingest.Documents) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		return writeUsageDaily(w, r, docs, t.TenantID)
	}
}

func handleTenantUsageDaily(store *agents.ControlPlane, docs *ingest.Documents) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathTenant(r, store)
		if err != nil {
			return err
		}
		return writeUsageDaily(w, r, docs, id)
	}
}

// writeUsageDaily answers with the tenant's usage per day over ?days=
// (1 to usage.MaxDays, default usage.DefaultDays).
func writeUsageDaily(w http.ResponseWriter, r *http.Request, docs *ingest.Documents, tenantID uuid.UUID) error {
	days := usage.DefaultDays
	if q := r.URL.Query(); q.Has("days") {
		n, err := strconv.Atoi(q.Get("days"))
		if err != nil {
			return fieldError("days", usage.DaysProblem)
		}
		days = n
	}
	list, err := docs.UsageDaily(r.Context(), tenantID, days)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(list, nil))
	return nil
}

// nilIfEmpty is s, or nil (JSON null) when it is empty.
func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
