package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/sources"
)

// sourceForm is the "add a site" form, as typed.
type sourceForm struct {
	Type, URL, Include, Exclude, MaxPages, MaxDepth, Schedule, Tags string
	Errors                                                          map[string]string
}

// Types and Schedules are the form's choices.
func (sourceForm) Types() []string {
	return []string{sources.TypeWebsite, sources.TypeSitemap, sources.TypeURL}
}
func (sourceForm) Schedules() []string { return []string{"hourly", "daily", "weekly"} }

// Defaults are the server's, shown as the number fields' placeholders.
func (sourceForm) DefaultMaxPages() int { return sources.DefaultMaxPages }
func (sourceForm) DefaultMaxDepth() int { return sources.DefaultMaxDepth }
func (sourceForm) MaxMaxPages() int     { return sources.MaxMaxPages }
func (sourceForm) MaxMaxDepth() int     { return sources.MaxMaxDepth }

type sourcesData struct {
	CanWrite bool
	Sources  []sources.Source
	Form     sourceForm
}

// sourceNotices are the fixed messages shown after an action on sources
// (named in ?done=).
var sourceNotices = map[string]string{
	"source-added":    "The source is added, and its first run has started. Reload to follow it.",
	"source-synced":   "A run has started: only pages that changed are processed again. Reload to follow it.",
	"source-deleting": "The source and its documents are being deleted.",
	"source-deleted":  "The source is deleted; its documents stay, and are no longer synced.",
	"source-running":  "A run of this source is running already: it is the first below. Reload to follow it.",
}

func (c *Console) sources(w http.ResponseWriter, r *http.Request, s *session) {
	c.renderSources(w, r, s, http.StatusOK, page{Notice: sourceNotices[r.URL.Query().Get("done")]},
		sourceForm{Type: sources.TypeWebsite})
}

func (c *Console) renderSources(w http.ResponseWriter, r *http.Request, s *session, status int, p page, f sourceForm) {
	p.Title, p.Nav, p.Session = "Sources", "sources", s
	d := sourcesData{CanWrite: s.Has(agents.ScopeSourcesWrite), Form: f}
	var list struct {
		Data []sources.Source `json:"data"`
	}
	if res := c.api(r, s, http.MethodGet, "/v1/sources?limit=100", nil); res.Decode(&list) != nil && p.Error == "" {
		p.Error = res.Problem().Detail
	}
	d.Sources = list.Data // at most sources.MaxSources a tenant
	p.Data = d
	c.render(w, status, "sources", p)
}

// sourceField names the form field of an API error's path: include[2]
// is the include field's.
func sourceField(path string) string {
	return fieldOf(path, "type", "url", "include", "exclude", "max_pages", "max_depth", "schedule", "tags")
}

// createSource adds a source from the form; its first run starts, and
// the browser goes to its page.
func (c *Console) createSource(w http.ResponseWriter, r *http.Request, s *session) {
	f := sourceForm{Type: r.PostFormValue("type"), URL: r.PostFormValue("url"), Include: r.PostFormValue("include"),
		Exclude: r.PostFormValue("exclude"), MaxPages: r.PostFormValue("max_pages"), MaxDepth: r.PostFormValue("max_depth"),
		Schedule: r.PostFormValue("schedule"), Tags: r.PostFormValue("tags"), Errors: map[string]string{}}
	body := map[string]any{"type": f.Type, "url": f.URL, "include": lines(f.Include), "exclude": lines(f.Exclude), "tags": orNone(splitList(f.Tags))}
	for field, v := range map[string]string{"max_pages": f.MaxPages, "max_depth": f.MaxDepth} {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			f.Errors[field] = "must be a whole number"
			continue
		}
		body[field] = n
	}
	if f.Schedule != "" {
		body["schedule"] = f.Schedule
	}
	if len(f.Errors) > 0 {
		c.renderSources(w, r, s, http.StatusBadRequest, page{Error: "Some fields need a change."}, f)
		return
	}
	res := c.apiJSON(r, s, http.MethodPost, "/v1/sources", body)
	var created sources.Source
	if err := res.Decode(&created); err != nil {
		var detail string
		f.Errors, detail = res.formProblem(sourceField)
		c.renderSources(w, r, s, res.Status, page{Error: detail}, f)
		return
	}
	http.Redirect(w, r, "/console/sources/"+created.ID.String()+"?done=source-added", http.StatusSeeOther)
}

