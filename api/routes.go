package api

import (
	"net/http"

	"github.com/ragd/ragd/agents"
)

// route is one entry of the API surface. The OpenAPI test walks this table;
// ui routes are pages for people, not API, and are not in it.
type route struct {
	pattern string
	handler http.Handler
	ui      bool
}

// routes is the whole API, in one screen.
func routes(d Deps, auth *authenticator) []route {
	log, store, docs := d.Logger, d.ControlPlane, d.Documents
	uploads := newUploads(d)
	admin := func(h handler) http.Handler { return serve(log, auth.admin(h)) }
	tenant := func(s agents.Scope, h tenantHandler) http.Handler { return serve(log, auth.tenant(s, h)) }
	return append([]route{
		{"GET /healthz", handleHealthz(), false},
		{"GET /readyz", handleReadyz(d.Ready), false},
		{"GET /openapi.json", handleOpenAPI(), false},
		{"GET /metrics", handleMetrics(log, d.Metrics, d.MetricsToken), false},

		{"POST /v1/tenants", admin(handleCreateTenant(store)), false},
		{"GET /v1/tenants", admin(handleListTenants(store)), false},
		{"GET /v1/tenants/{tenant_id}", admin(handleGetTenant(store)), false},
		{"PATCH /v1/tenants/{tenant_id}", admin(handleUpdateTenant(store)), false},
		{"DELETE /v1/tenants/{tenant_id}", admin(handleDeleteTenant(store)), false},
		{"POST /v1/tenants/{tenant_id}/api-keys", admin(handleAdminCreateKey(store)), false},
		{"GET /v1/tenants/{tenant_id}/usage", admin(handleTenantUsage(store, docs)), false},
		{"GET /v1/tenants/{tenant_id}/usage/daily", admin(handleTenantUsageDaily(store, docs)), false},
		{"POST /v1/tenants/{tenant_id}/reindex", admin(handleReindexTenant(store, docs)), false},
		{"GET /v1/tenant", tenant(anyScope, handleOwnTenant(store)), false},
		{"GET /v1/usage", tenant(agents.ScopeDocumentsRead, handleUsage(docs)), false},
		{"GET /v1/usage/daily", tenant(agents.ScopeDocumentsRead, handleUsageDaily(docs)), false},

		{"GET /v1/api-keys", tenant(agents.ScopeKeysWrite, handleListKeys(store)), false},
		{"POST /v1/api-keys", tenant(agents.ScopeKeysWrite, handleCreateKey(store)), false},
		{"DELETE /v1/api-keys/{key_id}", tenant(agents.ScopeKeysWrite, handleRevokeKey(store)), false},

		{"GET /v1/agents", tenant(agents.ScopeAgentsRead, handleListAgents(store)), false},
		{"POST /v1/agents", tenant(agents.ScopeAgentsWrite, handleCreateAgent(store)), false},
		{"GET /v1/agents/{agent_id}", tenant(agents.ScopeAgentsRead, handleGetAgent(store)), false},
		{"PATCH /v1/agents/{agent_id}", tenant(agents.ScopeAgentsWrite, handleUpdateAgent(store)), false},
		{"DELETE /v1/agents/{agent_id}", tenant(agents.ScopeAgentsWrite, handleDeleteAgent(store)), false},
		{"POST /v1/agents/{agent_id}/search", tenant(agents.ScopeSearch, handleAgentSearch(store, d.Searcher, d.Metrics, docs)), false},

		{"POST /v1/search", tenant(agents.ScopeSearch, handleSearch(d.Searcher, d.Metrics, docs)), false},
		{"POST /v1/evaluations", tenant(agents.ScopeSearch, handleCreateEvaluation(d.Evals, d.Searcher, docs)), false},
		{"GET /v1/evaluations/{evaluation_id}", tenant(agents.ScopeSearch, handleGetEvaluation(d.Evals)), false},
		{"POST /v1/evaluations/{evaluation_id}/apply", tenant(agents.ScopeAgentsWrite, handleApplyEvaluation(d.Evals)), false},

		{"POST /v1/documents", tenant(agents.ScopeDocumentsWrite, handleUpload(docs, uploads)), false},
		{"GET /v1/documents", tenant(agents.ScopeDocumentsRead, handleListDocuments(docs)), false},
		{"GET /v1/documents/{document_id}", tenant(agents.ScopeDocumentsRead, handleGetDocument(docs)), false},
		{"PATCH /v1/documents/{document_id}", tenant(agents.ScopeDocumentsWrite, handleUpdateDocument(docs)), false},
		{"GET /v1/documents/{document_id}/history", tenant(agents.ScopeDocumentsRead, handleDocumentHistory(docs)), false},
		{"GET /v1/documents/{document_id}/events", tenant(agents.ScopeDocumentsRead, handleDocumentEvents(docs, d.Watcher)), false},
		{"GET /v1/documents/{document_id}/chunks", tenant(agents.ScopeDocumentsRead, handleListChunks(docs)), false},
		{"GET /v1/documents/{document_id}/content", tenant(agents.ScopeDocumentsRead, handleDocumentContent(log, docs)), false},
		{"POST /v1/documents/{document_id}/reindex", tenant(agents.ScopeDocumentsWrite, handleReindexDocument(docs, uploads)), false},
		{"DELETE /v1/documents/{document_id}", tenant(agents.ScopeDocumentsWrite, handleDeleteDocument(docs)), false},

		{"POST /v1/webhooks", tenant(agents.ScopeWebhooksWrite, handleCreateWebhook(d.Webhooks)), false},
		{"GET /v1/webhooks", tenant(agents.ScopeWebhooksWrite, handleListWebhooks(d.Webhooks)), false},
		{"GET /v1/webhooks/{webhook_id}", tenant(agents.ScopeWebhooksWrite, handleGetWebhook(d.Webhooks)), false},
		{"PATCH /v1/webhooks/{webhook_id}", tenant(agents.ScopeWebhooksWrite, handleUpdateWebhook(d.Webhooks)), false},
		{"DELETE /v1/webhooks/{webhook_id}", tenant(agents.ScopeWebhooksWrite, handleDeleteWebhook(d.Webhooks)), false},
		{"GET /v1/webhooks/{webhook_id}/deliveries", tenant(agents.ScopeWebhooksWrite, handleListDeliveries(d.Webhooks)), false},
		{"POST /v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry", tenant(agents.ScopeWebhooksWrite, handleRetryDelivery(d.Webhooks)), false},

		{"POST /v1/sources", tenant(agents.ScopeSourcesWrite, handleCreateSource(d.Sources)), false},
		{"GET /v1/sources", tenant(agents.ScopeDocumentsRead, handleListSources(d.Sources)), false},
		{"GET /v1/sources/{source_id}", tenant(agents.ScopeDocumentsRead, handleGetSource(d.Sources)), false},
		{"PATCH /v1/sources/{source_id}", tenant(agents.ScopeSourcesWrite, handleUpdateSource(d.Sources)), false},
		{"DELETE /v1/sources/{source_id}", tenant(agents.ScopeSourcesWrite, handleDeleteSource(d.Sources)), false},
		{"POST /v1/sources/{source_id}/sync", tenant(agents.ScopeSourcesWrite, handleSyncSource(d.Sources)), false},
		{"GET /v1/sources/{source_id}/runs", tenant(agents.ScopeDocumentsRead, handleListRuns(d.Sources)), false},

		// River's job dashboard (it serves its own API under /jobs/api/).
		{"/jobs/", auth.adminUI(orNotFound(d.JobsUI)), true},
		// The tenants' console: pages that call the routes above in-process.
		{"/console/", orNotFound(d.console), true},
		{"GET /{$}", http.RedirectHandler("/console/", http.StatusSeeOther), true},
	}, migrationRoutes(d, auth)...)
}

// orNotFound serves h, or 404 when the server runs without it.
func orNotFound(h http.Handler) http.Handler {
	if h == nil {
		return http.NotFoundHandler()
	}
	return h
}
