package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/extract"
	"github.com/ragd/ragd/ingest"
)

// chunksPerPage is how many chunks the document page reads at once (the
// API's largest page): its chunk list, and the extracted text rebuilt
// from them.
const chunksPerPage = 200

// noReindex are the failures a reindex of the same file cannot change.
var noReindex = []string{extract.CodeNoText, extract.CodeUnsupportedType, extract.CodeTooManyPages, extract.CodeTooLarge,
	extract.CodeInvalidEncoding, extract.CodePDFMalformed, extract.CodeImageMalformed, extract.CodeOCRLowConfidence}

// canReindex reports whether processing d again can change anything: a
// ready document, or one that failed for a reason a new run (or a
// password) may not meet again. Rows still queued or processing are on
// their way already.
func canReindex(d ingest.Document) bool {
	switch d.Status {
	case ingest.StatusReady:
		return true
	case ingest.StatusFailed:
		return d.Error == nil || !slices.Contains(noReindex, d.Error.Code)
	}
	return false
}

// needsPassword reports whether d is a PDF that failed for want of its
// password: the reindex form asks for it.
func needsPassword(d ingest.Document) bool {
	return d.Status == ingest.StatusFailed && d.Error != nil && d.Error.Code == extract.CodePDFEncrypted
}

// listQuery is the documents list's state, as its URL carries it: its
// filters, order and page. Actions taken from the list (reindex, delete)
// carry it in hidden fields and come back to it.
type listQuery struct {
	Status, Tag, Title, Sort, Cursor string
}

// listSort is an order of the list: the form's value, its label, and the
// API's sort and order.
type listSort struct{ Value, Label, sort, order string }

// listSorts are the orders the list offers; the first is the default.
var listSorts = []listSort{
	{"", "newest first", "created", "desc"},
	{"oldest", "oldest first", "created", "asc"},
	{"title", "title A–Z", "title", "asc"},
	{"title-desc", "title Z–A", "title", "desc"},
}

func readListQuery(v url.Values) listQuery {
	return listQuery{Status: v.Get("status"), Tag: v.Get("tag"), Title: v.Get("title"), Sort: v.Get("sort"), Cursor: v.Get("cursor")}
}

// values is the console URL's query (empty fields left out).
func (q listQuery) values() url.Values {
	out := url.Values{}
	for _, kv := range [][2]string{{"status", q.Status}, {"tag", q.Tag}, {"title", q.Title}, {"sort", q.Sort}, {"cursor", q.Cursor}} {
		if kv[1] != "" {
			out.Set(kv[0], kv[1])
		}
	}
	return out
}

// apiValues is the query of GET /v1/documents for the list, or false for
// an order the form does not offer.
func (q listQuery) apiValues() (url.Values, bool) {
	out := q.values()
	out.Del("sort")
	for _, s := range listSorts {
		if s.Value == q.Sort {
			out.Set("sort", s.sort)
			out.Set("order", s.order)
			return out, true
		}
	}
	return out, false
}

// Filtered reports whether anything narrows the list.
func (q listQuery) Filtered() bool { return q.Status != "" || q.Tag != "" || q.Title != "" }

// URL is the list at this state, with done's notice.
func (q listQuery) URL(done string) string {
	v := q.values()
	if done != "" {
		v.Set("done", done)
	}
	if len(v) == 0 {
		return "/console/documents"
	}
	return "/console/documents?" + v.Encode()
}

// Next is the URL of the list's next page.
func (q listQuery) Next(cursor string) string {
	q.Cursor = cursor
	return q.URL("")
}

// ---- the document page ----

// metaLine is one metadata entry as the page shows it.
type metaLine struct{ Key, Value string }

// metadataLines lays a document's metadata out as "key = value" lines,
// sorted by key: a string as written (quoted when it would read as a
// number, true or false, or has white space at its ends), numbers and
// booleans as JSON has them.
func metadataLines(raw json.RawMessage) []metaLine {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	out := make([]metaLine, 0, len(m))
	for k, v := range m {
		var s string
		if json.Unmarshal(v, &s) == nil && !ambiguous(s) {
			out = append(out, metaLine{k, s})
			continue
		}
		out = append(out, metaLine{k, string(v)})
	}
	slices.SortFunc(out, func(a, b metaLine) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// ambiguous reports whether a string value, written bare, would read back
// as something else.
func ambiguous(s string) bool {
	if s != strings.TrimSpace(s) || s == "" || s == "true" || s == "false" || strings.HasPrefix(s, `"`) {
		return true
	}
	var n json.Number
	return json.Unmarshal([]byte(s), &n) == nil
}

// metadataText is the editor's text of the metadata.
func metadataText(lines []metaLine) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.Key + " = " + l.Value + "\n")
	}
	return b.String()
}

