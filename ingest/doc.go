// Package ingest is ragd's document domain: uploads in, searchable chunks
// out.
//
// Intake: extract.Detect decides a file's type from its bytes first and
// its name second. Receiving, storing and serving a file never needs it
// whole in memory: a Spool holds an upload on disk while it arrives and is
// hashed, and Documents keeps a document's original bytes in parts of
// BlobPartSize that Create writes (with the document row and its job, in
// one transaction) and OpenContent streams back one at a time. Create also
// recognises the tenant's duplicates, replays Idempotency-Keys and checks
// the tenant's quotas; its chunking and quota settings come from package
// agents, which owns tenants.
//
// Pipeline is what the ingest job runs for one content version of a
// document: extract (package extract, in the child processes of a
// sandbox.Pool), chunk, store, and, given the tenant's embedding spaces
// (package spaces), embed into the index of each space the version must be
// written to, recording the document's stage and progress and ending it
// ready or failed. It is safe to run again after a crash or a second
// delivery: chunk ids are deterministic (ChunkID) and a version's chunks
// are replaced in one transaction. Rebuild writes the vector store again
// from Postgres, the source of truth, and BuildIndex embeds a tenant's
// documents into an embedding migration's target.
//
// Jobs reach River through the Jobs a Documents is made with; usage goes
// to package usage in the transactions that cause it. Watcher tells the
// API's event streams that a document changed.
//
// Every failure a user can act on is an *Error with a stable code (the
// Code* constants here and in extract), recorded on the failed document;
// every Documents method takes the tenant id and filters on it.
package ingest
