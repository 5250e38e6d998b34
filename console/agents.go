package console

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ragd/ragd/agents"
)

// agentForm is the agent editor's fields, as typed. The structured parts
// (output schema, MCP servers, retrieval) are JSON text areas: what the
// API takes, with the server's own validation shown beside each.
type agentForm struct {
	Editing            bool
	ID                 string
	Version            int
	Name               string
	Model              string
	SystemPrompt       string
	Temperature        string
	OutputSchema       string
	MCPServers         string
	LangfusePublicKey  string
	LangfuseHost       string
	LangfusePromptName string
	LangfuseLabel      string
	// LangfuseSecret is what was typed (write-only: never filled in from
	// the server); LangfuseSecretShown is the stored one, redacted.
	LangfuseSecret      string
	LangfuseSecretShown string
	Retrieval           string
	Errors              map[string]string
}

// formFields maps an API error's field path to the form field it belongs
// to; the rest of the path stays in the message.
func formField(path string) string {
	if rest, ok := strings.CutPrefix(path, "langfuse."); ok {
		switch rest {
		case "public_key", "secret_key", "host", "prompt_name", "label":
			return "langfuse_" + rest
		}
		return "langfuse_public_key"
	}
	if i := strings.IndexAny(path, ".["); i > 0 {
		path = path[:i]
	}
	switch path {
	case "id", "name", "model", "system_prompt", "temperature", "output_schema", "mcp_servers", "retrieval":
		return path
	}
	return ""
}

// fieldErrors files the API's errors under the form's fields.
func fieldErrors(apiErrors map[string]string) (map[string]string, []string) {
	out := map[string]string{}
	var other []string
	for path, msg := range apiErrors {
		f := formField(path)
		if f == "" {
			other = append(other, path+": "+msg)
			continue
		}
		if path != f && !strings.HasPrefix(f, "langfuse_") {
			msg = path + ": " + msg
		}
		if out[f] != "" {
			msg = out[f] + "; " + msg
		}
		out[f] = msg
	}
	return out, other
}

// formProblem is an API error for the agent editor: the errors filed
// under its fields, and the detail with the errors no field takes.
func (a apiResult) formProblem() (map[string]string, string) {
	pr := a.Problem()
	fields, other := fieldErrors(pr.Errors)
	if len(other) > 0 {
		pr.Detail += " (" + strings.Join(other, "; ") + ")"
	}
	return fields, pr.Detail
}

func readAgentForm(r *http.Request) agentForm {
	v, _ := strconv.Atoi(r.PostFormValue("version"))
	// Browsers send a text area's line breaks as CRLF; the API's text has
	// LF, and saving an agent as read must not change its prompt.
	lf := func(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }
	return agentForm{
		Editing: r.PostFormValue("editing") == "true", ID: strings.TrimSpace(r.PostFormValue("id")), Version: v,
		Name: r.PostFormValue("name"), Model: r.PostFormValue("model"), SystemPrompt: lf(r.PostFormValue("system_prompt")),
		Temperature: strings.TrimSpace(r.PostFormValue("temperature")), OutputSchema: r.PostFormValue("output_schema"),
		MCPServers: r.PostFormValue("mcp_servers"), LangfusePublicKey: strings.TrimSpace(r.PostFormValue("langfuse_public_key")),
		LangfuseHost: strings.TrimSpace(r.PostFormValue("langfuse_host")), LangfuseSecret: r.PostFormValue("langfuse_secret_key"),
		LangfusePromptName: strings.TrimSpace(r.PostFormValue("langfuse_prompt_name")), LangfuseLabel: strings.TrimSpace(r.PostFormValue("langfuse_label")),
		LangfuseSecretShown: r.PostFormValue("langfuse_secret_shown"), Retrieval: r.PostFormValue("retrieval"),
	}
}

