package api

import (
	"net/http"

	"github.com/ragd/ragd/agents"
)

// route is one entry of the API surface. The OpenAPI test walks this table.
type route struct {
	pattern string
	handler http.Handler
}

// routes is the whole API, in one screen.
func routes(d Deps, auth *authenticator) []route {
	log, store, docs, queue := d.Logger, d.Store, d.Documents, d.Queue
	admin := func(h handler) http.Handler { return serve(log, auth.admin(h)) }
	tenant := func(s agents.Scope, h tenantHandler) http.Handler { return serve(log, auth.tenant(s, h)) }
	return []route{
		{"GET /healthz", handleHealthz()},
		{"GET /readyz", handleReadyz(d.Ready)},
		{"GET /openapi.json", handleOpenAPI()},

		{"POST /v1/tenants", admin(handleCreateTenant(store))},
		{"GET /v1/tenants", admin(handleListTenants(store))},
		{"GET /v1/tenants/{tenant_id}", admin(handleGetTenant(store))},
		{"PATCH /v1/tenants/{tenant_id}", admin(handleUpdateTenant(store))},
		{"DELETE /v1/tenants/{tenant_id}", admin(handleDeleteTenant(store, queue))},
		{"POST /v1/tenants/{tenant_id}/api-keys", admin(handleAdminCreateKey(store))},

		{"GET /v1/api-keys", tenant(agents.ScopeKeysWrite, handleListKeys(store))},
		{"POST /v1/api-keys", tenant(agents.ScopeKeysWrite, handleCreateKey(store))},
		{"DELETE /v1/api-keys/{key_id}", tenant(agents.ScopeKeysWrite, handleRevokeKey(store))},

		{"GET /v1/agents", tenant(agents.ScopeAgentsRead, handleListAgents(store))},
		{"POST /v1/agents", tenant(agents.ScopeAgentsWrite, handleCreateAgent(store))},
		{"GET /v1/agents/{agent_id}", tenant(agents.ScopeAgentsRead, handleGetAgent(store))},
		{"PATCH /v1/agents/{agent_id}", tenant(agents.ScopeAgentsWrite, handleUpdateAgent(store))},
		{"DELETE /v1/agents/{agent_id}", tenant(agents.ScopeAgentsWrite, handleDeleteAgent(store))},
		{"POST /v1/agents/{agent_id}/search", tenant(agents.ScopeSearch, handleAgentSearch(store, d.Searcher))},

		{"POST /v1/search", tenant(agents.ScopeSearch, handleSearch(d.Searcher))},

		{"POST /v1/documents", tenant(agents.ScopeDocumentsWrite, handleUpload(docs, queue, d.MaxUploadBytes))},
		{"GET /v1/documents", tenant(agents.ScopeDocumentsRead, handleListDocuments(docs))},
		{"GET /v1/documents/{document_id}", tenant(agents.ScopeDocumentsRead, handleGetDocument(docs))},
		{"GET /v1/documents/{document_id}/chunks", tenant(agents.ScopeDocumentsRead, handleListChunks(docs))},
		{"GET /v1/documents/{document_id}/content", tenant(agents.ScopeDocumentsRead, handleDocumentContent(docs))},
		{"POST /v1/documents/{document_id}/reindex", tenant(agents.ScopeDocumentsWrite, handleReindexDocument(docs, queue))},
		{"DELETE /v1/documents/{document_id}", tenant(agents.ScopeDocumentsWrite, handleDeleteDocument(docs, queue))},
	}
}
