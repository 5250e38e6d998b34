// Package search is ragd's retrieval: the vector store and the searches
// tenants make against it.
//
// VectorStore is the vector store interface, with two implementations that
// pass the same conformance suite (storetest): Qdrant (one collection for all
// tenants, tenant_id indexed with is_tenant, rate limits returned as
// *RateLimitError) and Embedded, an in-memory store persisted as an
// fsynced, checksummed log in a directory that one process at a time may
// open (ErrInUse otherwise). Embedded indexes each tenant's partition
// (partition.go): an HNSW graph over int8 codes for dense vectors from
// annMinPoints points, an exact scan below it and for selective filters
// (hnsw.go, quant.go, the AVX2 kernels in dot_amd64.s), posting lists
// searched with MaxScore for sparse ones. A checkpoint beside the log
// (checkpoint.go) holds the whole state as of a point in the log (points,
// vectors, graphs): a start reads it, maps its vectors and codes instead
// of holding them on the heap, and replays only the log written after it;
// a missing, stale or damaged checkpoint costs a replay of the whole log
// and a rebuild of the graphs, never a wrong answer. Every VectorStore
// method takes the tenant id and
// touches only that tenant's points; the store is derived from Postgres and
// can be rebuilt from it.
//
// Sparse vectors are BM25 term weights computed in Go (bm25.go), exactly as
// FastEmbed's Qdrant/bm25 does, so both stores index the same terms.
//
// Searcher answers a tenant's Request in dense, sparse or hybrid mode (the
// two lists fused by Reciprocal Rank Fusion, in the store) with metadata
// filters. It embeds the query through a small cache of that tenant's own
// queries and keeps only hits of documents that may be shown, at their
// completely indexed version, with what a chatbot needs to cite them.
//
// Each embedding space (a model at a dimension count, Space) has an index
// of its own: its embedder and its store. Indexes holds the server's
// default and opens the others on first use; a routed Searcher asks its
// Router (package spaces) which space a tenant's searches use, at each
// search.
package search
