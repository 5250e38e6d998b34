// Package ragd holds the vocabulary every ragd package shares: the kinds of
// error the domain packages return (ErrNotFound, ValidationError,
// ConflictError, QuotaError, ...; the HTTP layer maps them to problem
// responses in one place), optional fields for partial updates, and list
// pagination by cursor.
//
// The packages that do the work are its siblings, one concept each, from
// the bottom up:
//
//	secret    AES-256-GCM sealing and redaction
//	chunker   token-aware, structure-first splitting (pure)
//	extract   the extractors: detection, PDF, DOCX, HTML, Markdown, text (pure);
//	          extract/sandbox runs them in limited child processes
//	embedder  OpenAI-compatible and local embedders, the embedding cache
//	search    vector stores (Qdrant, embedded), BM25, hybrid search, the
//	          index of each embedding space
//	postgres  the pool, schema migrations and the schema check
//	metrics   Prometheus metrics
//	agents    the control plane: tenants (and their settings), API keys, agents
//	usage     what each tenant uses, for billing and quotas
//	spaces    a tenant's embedding spaces and the migrations between them
//	ingest    documents: intake, quotas, the pipeline
//	evals     retrieval evaluations
//	webhooks  signed webhooks of documents' and evaluations' events
//	jobs      River: the queue, its workers, the supervisor, the dashboard
//	oidcauth  bearer tokens and sign-in of an OIDC identity provider
//	console   the tenants' web console (it calls the API in process)
//	api       the HTTP API: routes, auth, problem responses
//	server    assembles them all: serve, worker and the tests call it
//
// cmd/ragd is the service's command line and cmd/ragctl the client's.
// Arrows point down this list: a package imports only packages above it,
// and only api, server and cmd import jobs or api.
package ragd
