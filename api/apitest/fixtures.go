package apitest

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
