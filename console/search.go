package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/search"
)

// hit is one search result as the API returns it.
type hit struct {
	ChunkID       string   `json:"chunk_id"`
	DocumentID    string   `json:"document_id"`
	DocumentTitle string   `json:"document_title"`
	Score         float32  `json:"score"`
	Relevance     float32  `json:"relevance"`
	Text          string   `json:"text"`
	PageStart     *int     `json:"page_start"`
	PageEnd       *int     `json:"page_end"`
	HeadingPath   []string `json:"heading_path"`
	Tags          []string `json:"tags"`
	// Snippet and its highlights, the chunk's highlights (in runes), and
	// the link to the original file (the API's content route, which the
	// session's cookie opens).
	Snippet         string `json:"snippet"`
	Highlights      []span `json:"highlights"`
	ChunkHighlights []span `json:"chunk_highlights"`
	SourceURL       string `json:"source_url"`
}

// span is a highlight: runes [Start, End) of a text.
type span struct {
	Start int `json:"start"`
	End   int `json:"end"`
}

// segment is a piece of a text, marked (a query's word) or not.
type segment struct {
	Text string
	Mark bool
}

// segments cuts text at its highlights, for the template to put the
// marked pieces in <mark>: the text stays text (html/template escapes
// it), whatever a document holds. Highlights out of order or out of
// bounds are skipped.
func segments(text string, spans []span) []segment {
	r := []rune(text)
	var out []segment
	at := 0
	for _, h := range spans {
		if h.Start < at || h.End <= h.Start || h.End > len(r) {
			continue
		}
		if h.Start > at {
			out = append(out, segment{Text: string(r[at:h.Start])})
		}
		out = append(out, segment{Text: string(r[h.Start:h.End]), Mark: true})
		at = h.End
	}
	if at < len(r) {
		out = append(out, segment{Text: string(r[at:])})
	}
	return out
}

type searchData struct {
	Query, Mode, Fusion, Tag, TopK, Threshold string
	// Agent searches with that agent's retrieval settings (its defaults,
	// which the fields left empty keep); Agents are those to choose from.
	Agent  string
	Agents []agents.Agent
	// DefaultTopK is the number of results when the field is empty.
	DefaultTopK          int
	Searched             bool
	Hits                 []hit
	UsedMode, UsedFusion string
	// NoRelevant: nothing reached UsedThreshold.
	NoRelevant    bool
	UsedThreshold float32
	Errors        map[string]string
}

// search is the playground: the form is a GET, so a search can be linked
// and reloaded; the page asks POST /v1/search as the signed-in person.
func (c *Console) search(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	d := searchData{Query: q.Get("q"), Mode: q.Get("mode"), Fusion: q.Get("fusion"), Tag: q.Get("tag"), TopK: q.Get("top_k"), Threshold: q.Get("threshold"),
		Agent: q.Get("agent"), DefaultTopK: search.DefaultTopK}
	p := page{Title: "Search", Nav: "search", Session: s}
	status := http.StatusOK
	// The agents to search as: those with retrieval on. Without the
	// agents:read scope the picker is left out, not the page.
	if s.Has(agents.ScopeAgentsRead) {
		var list struct {
			Data []agents.Agent `json:"data"`
		}
		if res := c.api(r, s, http.MethodGet, "/v1/agents?limit=200", nil); res.Decode(&list) == nil {
			for _, a := range list.Data {
				if a.Retrieval.Enabled {
					d.Agents = append(d.Agents, a)
				}
				if a.ID == d.Agent && a.Retrieval.Enabled {
					d.DefaultTopK = a.Retrieval.TopK
				}
			}
		}
	}
	path := "/v1/search"
	if d.Agent != "" {
		path = "/v1/agents/" + url.PathEscape(d.Agent) + "/search"
	}
	if strings.TrimSpace(d.Query) != "" {
		d.Searched = true
		body := map[string]any{"query": d.Query}
		if d.Mode != "" {
			body["mode"] = d.Mode
		}
		if d.Fusion != "" {
			body["fusion"] = d.Fusion
		}
		if d.TopK != "" {
			n, err := strconv.Atoi(d.TopK)
			if err != nil {
				d.Errors, status = map[string]string{"top_k": "must be a whole number"}, http.StatusBadRequest
			}
			body["top_k"] = n
		}
		if tags := splitList(d.Tag); len(tags) > 0 {
			body["filter"] = map[string]any{"tags_any": tags}
		}
		if d.Threshold != "" {
			t, err := strconv.ParseFloat(d.Threshold, 64)
			if err != nil || !(t >= 0 && t <= 1) { // NaN and infinities too
				d.Errors, status = map[string]string{"score_threshold": "must be a number between 0 and 1"}, http.StatusBadRequest
			}
			body["score_threshold"] = t
		}
		if d.Errors == nil {
			res := c.apiJSON(r, s, http.MethodPost, path, body)
			var out struct {
				Data       []hit   `json:"data"`
				NoRelevant bool    `json:"no_relevant_passages"`
				Threshold  float32 `json:"score_threshold"`
				Mode       string  `json:"mode"`
				Fusion     *struct {
					Fusion string `json:"fusion"`
				} `json:"fusion"`
			}
			if err := res.Decode(&out); err != nil {
				pr := res.Problem()
				p.Error, d.Errors, status = pr.Detail, pr.Errors, res.Status
			}
			d.Hits, d.UsedMode, d.NoRelevant, d.UsedThreshold = out.Data, out.Mode, out.NoRelevant, out.Threshold
			if out.Fusion != nil {
				d.UsedFusion = out.Fusion.Fusion
			}
		}
	}
	p.Data = d
	c.render(w, status, "search", p)
}

// splitList reads a comma-separated form field.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
