// Package search holds what retrieval needs besides dense vectors: BM25
// sparse vectors computed in Go (so that the Qdrant and embedded stores
// index exactly the same terms), and, as they land, the vector store
// interface and its Qdrant and embedded implementations.
package search
