// Package api is ragd's HTTP interface, built by NewHandler from Deps
// (serve and the tests both call it).
//
//   - routes.go is the whole API surface in one table, each route with its
//     scope; openapi.json describes it, a test keeps the two in step, and
//     health.go serves it with /healthz, /readyz and /metrics.
//   - auth.go authenticates the platform admin token (which may act for a
//     tenant named in the Ragd-Tenant header) and tenant API keys with
//     their scopes; another tenant's object answers 404. River's job
//     dashboard is mounted under /jobs/ for the admin.
//   - tenants.go, keys.go and agents.go are the control plane; search.go
//     serves tenant and agent searches and usage.
//   - documents.go streams uploads to a spool file, within a per-process
//     budget of bytes in flight (budget.go; beyond it 503 overloaded),
//     stores each with its job in one transaction, and streams content
//     back; events.go follows a document's progress as Server-Sent Events.
//   - json.go decodes request bodies strictly (size, unknown fields,
//     trailing data); problem.go is the one place where errors become
//     RFC 9457 problem responses with a stable code.
//   - middleware.go gives every request an id, a log line and metrics.
package api