// body turns the form into the API's JSON: the whole agent on create, a
// merge patch on edit, where an emptied field clears it (null) and an empty
// secret keeps the stored one. Text that is not JSON is caught here.
func (f agentForm) body() (map[string]any, map[string]string) {
	b := map[string]any{"name": f.Name, "model": f.Model, "system_prompt": f.SystemPrompt}
	errs := map[string]string{}
	if !f.Editing && f.ID != "" {
		b["id"] = f.ID
	}
	clear := func(field string) {
		if f.Editing {
			b[field] = nil
		}
	}
	if f.Temperature == "" {
		clear("temperature")
	} else if t, err := strconv.ParseFloat(f.Temperature, 64); err != nil {
		errs["temperature"] = "must be a number"
	} else {
		b["temperature"] = t
	}
	for _, j := range []struct {
		field, text string
	}{{"output_schema", f.OutputSchema}, {"mcp_servers", f.MCPServers}, {"retrieval", f.Retrieval}} {
		if strings.TrimSpace(j.text) == "" {
			if j.field != "retrieval" {
				clear(j.field)
			}
			continue
		}
		var raw json.RawMessage
		if err := json.Unmarshal([]byte(j.text), &raw); err != nil {
			errs[j.field] = "is not JSON: " + err.Error()
			continue
		}
		b[j.field] = raw
	}
	if f.LangfusePublicKey == "" && f.LangfuseHost == "" && f.LangfuseSecret == "" && f.LangfusePromptName == "" && f.LangfuseLabel == "" {
		clear("langfuse")
	} else {
		lf := map[string]any{"public_key": f.LangfusePublicKey}
		for _, o := range []struct{ field, value string }{{"host", f.LangfuseHost}, {"prompt_name", f.LangfusePromptName}, {"label", f.LangfuseLabel}} {
			if o.value != "" {
				lf[o.field] = o.value
			} else if f.Editing {
				lf[o.field] = nil
			}
		}
		if f.LangfuseSecret != "" {
			lf["secret_key"] = f.LangfuseSecret
		}
		b["langfuse"] = lf
	}
	return b, errs
}

// formOf fills the editor from a stored agent. Secrets are never filled in:
// the Langfuse secret shows redacted beside an empty field, and MCP header
// values are null, which the API reads as "keep the stored value".
func formOf(a agents.Agent) agentForm {
	f := agentForm{Editing: true, ID: a.ID, Version: a.Version, Name: a.Name, Model: a.Model, SystemPrompt: a.SystemPrompt}
	if a.Temperature != nil {
		f.Temperature = strconv.FormatFloat(*a.Temperature, 'f', -1, 64)
	}
	if len(a.OutputSchema) > 0 && string(a.OutputSchema) != "null" {
		f.OutputSchema = indentJSON(a.OutputSchema)
	}
	if len(a.MCPServers) > 0 {
		servers := make([]map[string]any, len(a.MCPServers))
		for i, m := range a.MCPServers {
			headers := map[string]any{}
			for name := range m.Headers {
				headers[name] = nil
			}
			servers[i] = map[string]any{"name": m.Name, "url": m.URL, "transport": m.Transport, "headers": headers, "allowed_tools": m.AllowedTools}
		}
		b, _ := json.Marshal(servers)
		f.MCPServers = indentJSON(b)
	}
	if a.Langfuse != nil {
		f.LangfusePublicKey, f.LangfuseHost = a.Langfuse.PublicKey, a.Langfuse.Host
		f.LangfusePromptName, f.LangfuseLabel = a.Langfuse.PromptName, a.Langfuse.Label
		// The API answered with the redacted form ("****2222"); Reveal
		// gives that as it came (String would redact it again, to "****").
		f.LangfuseSecretShown = a.Langfuse.SecretKey.Reveal()
	}
	b, _ := json.Marshal(a.Retrieval)
	f.Retrieval = indentJSON(b)
	return f
}

// indentJSON lays JSON out for a text area without changing a value:
// json.Indent keeps numbers as written (decoding into float64 would round
// integers beyond 2^53).
func indentJSON(b []byte) string {
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") != nil {
		return string(b)
	}
	return out.String()
}

func (c *Console) agents(w http.ResponseWriter, r *http.Request, s *session) {
	p := page{Title: "Agents", Nav: "agents", Session: s, Notice: notices[r.URL.Query().Get("done")]}
	var list struct {
		Data []agents.Agent `json:"data"`
	}
	status := http.StatusOK
	if res := c.api(r, s, http.MethodGet, "/v1/agents?limit=200", nil); res.Decode(&list) != nil {
		p.Error, status = res.Problem().Detail, res.Status
	}
	p.Data = struct {
		Agents   []agents.Agent
		CanWrite bool
	}{list.Data, s.Has(agents.ScopeAgentsWrite)}
	c.render(w, status, "agents", p)
}

func (c *Console) newAgent(w http.ResponseWriter, r *http.Request, s *session) {
	f := agentForm{Retrieval: "", Errors: map[string]string{}}
	c.render(w, http.StatusOK, "agent", page{Title: "New agent", Nav: "agents", Session: s, Data: f})
}

