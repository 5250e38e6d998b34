package console

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/ragd/ragd/agents"
)

// agentForm is the agent editor's fields, as typed. Output schema and MCP
// servers are JSON text areas (what the API takes, with the server's own
// validation shown beside each); retrieval settings are fields of their
// own.
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
	// SecretsUnreadable: the stored secrets open with none of the
	// server's keys (agents.Agent.SecretsUnreadable).
	SecretsUnreadable bool
	Retrieval         retrievalForm
	Errors            map[string]string
	// Conflict, after a save refused because someone saved the agent
	// since the form was read: the stored version's fields that differ
	// from the form's. The form then names the stored version, so saving
	// again replaces it with what the form holds.
	Conflict []conflictField
}

// retrievalForm is the agent's retrieval settings, as typed.
type retrievalForm struct {
	// Shown: the form had the retrieval fields (a form posted without
	// them, by a script, leaves the settings as they are).
	Shown                     bool
	Enabled                   bool
	Mode, TopK, Threshold     string
	Tags, Fusion              string
	WeightDense, WeightSparse string
}

// conflictField is a field whose stored value differs from the form's.
type conflictField struct{ Label, Stored string }

// retrievalModes and retrievalFusions are the choices the form offers
// ("" for the fusion: the server's default).
var (
	retrievalModes   = []string{agents.ModeHybrid, agents.ModeDense, agents.ModeSparse}
	retrievalFusions = append([]string{""}, agents.Fusions...)
)

// Modes and Fusions are the form's choices.
func (retrievalForm) Modes() []string   { return retrievalModes }
func (retrievalForm) Fusions() []string { return retrievalFusions }

// body is the API's retrieval object: on edit, an emptied optional field
// is null (the server's default again).
func (f retrievalForm) body(editing bool) (map[string]any, map[string]string) {
	b := map[string]any{"enabled": f.Enabled, "mode": f.Mode, "tags": orNone(splitList(f.Tags))}
	errs := map[string]string{}
	if f.TopK != "" {
		n, err := strconv.Atoi(f.TopK)
		if err != nil {
			errs["retrieval_top_k"] = "must be a whole number"
		}
		b["top_k"] = n
	}
	optional := func(field, text string, v any) {
		switch {
		case text != "":
			b[field] = v
		case editing:
			b[field] = nil
		}
	}
	t, err := strconv.ParseFloat(f.Threshold, 64)
	if f.Threshold != "" && err != nil {
		errs["retrieval_score_threshold"] = "must be a number between 0 and 1"
	}
	optional("score_threshold", f.Threshold, t)
	optional("fusion", f.Fusion, f.Fusion)
	if f.WeightDense != "" || f.WeightSparse != "" {
		d, errD := strconv.ParseFloat(f.WeightDense, 64)
		sp, errS := strconv.ParseFloat(f.WeightSparse, 64)
		if errD != nil || errS != nil {
			errs["retrieval_weights"] = "give both weights as numbers, or neither"
		}
		b["weights"] = map[string]any{"dense": d, "sparse": sp}
	} else if editing {
		b["weights"] = nil
	}
	return b, errs
}