// lines are a text area's non-empty lines, trimmed ([] for none).
func lines(s string) []string {
	out := []string{}
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

type sourceData struct {
	Source     sources.Source
	Runs       []sources.Run
	NextCursor string
	CanWrite   bool
}

// source is a source's page: its settings, and its runs, newest first,
// each with the pages that failed and why.
func (c *Console) source(w http.ResponseWriter, r *http.Request, s *session) {
	id := url.PathEscape(r.PathValue("id"))
	var d sourceData
	if !c.getObject(w, r, s, "/v1/sources/"+id, &d.Source, "Sources", "sources") {
		return
	}
	title := "Source"
	if h := hostOf(d.Source.URL); h != "" {
		title += " " + h
	}
	p := page{Title: title, Nav: "sources", Session: s, Notice: sourceNotices[r.URL.Query().Get("done")]}
	d.Runs, d.NextCursor, p.Error = listPage[sources.Run](c, r, s, "/v1/sources/"+id+"/runs", 20)
	d.CanWrite = s.Has(agents.ScopeSourcesWrite)
	p.Data = d
	c.render(w, http.StatusOK, "source", p)
}

// syncSource starts a run now (409 while one runs: the page says so).
func (c *Console) syncSource(w http.ResponseWriter, r *http.Request, s *session) {
	res := c.api(r, s, http.MethodPost, "/v1/sources/"+url.PathEscape(r.PathValue("id"))+"/sync", nil)
	c.sourceAction(w, r, s, res, "source-synced")
}

// deleteSource deletes a source once confirmed: with its documents, or,
// when the confirmation's box is ticked, without them. A form without
// the confirmation gets the question first.
func (c *Console) deleteSource(w http.ResponseWriter, r *http.Request, s *session) {
	id := url.PathEscape(r.PathValue("id"))
	if !confirmed(r) {
		var src sources.Source
		if !c.getObject(w, r, s, "/v1/sources/"+id, &src, "Sources", "sources") {
			return
		}
		c.render(w, http.StatusOK, "confirm", page{Title: "Delete the source?", Nav: "sources", Session: s, Data: confirmData{
			Question: "Delete the source " + src.URL + " and its " + strconv.Itoa(src.Pages) + " documents?",
			Detail: "Its pages' documents are deleted with it, and search stops finding them. " +
				"To keep them (as documents of no source, no longer synced), tick the box.",
			Action: "/console/sources/" + id + "/delete",
			Button: "Delete the source",
			Cancel: "/console/sources/" + id,
			Keep:   "Keep its documents",
		}})
		return
	}
	keep := r.PostFormValue("keep_documents") == "true"
	path, done := "/v1/sources/"+id, "source-deleting"
	if keep {
		path, done = path+"?keep_documents=true", "source-deleted"
	}
	c.sourceAction(w, r, s, c.api(r, s, http.MethodDelete, path, nil), done)
}

func (c *Console) sourceAction(w http.ResponseWriter, r *http.Request, s *session, res apiResult, done string) {
	if res.Status == http.StatusConflict && done == "source-synced" {
		http.Redirect(w, r, "/console/sources/"+url.PathEscape(r.PathValue("id"))+"?done=source-running", http.StatusSeeOther)
		return
	}
	if !res.OK() {
		c.render(w, res.Status, "message", page{Title: "Sources", Nav: "sources", Session: s, Error: res.Problem().Detail})
		return
	}
	back := "/console/sources"
	if r.PostFormValue("from") == "source" && done == "source-synced" {
		back += "/" + url.PathEscape(r.PathValue("id"))
	}
	http.Redirect(w, r, back+"?done="+done, http.StatusSeeOther)
}

// runCounts is what a run found, in a line.
func runCounts(r sources.Run) string {
	s := fmt.Sprintf("%d fetched: %d new, %d changed, %d unchanged, %d removed, %d failed", r.Fetched, r.New, r.Changed, r.Unchanged, r.Removed, r.Failed)
	if r.Truncated {
		s += " (stopped at max pages)"
	}
	return s
}

// runClass is the badge class of a run's status.
func runClass(status string) string {
	switch status {
	case sources.RunCompleted:
		return "ready"
	case sources.RunFailed:
		return "failed"
	}
	return ""
}
