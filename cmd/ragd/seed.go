package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/secret"
)

type seedTenant struct {
	name, slug, clerkOrg string
	agents               []seedAgent
}

type seedAgent struct {
	id    string
	patch func() agents.AgentPatch
}

func demoTenants() []seedTenant {
	str := ragd.Some[string]
	sec := func(s string) *secret.String { v := secret.String(s); return &v }
	return []seedTenant{
		{name: "Acme Support", slug: "acme", clerkOrg: "org_demo_acme", agents: []seedAgent{
			{"acme-helpdesk", func() agents.AgentPatch {
				return agents.AgentPatch{
					Name: str("Acme Helpdesk"), Model: str("gpt-4o-mini"),
					SystemPrompt: str("You answer Acme customers' questions from the knowledge base. Cite your sources."),
					Temperature:  ragd.Some(0.2),
					MCPServers: ragd.Some([]agents.MCPServerIn{{
						Name: "tickets", URL: "https://mcp.acme.example/mcp", Transport: agents.TransportStreamableHTTP,
						Headers:      map[string]*secret.String{"Authorization": sec("Bearer demo-acme-ticket-token-0001")},
						AllowedTools: []string{"create_ticket", "get_ticket"},
					}}),
					Langfuse: ragd.Some(agents.LangfusePatch{
						PublicKey: str("pk-lf-demo-acme"), SecretKey: ragd.Some(secret.String("sk-lf-demo-acme-secret-0001")),
						Host: str(agents.DefaultLangfuseHost), PromptName: str("helpdesk"), Label: str("production"),
					}),
				}
			}},
			{"acme-triage", func() agents.AgentPatch {
				return agents.AgentPatch{
					Name: str("Acme Ticket Triage"), Model: str("gpt-4o-mini"),
					SystemPrompt: str("Classify the customer's message."),
					Temperature:  ragd.Some(0.0),
					OutputSchema: ragd.Some(json.RawMessage(`{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"category":{"enum":["billing","bug","question","other"]},"urgency":{"type":"integer","minimum":1,"maximum":5},"summary":{"type":"string"}},"required":["category","urgency","summary"],"additionalProperties":false}`)),
					Retrieval:    ragd.Some(agents.RetrievalPatch{Enabled: ragd.Some(false)}),
				}
			}},
		}},
		{name: "Globex Research", slug: "globex", clerkOrg: "org_demo_globex", agents: []seedAgent{
			{"globex-analyst", func() agents.AgentPatch {
				return agents.AgentPatch{
					Name: str("Globex Research Analyst"), Model: str("gpt-4o"),
					SystemPrompt: str("You summarise Globex research papers and answer with citations."),
					OutputSchema: ragd.Some(json.RawMessage(`{"type":"object","properties":{"answer":{"type":"string"},"citations":{"type":"array","items":{"type":"object","properties":{"document_id":{"type":"string"},"page":{"type":"integer"}},"required":["document_id"]}}},"required":["answer","citations"]}`)),
					Retrieval:    ragd.Some(agents.RetrievalPatch{TopK: ragd.Some(12), Mode: str(agents.ModeHybrid), Tags: ragd.Some([]string{"papers"})}),
					Langfuse: ragd.Some(agents.LangfusePatch{
						PublicKey: str("pk-lf-demo-globex"), SecretKey: ragd.Some(secret.String("sk-lf-demo-globex-secret-0002")),
						Host: str("https://langfuse.globex.example"),
					}),
				}
			}},
			{"globex-lab-assistant", func() agents.AgentPatch {
				return agents.AgentPatch{
					Name: str("Globex Lab Assistant"), Model: str("gpt-4o-mini"),
					SystemPrompt: str("You help lab staff find procedures."),
					MCPServers: ragd.Some([]agents.MCPServerIn{
						{Name: "inventory", URL: "https://inventory.globex.example/sse", Transport: agents.TransportSSE,
							Headers: map[string]*secret.String{"X-Api-Key": sec("demo-globex-inventory-key-0002")}},
						{Name: "calendar", URL: "https://calendar.globex.example/mcp", AllowedTools: []string{"list_bookings"}},
					}),
					Retrieval: ragd.Some(agents.RetrievalPatch{Mode: str(agents.ModeDense)}),
				}
			}},
		}},
		{name: "Initech HR", slug: "initech", clerkOrg: "org_demo_initech", agents: []seedAgent{
			{"initech-hr-bot", func() agents.AgentPatch {
				return agents.AgentPatch{
					Name: str("Initech HR Bot"), Model: str("gpt-4o-mini"),
					SystemPrompt: str("You answer questions about Initech's HR policies only."),
					Retrieval:    ragd.Some(agents.RetrievalPatch{TopK: ragd.Some(6), Mode: str(agents.ModeSparse), Tags: ragd.Some([]string{"policy"})}),
				}
			}},
			{"initech-onboarding", func() agents.AgentPatch {
				return agents.AgentPatch{
					Name: str("Initech Onboarding Guide"), Model: str("gpt-4o-mini"),
					SystemPrompt: str("You walk new hires through their first week."),
					OutputSchema: ragd.Some(json.RawMessage(`{"type":"object","properties":{"steps":{"type":"array","items":{"type":"string"}}},"required":["steps"]}`)),
				}
			}},
		}},
	}
}

