// Package ingest turns uploaded files into chunks: it decides a file's type
// from its bytes and name, extracts normalised text with its structure
// (sections with heading paths, page spans), and runs the pipeline that the
// ingest job calls: extract, chunk, store, with the document's stage and
// progress recorded as it goes.
//
// Receiving, storing and serving a file never needs it whole in memory: a
// Spool holds it on disk while it arrives, Detect reads only what it needs
// of it, and the Store keeps a document's original bytes in parts that
// Create writes and OpenContent reads one at a time.
//
// Third-party parsers run behind recover and a time limit; every failure a
// user can act on is an *Error with a stable code.
package ingest