// parseMetadata reads the editor's "key = value" lines (blank lines
// skipped): a value that is a JSON number, true, false or a quoted string
// is that; any other is text.
func parseMetadata(text string) (map[string]any, string) {
	out := map[string]any{}
	for i, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return nil, "line " + strconv.Itoa(i+1) + ": write each entry as key = value"
		}
		if _, dup := out[k]; dup {
			return nil, "line " + strconv.Itoa(i+1) + ": the key " + strconv.Quote(k) + " comes twice"
		}
		var val any = v
		if json.Valid([]byte(v)) {
			d := json.NewDecoder(strings.NewReader(v))
			d.UseNumber()
			var j any
			if d.Decode(&j) == nil {
				switch j.(type) {
				case json.Number, bool, string:
					val = j
				}
			}
		}
		out[k] = val
	}
	return out, ""
}

// joinChunks rebuilds a document's extracted text from its chunks, in
// order: each chunk is a slice of that text (code points CharStart to
// CharEnd), overlapping the one before by the chunk overlap; the white
// space between two chunks, which no chunk holds, is shown as a line
// break. Chunks without offsets (made before they were recorded) are
// joined by blank lines.
func joinChunks(chunks []ingest.Chunk) string {
	var b strings.Builder
	at := -1 // the code point offset b has reached; -1: unknown
	for i, c := range chunks {
		if c.CharStart == nil || c.CharEnd == nil || at < 0 {
			if i > 0 {
				b.WriteString("\n\n")
			}
			b.WriteString(c.Text)
			at = -1
			if c.CharEnd != nil {
				at = *c.CharEnd
			}
			continue
		}
		switch start := *c.CharStart; {
		case start >= at:
			if start > at {
				b.WriteString("\n")
			}
			b.WriteString(c.Text)
		default:
			r := []rune(c.Text)
			if skip := at - start; skip < len(r) {
				b.WriteString(string(r[skip:]))
			}
		}
		at = max(at, *c.CharEnd)
	}
	return b.String()
}

// version is one content version of a document, from its history.
type version struct {
	Number     int
	QueuedAt   time.Time
	Status     string
	EndedAt    *time.Time // nil while it runs
	Error      *ingest.DocumentError
	PageCount  *int
	ChunkCount *int
	Current    bool
}

// versionsOf groups a document's history by content version, newest
// first.
func versionsOf(h []ingest.HistoryEntry, current int) []version {
	var out []version
	for _, e := range h {
		if len(out) == 0 || out[len(out)-1].Number != e.ContentVersion {
			out = append(out, version{Number: e.ContentVersion, QueuedAt: e.At, Current: e.ContentVersion == current})
		}
		v := &out[len(out)-1]
		v.Status, v.Error = e.Status, e.Error
		switch e.Status {
		case ingest.StatusReady, ingest.StatusFailed:
			at := e.At
			v.EndedAt, v.PageCount, v.ChunkCount = &at, e.PageCount, e.ChunkCount
		}
	}
	slices.Reverse(out)
	return out
}

// editForm is the document editor's fields, as typed.
type editForm struct {
	Title, Tags, Metadata string
	Errors                map[string]string
}

type documentData struct {
	Doc        ingest.Document
	Metadata   []metaLine
	History    []ingest.HistoryEntry
	Versions   []version
	Chunks     []ingest.Chunk
	NextChunks string
	// Text is the extracted text rebuilt from Chunks; Partial when the
	// document has more chunks than the page read.
	Text          string
	Partial       bool
	Edit          editForm
	CanWrite      bool
	CanReindex    bool
	NeedsPassword bool
	IsPDF         bool
}

func (c *Console) document(w http.ResponseWriter, r *http.Request, s *session) {
	c.showDocument(w, r, s, http.StatusOK, nil, "")
}