// demoKeys keeps the demo tenants' keys between runs of seed (outside
// production: a file in the data directory, as the admin token is), so
// that a second `make run` can print them again; nil keeps none.
type demoKeys interface {
	Key(slug string) string
	Save(slug, key string) error
}

// seed creates the demo tenants and agents that do not exist yet and prints
// an API key for each tenant: a new one, with every scope (the console's
// pages need them all), for a tenant it created; for one that exists, the
// key kept (a new one when none is kept). Without keys, a tenant that
// exists gets no key printed. Running it again creates nothing new but
// keys that were lost.
func seed(ctx context.Context, store *agents.ControlPlane, stdout io.Writer, keys demoKeys) error {
	created := 0
	for _, st := range demoTenants() {
		t, err := store.GetTenantBySlug(ctx, st.slug)
		isNew := false
		if errors.Is(err, ragd.ErrNotFound) {
			t, err = store.CreateTenant(ctx, agents.TenantPatch{
				Name: ragd.Some(st.name), Slug: ragd.Some(st.slug), ClerkOrgID: ragd.Some(st.clerkOrg),
				Settings: ragd.Some(json.RawMessage(`{"demo":true}`)),
			})
			isNew = true
		}
		if err != nil {
			return fmt.Errorf("seed tenant %s: %w", st.slug, err)
		}
		for _, sa := range st.agents {
			exists, err := store.AgentExists(ctx, t.ID, sa.id)
			if err == nil && !exists {
				p := sa.patch()
				p.ID = ragd.Some(sa.id)
				_, err = store.CreateAgent(ctx, t.ID, p)
				if err == nil {
					created++
				}
			}
			if err != nil {
				return fmt.Errorf("seed agent %s: %w", sa.id, err)
			}
		}
		kept := ""
		if keys != nil && !isNew {
			kept = keys.Key(st.slug)
			// A kept key that no longer works, or that predates a scope
			// added since (sources:write), is replaced: the demo keys have
			// every scope, so every console page works.
			if kept != "" {
				switch k, err := store.Authenticate(ctx, kept); {
				case errors.Is(err, ragd.ErrUnauthorized), err == nil && !hasAll(k):
					kept = ""
				case err != nil:
					return fmt.Errorf("check the kept key of %s: %w", st.slug, err)
				}
			}
		}
		switch {
		case kept != "":
			fmt.Fprintf(stdout, "tenant %-8s %s  api key: %s\n", st.slug, t.ID, kept)
		case isNew || keys != nil:
			_, key, err := store.CreateKey(ctx, t.ID, agents.KeyInput{Name: "demo", Scopes: agents.AllScopes})
			if err != nil {
				return fmt.Errorf("seed key for %s: %w", st.slug, err)
			}
			if keys != nil {
				if err := keys.Save(st.slug, key); err != nil {
					return err
				}
			}
			fmt.Fprintf(stdout, "tenant %-8s %s  api key: %s\n", st.slug, t.ID, key)
		default:
			fmt.Fprintf(stdout, "tenant %-8s %s  exists (its key was shown when it was created; the admin mints more: POST /v1/tenants/%s/api-keys)\n", st.slug, t.ID, t.ID)
		}
	}
	fmt.Fprintf(stdout, "seeded: %d new agents\n", created)
	return nil
}

// keyFile keeps demo keys in a file of "slug key" lines (mode 0600).
type keyFile string

// Key returns the key kept for slug, or "".
func (f keyFile) Key(slug string) string {
	b, err := os.ReadFile(string(f))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if s, k, ok := strings.Cut(strings.TrimSpace(line), " "); ok && s == slug {
			return k
		}
	}
	return ""
}

// Save keeps key for slug (a line added; the last one for a slug counts
// when read, as Key reads the first: so the file is rewritten).
func (f keyFile) Save(slug, key string) error {
	var lines []string
	if b, err := os.ReadFile(string(f)); err == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if s, _, ok := strings.Cut(line, " "); ok && s != slug {
				lines = append(lines, line)
			}
		}
	}
	lines = append(lines, slug+" "+key)
	if err := os.MkdirAll(filepath.Dir(string(f)), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(string(f), []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return fmt.Errorf("keep the demo keys: %w", err)
	}
	return nil
}

// hasAll says whether k has every scope there is.
func hasAll(k agents.APIKey) bool {
	for _, sc := range agents.AllScopes {
		if !k.Has(sc) {
			return false
		}
	}
	return true
}