func orNone(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// retrievalFormOf is the form of stored retrieval settings.
func retrievalFormOf(r agents.Retrieval) retrievalForm {
	f := retrievalForm{Shown: true, Enabled: r.Enabled, Mode: r.Mode, TopK: strconv.Itoa(r.TopK), Tags: strings.Join(r.Tags, ", "), Fusion: r.Fusion}
	if r.ScoreThreshold != nil {
		f.Threshold = strconv.FormatFloat(*r.ScoreThreshold, 'f', -1, 64)
	}
	if r.Weights != nil {
		f.WeightDense = strconv.FormatFloat(r.Weights.Dense, 'f', -1, 64)
		f.WeightSparse = strconv.FormatFloat(r.Weights.Sparse, 'f', -1, 64)
	}
	return f
}

func readRetrievalForm(r *http.Request) retrievalForm {
	v := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	_, shown := r.PostForm["retrieval_mode"]
	return retrievalForm{Shown: shown, Enabled: r.PostFormValue("retrieval_enabled") == "true", Mode: v("retrieval_mode"), TopK: v("retrieval_top_k"),
		Threshold: v("retrieval_score_threshold"), Tags: v("retrieval_tags"), Fusion: v("retrieval_fusion"),
		WeightDense: v("retrieval_weight_dense"), WeightSparse: v("retrieval_weight_sparse")}
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
	if rest, ok := strings.CutPrefix(path, "retrieval."); ok {
		if i := strings.IndexAny(rest, ".["); i > 0 {
			rest = rest[:i]
		}
		switch rest {
		case "enabled", "mode", "top_k", "score_threshold", "tags", "fusion", "weights":
			return "retrieval_" + rest
		}
		return "retrieval"
	}
	return fieldOf(path, "id", "name", "model", "system_prompt", "temperature", "output_schema", "mcp_servers", "retrieval")
}

// fieldOf is the one of fields that an error's path names, or is a part
// of (mcp_servers[0].url is mcp_servers'), or "".
func fieldOf(path string, fields ...string) string {
	if i := strings.IndexAny(path, ".["); i > 0 {
		path = path[:i]
	}
	if slices.Contains(fields, path) {
		return path
	}
	return ""
}

// fieldErrors files the API's errors under the form's fields (field
// names the field of an error's path, "" for none).
func fieldErrors(apiErrors map[string]string, field func(path string) string) (map[string]string, []string) {
	out := map[string]string{}
	var other []string
	for path, msg := range apiErrors {
		f := field(path)
		if f == "" {
			other = append(other, path+": "+msg)
			continue
		}
		// A field's own error needs no path; a part of it (a list's
		// item, an object's key) is named.
		if own := strings.HasPrefix(f, "langfuse_") || path == "retrieval."+strings.TrimPrefix(f, "retrieval_"); path != f && !own {
			msg = path + ": " + msg
		}
		if out[f] != "" {
			msg = out[f] + "; " + msg
		}
		out[f] = msg
	}
	return out, other
}

// formProblem is an API error for a form (the agent editor's fields are
// formField): the errors filed under its fields, and the detail with the
// errors no field takes.
func (a apiResult) formProblem(field func(path string) string) (map[string]string, string) {
	pr := a.Problem()
	fields, other := fieldErrors(pr.Errors, field)
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
		LangfuseSecretShown: r.PostFormValue("langfuse_secret_shown"), Retrieval: readRetrievalForm(r),
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
	}{{"output_schema", f.OutputSchema}, {"mcp_servers", f.MCPServers}} {
		if strings.TrimSpace(j.text) == "" {
			clear(j.field)
			continue
		}
		var raw json.RawMessage
		if err := json.Unmarshal([]byte(j.text), &raw); err != nil {
			errs[j.field] = "is not JSON: " + err.Error()
			continue
		}
		b[j.field] = raw
	}
	if f.Retrieval.Shown {
		ret, retErrs := f.Retrieval.body(f.Editing)
		b["retrieval"] = ret
		maps.Copy(errs, retErrs)
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
	f := agentForm{Editing: true, ID: a.ID, Version: a.Version, Name: a.Name, Model: a.Model, SystemPrompt: a.SystemPrompt,
		SecretsUnreadable: a.SecretsUnreadable}
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
	f.Retrieval = retrievalFormOf(a.Retrieval)
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
	f := agentForm{Retrieval: retrievalFormOf(agents.DefaultRetrieval()), Errors: map[string]string{}}
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
		f.Errors, p.Error = res.formProblem(formField)
		status = res.Status // 412 for a stale version, 403, ...
		if status == http.StatusPreconditionFailed {
			p.Error = c.offerStored(r, s, &f, p.Error)
		}
	default:
		http.Redirect(w, r, "/console/agents?done=agent-saved", http.StatusSeeOther)
		return
	}
	f.LangfuseSecret = "" // never echo a secret back into the page
	p.Data = f
	c.render(w, status, "agent", p)
}

// offerStored answers a save refused for a stale version: the form keeps
// what was typed, lists the stored version's fields that differ, and
// names that version, so that saving again replaces it on purpose.
func (c *Console) offerStored(r *http.Request, s *session, f *agentForm, detail string) string {
	var a agents.Agent
	if err := c.api(r, s, http.MethodGet, "/v1/agents/"+url.PathEscape(f.ID), nil).Decode(&a); err != nil {
		return detail + " It could not be read again; reload the page."
	}
	f.Conflict = conflicts(*f, formOf(a))
	f.Version = a.Version
	return detail + " Your changes are still in the form, and the stored version's values that differ are listed under it. " +
		"Save again to replace version " + strconv.Itoa(a.Version) + " with the form, or reload the agent to start from the stored one."
}

// conflicts lists the fields of stored that differ from the form's.
func conflicts(form, stored agentForm) []conflictField {
	var out []conflictField
	add := func(label, mine, theirs string) {
		if mine != theirs {
			out = append(out, conflictField{label, theirs})
		}
	}
	add("Name", form.Name, stored.Name)
	add("Model", form.Model, stored.Model)
	add("System prompt", form.SystemPrompt, stored.SystemPrompt)
	add("Temperature", form.Temperature, stored.Temperature)
	add("Output schema", compactJSON(form.OutputSchema), compactJSON(stored.OutputSchema))
	add("MCP servers", compactJSON(form.MCPServers), compactJSON(stored.MCPServers))
	add("Langfuse public key", form.LangfusePublicKey, stored.LangfusePublicKey)
	add("Langfuse host", form.LangfuseHost, stored.LangfuseHost)
	add("Langfuse prompt name", form.LangfusePromptName, stored.LangfusePromptName)
	add("Langfuse label", form.LangfuseLabel, stored.LangfuseLabel)
	if form.Retrieval.Shown && form.Retrieval != stored.Retrieval {
		out = append(out, conflictField{"Retrieval", stored.Retrieval.String()})
	}
	return out
}

// compactJSON is s without insignificant white space (s when not JSON).
func compactJSON(s string) string {
	var b bytes.Buffer
	if json.Compact(&b, []byte(s)) != nil {
		return strings.TrimSpace(s)
	}
	return b.String()
}

// String says what the settings do, in a line.
func (f retrievalForm) String() string {
	if !f.Enabled {
		return "off"
	}
	out := f.Mode + ", top " + f.TopK
	if f.Threshold != "" {
		out += ", relevance ≥ " + f.Threshold
	}
	if f.Tags != "" {
		out += ", tags " + f.Tags
	}
	if f.Fusion != "" {
		out += ", fusion " + f.Fusion
	}
	if f.WeightDense != "" {
		out += ", weights dense " + f.WeightDense + " sparse " + f.WeightSparse
	}
	return out
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
			out.Errors, out.Detail = res.formProblem(formField)
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