// showDocument draws the document page; edit, when not nil, is a form
// that was refused with its errors and the API's message.
func (c *Console) showDocument(w http.ResponseWriter, r *http.Request, s *session, status int, edit *editForm, msg string) {
	id := url.PathEscape(r.PathValue("id"))
	p := page{Title: "Document", Nav: "documents", Session: s, Notice: notices[r.URL.Query().Get("done")], Error: msg}
	var d documentData
	res := c.api(r, s, http.MethodGet, "/v1/documents/"+id, nil)
	if err := res.Decode(&d.Doc); err != nil {
		// Another tenant's document, or none: the API's 404, nothing more.
		c.render(w, res.Status, "message", page{Title: "Documents", Nav: "documents", Session: s, Error: res.Problem().Detail})
		return
	}
	p.Title = d.Doc.Title
	var hist struct {
		Data []ingest.HistoryEntry `json:"data"`
	}
	if res := c.api(r, s, http.MethodGet, "/v1/documents/"+id+"/history", nil); res.Decode(&hist) != nil {
		p.Error = res.Problem().Detail
	}
	q := url.Values{"limit": {strconv.Itoa(chunksPerPage)}}
	if cur := r.URL.Query().Get("chunks"); cur != "" {
		q.Set("cursor", cur)
	}
	var chunks struct {
		Data       []ingest.Chunk `json:"data"`
		NextCursor string         `json:"next_cursor"`
	}
	if res := c.api(r, s, http.MethodGet, "/v1/documents/"+id+"/chunks?"+q.Encode(), nil); res.Decode(&chunks) != nil {
		p.Error = res.Problem().Detail
	}
	d.History, d.Versions = hist.Data, versionsOf(hist.Data, d.Doc.ContentVersion)
	d.Chunks, d.NextChunks = chunks.Data, chunks.NextCursor
	d.Text, d.Partial = joinChunks(chunks.Data), chunks.NextCursor != "" || q.Has("cursor")
	d.Metadata = metadataLines(d.Doc.Metadata)
	d.CanWrite = s.Has(agents.ScopeDocumentsWrite) && d.Doc.Status != ingest.StatusDeleting
	d.CanReindex, d.NeedsPassword, d.IsPDF = canReindex(d.Doc), needsPassword(d.Doc), d.Doc.Type == extract.TypePDF
	if edit != nil {
		d.Edit = *edit
	} else {
		d.Edit = editForm{Title: d.Doc.Title, Tags: strings.Join(d.Doc.Tags, ", "), Metadata: metadataText(d.Metadata)}
	}
	p.Data = d
	c.render(w, status, "document", p)
}

// editDocument saves the editor's title, tags and metadata (PATCH).
func (c *Console) editDocument(w http.ResponseWriter, r *http.Request, s *session) {
	f := editForm{Title: r.PostFormValue("title"), Tags: r.PostFormValue("tags"), Metadata: r.PostFormValue("metadata"), Errors: map[string]string{}}
	meta, bad := parseMetadata(f.Metadata)
	if bad != "" {
		f.Errors["metadata"] = bad
		c.showDocument(w, r, s, http.StatusBadRequest, &f, "Some fields need fixing.")
		return
	}
	tags := splitList(f.Tags)
	if tags == nil {
		tags = []string{}
	}
	res := c.apiJSON(r, s, http.MethodPatch, "/v1/documents/"+url.PathEscape(r.PathValue("id")), map[string]any{"title": f.Title, "tags": tags, "metadata": meta})
	if !res.OK() {
		pr := res.Problem()
		for path, msg := range pr.Errors {
			field, _, _ := strings.Cut(strings.SplitN(path, "[", 2)[0], ".")
			switch field {
			case "title", "tags", "metadata":
				if path != field {
					msg = path + ": " + msg
				}
				f.Errors[field] = strings.TrimPrefix(f.Errors[field]+"; "+msg, "; ")
			}
		}
		if res.Status == http.StatusNotFound {
			c.render(w, res.Status, "message", page{Title: "Documents", Nav: "documents", Session: s, Error: pr.Detail})
			return
		}
		c.showDocument(w, r, s, res.Status, &f, pr.Detail)
		return
	}
	http.Redirect(w, r, "/console/documents/"+url.PathEscape(r.PathValue("id"))+"?done=document-saved", http.StatusSeeOther)
}
