// Package ingest is ragd's document domain: uploads in, searchable chunks
// out.
//
// Intake: extract.Detect decides a file's type from its bytes first and
// its name second. Receiving, storing and serving a file never needs it
// whole in memory: a Spool holds an upload on disk while it arrives and
// is hashed, Detect reads only what it needs of it,
// and the Store keeps a document's original bytes in parts of BlobPartSize
// that Create writes (with the document row and its job, through an
// Enqueuer, in one transaction) and OpenContent streams back one at a time.
// Create also recognises the tenant's duplicates and replays Idempotency-Keys.
//
// Pipeline is what the ingest job runs for one content version of a
// document: extract (package extract, in the child processes of a
// sandbox.Pool), chunk, store, and, given an embedder
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
