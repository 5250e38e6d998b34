package apitest

import (
	"context"
	"testing"

	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/secret"
)

// FullAgent is an agent with every field set, secrets included.
func FullAgent(id string) map[string]any {
	return map[string]any{
		"id": id, "name": "Support Bot", "model": "gpt-4o-mini", "system_prompt": "Be helpful.", "temperature": 0.3,
		"output_schema": map[string]any{"type": "object", "properties": map[string]any{"answer": map[string]any{"type": "string"}}, "required": []string{"answer"}},
		"mcp_servers": []map[string]any{{
			"name": "tickets", "url": "https://mcp.example.com/mcp", "transport": "streamable_http",
			"headers":       map[string]string{"Authorization": "Bearer mcp-plaintext-secret-AAAA1111"},
			"allowed_tools": []string{"create_ticket"},
		}},
		"langfuse":  map[string]any{"public_key": "pk-lf-1", "secret_key": "sk-lf-plaintext-secret-BBBB2222", "host": "https://lf.example.com", "prompt_name": "support", "label": "production"},
		"retrieval": map[string]any{"top_k": 5, "mode": "dense", "tags": []string{"faq"}},
	}
}

// FullAgentSecrets are the secrets FullAgent holds in the clear, which no
// answer may show.
var FullAgentSecrets = []string{"mcp-plaintext-secret", "sk-lf-plaintext-secret", "AAAA1111", "BBBB2222"}

// LoseAgentKey seals the agent's secrets again with a key the server does
// not have, as if RAGD_ENCRYPTION_KEY had been changed without the old
// key kept as previous, and returns the sealed bytes now stored.
func (s *Server) LoseAgentKey(t testing.TB, tenantID, agentID string) []byte {
	t.Helper()
	ctx := context.Background()
	ad, err := agents.SealedSecrets.Binding([]string{tenantID, agentID, "true"})
	if err != nil {
		t.Fatal(err)
	}
	var sealed []byte
	if err := s.Pool.QueryRow(ctx, "SELECT secrets FROM agents WHERE tenant_id = $1 AND id = $2", tenantID, agentID).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	serverBox, err := secret.NewBox(s.EncryptionKey)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := serverBox.Open(sealed, ad)
	if err != nil {
		t.Fatalf("the agent's secrets do not open with the server's key and binding: %v", err)
	}
	other, _ := secret.NewBox(secret.NewKey())
	sealed = other.Seal(plain, ad)
	if _, err := s.Pool.Exec(ctx, "UPDATE agents SET secrets = $3 WHERE tenant_id = $1 AND id = $2", tenantID, agentID, sealed); err != nil {
		t.Fatal(err)
	}
	return sealed
}
