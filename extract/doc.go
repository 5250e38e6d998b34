// Package extract turns a document's bytes into normalised text with its
// structure: sections with their heading paths, page spans, a title. It
// has no store and does no I/O of its own; new formats land here.
//
// Detect decides a file's type from its bytes first and its name second
// (PDF, DOCX, HTML, Markdown, text), reading only what it needs. Each type
// has an Extractor (Builtin returns them): the PDF reader (pdf*.go: its
// own syntax, cross-reference, object-stream, decryption and
// content-stream readers around ledongthuc/pdf), DOCX (docx.go), HTML
// (html.go: main content by go-trafilatura), Markdown and text; all build
// their text through one builder (builder.go), which normalises it and
// bounds it by Limits.
//
// Extract runs an extractor in this process behind recover and a time
// limit: enough for trusted input and tests, not for untrusted files,
// since Go's fatal errors (out of memory, stack overflow) and parsers that
// never return cannot be recovered from. Servers extract in the child
// processes of package sandbox.
//
// A file that cannot be read fails with an *Error whose Code (Code*
// constants) is recorded on the document and matched on by clients.
package extract
