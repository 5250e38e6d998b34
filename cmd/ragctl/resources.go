package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

// resources are the kinds of objects ragctl manages, all through
// resource's one implementation.
func (e *env) resources() []*cobra.Command {
	return []*cobra.Command{
		resource[document]{
			Name: "docs", Short: "documents: list, show, delete, reindex", Path: "/v1/documents",
			Filters: []option{
				{Name: "status", Usage: "only documents in this status", Values: []string{"queued", "processing", "ready", "failed"}},
				{Name: "tag", Usage: "only documents with this tag"},
			},
			Header: "ID\tSTATUS\tTYPE\tCHUNKS\tTITLE",
			Row: func(d document) string {
				chunks := "-"
				if d.ChunkCount != nil {
					chunks = fmt.Sprint(*d.ChunkCount)
				}
				status := d.Status
				if d.Error != nil {
					status += " (" + d.Error.Code + ")"
				}
				return strings.Join([]string{d.ID, status, d.Type, chunks, d.Title}, "\t")
			},
			Verbs: []verb{
				show("document"),
				{Name: "rm", Args: "ID", Short: "delete a document", Method: "DELETE", Done: documentStatus},
				{Name: "reindex", Args: "ID", Short: "process a document again, as a new version", Method: "POST", Suffix: "/reindex", Done: documentStatus},
			},
		}.command(e),

		resource[agent]{
			Name: "agents", Short: "agents (FILE: JSON or YAML)", Path: "/v1/agents",
			Header: "ID\tNAME\tMODEL\tRETRIEVAL",
			Row: func(a agent) string {
				return fmt.Sprintf("%s\t%s\t%s\t%s", a.ID, a.Name, a.Model, a.Retrieval.summary())
			},
			Verbs: []verb{
				show("agent"),
				{Name: "create", Args: "FILE", Short: "create an agent from a JSON or YAML file", Method: "POST", Body: fromFile},
				{Name: "edit", Args: "ID FILE", Short: "change an agent by a merge patch in a JSON or YAML file", Method: "PATCH", Body: fromFile},
				{Name: "rm", Args: "ID", Short: "delete an agent", Method: "DELETE", Done: said("deleted")},
			},
		}.command(e),

		resource[apiKey]{
			Name: "keys", Short: "the tenant's API keys (needs keys:write)", Path: "/v1/api-keys",
			Header: "ID\tNAME\tKEY\tSCOPES\tSTATE",
			Row: func(k apiKey) string {
				state := "active"
				if k.RevokedAt != nil {
					state = "revoked"
				}
				return fmt.Sprintf("%s\t%s\t%s…\t%s\t%s", k.ID, k.Name, k.Display, strings.Join(k.Scopes, ","), state)
			},
			Verbs: []verb{
				{
					Name: "create", Short: "mint a key (shown once)", Method: "POST",
					Flags: []option{{Name: "name", Usage: "what the key is for"}, {Name: "scopes", Usage: "comma-separated scopes (default: all but keys:write)"}},
					Body: func(_ []string, flag func(string) string) (any, error) {
						body := map[string]any{"name": flag("name")}
						if s := flag("scopes"); s != "" {
							body["scopes"] = strings.Split(s, ",")
						}
						return body, nil
					},
					Done: func(_ string, answer json.RawMessage) (string, error) {
						var k struct{ ID, Key string }
						err := json.Unmarshal(answer, &k)
						return fmt.Sprintf("key %s (shown once, keep it safe):\n%s", k.ID, k.Key), err
					},
				},
				{Name: "revoke", Args: "ID", Short: "revoke a key", Method: "DELETE", Done: said("revoked")},
			},
		}.command(e),

		e.webhooks(),
		e.sources(),
		e.embeddings(),

		resource[tenant]{
			Name: "tenants", Short: "tenants (the admin token)", Path: "/v1/tenants",
			Header: "ID\tSLUG\tNAME\tCLERK ORG",
			Row: func(t tenant) string {
				org := "-"
				if t.ClerkOrgID != nil {
					org = *t.ClerkOrgID
				}
				return strings.Join([]string{t.ID, t.Slug, t.Name, org}, "\t")
			},
			Verbs: []verb{
				show("tenant"),
				{
					Name: "create", Args: "NAME...", Short: "create a tenant", Method: "POST",
					Flags: []option{{Name: "slug", Usage: "its slug (default: made from the name)"}, {Name: "clerk-org", Usage: "its Clerk organisation id"}},
					Body: func(args []string, flag func(string) string) (any, error) {
						name := strings.Join(args, " ")
						if strings.TrimSpace(name) == "" {
							return nil, usageErr("tenants create NAME")
						}
						body := map[string]any{"name": name}
						if s := flag("slug"); s != "" {
							body["slug"] = s
						}
						if o := flag("clerk-org"); o != "" {
							body["clerk_org_id"] = o
						}
						return body, nil
					},
				},
				{Name: "edit", Args: "ID FILE", Short: "change a tenant (name, quotas, settings) by a merge patch in a JSON or YAML file", Method: "PATCH", Body: fromFile},
				{Name: "rm", Args: "ID", Short: "delete a tenant and everything it owns", Method: "DELETE", Done: said("deleted")},
			},
		}.command(e),
	}
}

// agent, apiKey and tenant are what the ls tables show of each.
type agent struct {
	ID, Name, Model string
	Retrieval       retrieval
}

// retrieval is what agents ls says of an agent's retrieval settings.
type retrieval struct {
	Enabled        bool
	Mode           string
	TopK           int      `json:"top_k"`
	ScoreThreshold *float64 `json:"score_threshold"`
}

// summary is "hybrid, top 6, relevance ≥ 0.3" (the server's defaults
// where the agent sets none), or "off".
func (r retrieval) summary() string {
	if !r.Enabled {
		return "off"
	}
	s := cmp.Or(r.Mode, "hybrid")
	if r.TopK > 0 {
		s += fmt.Sprintf(", top %d", r.TopK)
	}
	if r.ScoreThreshold != nil {
		s += fmt.Sprintf(", relevance ≥ %g", *r.ScoreThreshold)
	}
	return s
}

type apiKey struct {
	ID, Name, Display string
	Scopes            []string
	RevokedAt         *time.Time `json:"revoked_at"`
}

type tenant struct {
	ID, Name, Slug string
	ClerkOrgID     *string `json:"clerk_org_id"`
}

func show(noun string) verb {
	return verb{Name: "show", Args: "ID", Short: "show one " + noun, Method: "GET"}
}

// said reports an answer without a body: "revoked ID".
func said(what string) func(string, json.RawMessage) (string, error) {
	return func(id string, _ json.RawMessage) (string, error) { return what + " " + id, nil }
}

// documentStatus reports a document's new status: "ID: deleting".
func documentStatus(_ string, answer json.RawMessage) (string, error) {
	var d document
	err := json.Unmarshal(answer, &d)
	return fmt.Sprintf("%s: %s", d.ID, d.Status), err
}

// fromFile reads the body from the file named by the last argument.
func fromFile(args []string, _ func(string) string) (any, error) {
	return readSpec(args[len(args)-1])
}

// readSpec reads a JSON or YAML file as JSON.
func readSpec(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	js, err := yaml.YAMLToJSON(b)
	if err != nil {
		return nil, usageErr("%s: not JSON or YAML: %v", path, err)
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		return nil, usageErr("%s: must hold an object: %v", path, err)
	}
	return m, nil
}
