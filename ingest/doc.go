// Package ingest is ragd's document domain: uploads in, searchable chunks
// out.
//
// Intake: Detect decides a file's type from its bytes first and its name
// second (PDF, DOCX, HTML, Markdown, text). Receiving, storing and serving
// a file never needs it whole in memory: a Spool holds an upload on disk
// while it arrives and is hashed, Detect reads only what it needs of it,
// and the Store keeps a document's original bytes in parts of BlobPartSize
// that Create writes (with the document row and its job, through an
// Enqueuer, in one transaction) and OpenContent streams back one at a time.
// Create also recognises the tenant's duplicates and replays Idempotency-Keys.
//
// Extraction: the extractors produce normalised text with its structure
// (sections with heading paths, page spans). Servers never run them on
// untrusted bytes in their own process: a Sandbox runs them in child
// processes (this program started again, see ServeIfSandboxChild) limited
// in memory, CPU and wall-clock time, so that Go's fatal errors and
// parsers that never return cost one child, not the server. Extract, in
// process, adds only recover and a time limit.
//
// Pipeline is what the ingest job runs for one content version of a
// document: extract (in the Sandbox), chunk, store, and, given an embedder
// and a vector store, embed and index, recording the document's stage and
// progress and ending it ready or failed. It is safe to run again after a
// crash or a second delivery: chunk ids are deterministic (ChunkID) and a
// version's chunks are replaced in one transaction. Rebuild writes the
// vector store again from Postgres, the source of truth.
//
// Quotas (documents, stored bytes, embedding tokens a month) are checked
// per tenant at upload and before embedding; Usage reports them with what
// is used, for billing.
//
// Every failure a user can act on is an *Error with a stable code (Code*
// constants), recorded on the failed document; every Store method takes
// the tenant id and filters on it.
package ingest
