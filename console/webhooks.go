package console

import (
	"net/http"
	"net/url"

	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/webhooks"
)

type webhooksData struct {
	CanWrite  bool
	Endpoints []webhooks.Endpoint
	Events    []string
	// Form is the create form as typed (after an error).
	URL, Description string
	Checked          map[string]bool
	Errors           map[string]string
	// Secret is the signing secret of the endpoint just created, shown
	// this once, and its URL.
	Secret, SecretFor string
}

func (c *Console) webhooks(w http.ResponseWriter, r *http.Request, s *session) {
	c.renderWebhooks(w, r, s, http.StatusOK, page{Notice: notices[r.URL.Query().Get("done")]}, webhooksData{})
}

func (c *Console) renderWebhooks(w http.ResponseWriter, r *http.Request, s *session, status int, p page, d webhooksData) {
	p.Title, p.Nav, p.Session = "Webhooks", "webhooks", s
	d.CanWrite, d.Events = s.Has(agents.ScopeWebhooksWrite), webhooks.EventTypes
	if d.Checked == nil {
		d.Checked = map[string]bool{}
		for _, e := range d.Events {
			d.Checked[e] = true
		}
	}
	if d.CanWrite {
		var list struct {
			Data []webhooks.Endpoint `json:"data"`
		}
		if res := c.api(r, s, http.MethodGet, "/v1/webhooks?limit=200", nil); res.Decode(&list) != nil && p.Error == "" {
			p.Error = res.Problem().Detail
		}
		d.Endpoints = list.Data
	}
	p.Data = d
	c.render(w, status, "webhooks", p)
}

func (c *Console) createWebhook(w http.ResponseWriter, r *http.Request, s *session) {
	events := r.PostForm["event_types"]
	d := webhooksData{URL: r.PostFormValue("url"), Description: r.PostFormValue("description"), Checked: map[string]bool{}}
	for _, e := range events {
		d.Checked[e] = true
	}
	if events == nil {
		events = []string{}
	}
	res := c.apiJSON(r, s, http.MethodPost, "/v1/webhooks", map[string]any{"url": d.URL, "description": d.Description, "event_types": events})
	var created struct {
		URL    string `json:"url"`
		Secret string `json:"secret"`
	}
	if err := res.Decode(&created); err != nil {
		pr := res.Problem()
		d.Errors = pr.Errors
		c.renderWebhooks(w, r, s, res.Status, page{Error: pr.Detail}, d)
		return
	}
	// Shown in this answer only (no redirect: the secret must not be in a
	// URL or a later page).
	c.renderWebhooks(w, r, s, http.StatusCreated, page{Notice: "Copy the signing secret now: it is shown only this once."},
		webhooksData{Secret: created.Secret, SecretFor: created.URL})
}

// setWebhook turns an endpoint on or off; on again, its failed deliveries
// can be retried.
func (c *Console) setWebhook(w http.ResponseWriter, r *http.Request, s *session) {
	on := r.PathValue("state") == "enable"
	if !on && r.PathValue("state") != "disable" {
		c.render(w, http.StatusNotFound, "notfound", page{Title: "Not found", Session: s})
		return
	}
	id := url.PathEscape(r.PathValue("id"))
	res := c.apiJSON(r, s, http.MethodPatch, "/v1/webhooks/"+id, map[string]any{"enabled": on})
	c.webhookAction(w, r, s, res, map[bool]string{true: "webhook-enabled", false: "webhook-disabled"}[on])
}

// deleteWebhook deletes an endpoint once confirmed (its deliveries go
// with it); a form without the confirmation gets the question first.
func (c *Console) deleteWebhook(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	if !confirmed(r) {
		var e webhooks.Endpoint
		if !c.getObject(w, r, s, "/v1/webhooks/"+url.PathEscape(id), &e, "Webhooks", "webhooks") {
			return
		}
		c.render(w, http.StatusOK, "confirm", page{Title: "Delete the webhook?", Nav: "webhooks", Session: s, Data: confirmData{
			Question: "Delete the webhook to " + e.URL + "?",
			Detail:   "ragd stops sending it events at once, and its deliveries and their attempts are gone for good.",
			Action:   "/console/webhooks/" + url.PathEscape(id) + "/delete",
			Button:   "Delete the webhook",
			Cancel:   "/console/webhooks",
		}})
		return
	}
	res := c.api(r, s, http.MethodDelete, "/v1/webhooks/"+url.PathEscape(id), nil)
	c.webhookAction(w, r, s, res, "webhook-deleted")
}

func (c *Console) webhookAction(w http.ResponseWriter, r *http.Request, s *session, res apiResult, done string) {
	if !res.OK() {
		c.render(w, res.Status, "message", page{Title: "Webhooks", Nav: "webhooks", Session: s, Error: res.Problem().Detail})
		return
	}
	back := "/console/webhooks"
	if r.PostFormValue("from") == "endpoint" && done != "webhook-deleted" {
		back += "/" + url.PathEscape(r.PathValue("id"))
	}
	http.Redirect(w, r, back+"?done="+done, http.StatusSeeOther)
}

type webhookData struct {
	Endpoint   webhooks.Endpoint
	Deliveries []webhooks.Delivery
	NextCursor string
	CanWrite   bool
}

// webhook is an endpoint's page: its settings and its deliveries, newest
// first, each with its attempts.
// The endpoint and its deliveries come in one answer, read at one moment
// (two reads showed a delivery failed beside the endpoint still on when
// the attempt that turned it off committed between them).
func (c *Console) webhook(w http.ResponseWriter, r *http.Request, s *session) {
	id := url.PathEscape(r.PathValue("id"))
	q := url.Values{"limit": {"50"}}
	if cur := r.URL.Query().Get("cursor"); cur != "" {
		q.Set("cursor", cur)
	}
	var got struct {
		Endpoint   webhooks.Endpoint   `json:"endpoint"`
		Data       []webhooks.Delivery `json:"data"`
		NextCursor string              `json:"next_cursor"`
	}
	if !c.getObject(w, r, s, "/v1/webhooks/"+id+"/deliveries?"+q.Encode(), &got, "Webhooks", "webhooks") {
		return
	}
	d := webhookData{Endpoint: got.Endpoint, Deliveries: got.Data, NextCursor: got.NextCursor, CanWrite: s.Has(agents.ScopeWebhooksWrite)}
	title := "Webhook"
	if h := hostOf(d.Endpoint.URL); h != "" {
		title += " to " + h
	}
	p := page{Title: title, Nav: "webhooks", Session: s, Notice: notices[r.URL.Query().Get("done")]}
	p.Data = d
	c.render(w, http.StatusOK, "webhook", p)
}

func (c *Console) retryDelivery(w http.ResponseWriter, r *http.Request, s *session) {
	res := c.api(r, s, http.MethodPost, "/v1/webhooks/"+url.PathEscape(r.PathValue("id"))+"/deliveries/"+url.PathEscape(r.PathValue("delivery"))+"/retry", nil)
	if !res.OK() {
		c.render(w, res.Status, "message", page{Title: "Webhooks", Nav: "webhooks", Session: s, Error: res.Problem().Detail})
		return
	}
	http.Redirect(w, r, "/console/webhooks/"+url.PathEscape(r.PathValue("id"))+"?done=delivery-retried", http.StatusSeeOther)
}