func (c *Console) editAgent(w http.ResponseWriter, r *http.Request, s *session) {
	var a agents.Agent
	res := c.api(r, s, http.MethodGet, "/v1/agents/"+url.PathEscape(r.PathValue("id")), nil)
	if err := res.Decode(&a); err != nil {
		c.render(w, res.Status, "message", page{Title: "Agent", Nav: "agents", Session: s, Error: res.Problem().Detail})
		return
	}
	f := formOf(a)
	f.Errors = map[string]string{}
	c.render(w, http.StatusOK, "agent", page{Title: "Agent " + a.Name, Nav: "agents", Session: s, Data: f})
}

// sendAgent creates or patches (If-Match the version the form was read
// at) the agent, or only validates it when dryRun.
func (c *Console) sendAgent(r *http.Request, s *session, f agentForm, dryRun bool) (apiResult, map[string]string) {
	body, errs := f.body()
	if len(errs) > 0 {
		return apiResult{}, errs
	}
	q := ""
	if dryRun {
		q = "?dry_run=true"
	}
	if f.Editing {
		return c.apiJSON(r, s, http.MethodPatch, "/v1/agents/"+url.PathEscape(f.ID)+q, body, "If-Match", `"v`+strconv.Itoa(f.Version)+`"`), nil
	}
	return c.apiJSON(r, s, http.MethodPost, "/v1/agents"+q, body), nil
}

func (c *Console) saveAgent(w http.ResponseWriter, r *http.Request, s *session) {
	f := readAgentForm(r)
	if f.Editing {
		f.ID = r.PathValue("id")
	}
	title := "New agent"
	if f.Editing {
		title = "Agent " + f.Name
	}
	p := page{Title: title, Nav: "agents", Session: s}
	res, local := c.sendAgent(r, s, f, false)
	status := http.StatusBadRequest
	switch {
	case local != nil:
		f.Errors, p.Error = local, "Some fields need fixing."
	case !res.OK():
		f.Errors, p.Error = res.formProblem()
		status = res.Status // 412 for a stale version, 403, ...
	default:
		http.Redirect(w, r, "/console/agents?done=agent-saved", http.StatusSeeOther)
		return
	}
	f.LangfuseSecret = "" // never echo a secret back into the page
	p.Data = f
	c.render(w, status, "agent", p)
}

// validateAgent answers the editor's as-you-type check: the API's dry run
// of the form, its errors filed under the form's fields.
func (c *Console) validateAgent(w http.ResponseWriter, r *http.Request, s *session) {
	f := readAgentForm(r)
	res, local := c.sendAgent(r, s, f, true)
	out := struct {
		OK     bool              `json:"ok"`
		Detail string            `json:"detail,omitempty"`
		Errors map[string]string `json:"errors"`
	}{Errors: local}
	if local == nil {
		if res.OK() {
			out.OK, out.Errors = true, map[string]string{}
		} else {
			out.Errors, out.Detail = res.formProblem()
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(out)
}

// confirmDeleteAgent asks before deleting an agent. The agent is read
// through the API first, so another tenant's agent is a 404 here too.
func (c *Console) confirmDeleteAgent(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	var a agents.Agent
	res := c.api(r, s, http.MethodGet, "/v1/agents/"+url.PathEscape(id), nil)
	if err := res.Decode(&a); err != nil {
		c.render(w, res.Status, "message", page{Title: "Agents", Nav: "agents", Session: s, Error: res.Problem().Detail})
		return
	}
	c.render(w, http.StatusOK, "confirm", page{Title: "Delete agent " + a.Name + "?", Nav: "agents", Session: s, Data: confirmData{
		Question: "Delete the agent “" + a.Name + "” (" + a.ID + ")?",
		Detail:   "Its settings are gone for good, and searches that name it answer 404. Documents are not touched.",
		Action:   "/console/agents/" + url.PathEscape(a.ID) + "/delete",
		Button:   "Delete " + a.Name,
		Cancel:   "/console/agents",
	}})
}

// deleteAgent deletes an agent once confirmed; a form without the
// confirmation gets the question first.
func (c *Console) deleteAgent(w http.ResponseWriter, r *http.Request, s *session) {
	if !confirmed(r) {
		c.confirmDeleteAgent(w, r, s)
		return
	}
	res := c.api(r, s, http.MethodDelete, "/v1/agents/"+url.PathEscape(r.PathValue("id")), nil)
	if !res.OK() {
		c.render(w, res.Status, "message", page{Title: "Agents", Nav: "agents", Session: s, Error: res.Problem().Detail})
		return
	}
	http.Redirect(w, r, "/console/agents?done=agent-deleted", http.StatusSeeOther)
}
