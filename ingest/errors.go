package ingest

import (
	"github.com/ragd/ragd/extract"
)

// Error is a document's failure for good, recorded on it: retrying cannot
// help. Extraction's failures (their codes are extract's Code* constants)
// and the pipeline's own are the same kind.
type Error = extract.Error

// The pipeline's failure codes, beside extraction's. Clients match on
// these.
const (
	// CodeEmbeddingFailed: the embedding provider refused for a reason
	// retrying cannot fix (key, model, dimensions); reindex after fixing
	// the configuration.
	CodeEmbeddingFailed = "embedding_failed"
	// CodeQuotaExceeded: the tenant's monthly embedding quota was used up
	// before this document was embedded.
	CodeQuotaExceeded = "quota_exceeded"
)

// AsError returns the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) { return extract.AsError(err) }
