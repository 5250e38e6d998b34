package extract

import "context"

// extractEPUB is not written yet: EPUB documents fail unsupported_type.
func extractEPUB(_ context.Context, _ []byte, _ Limits) (Extracted, error) {
	return Extracted{}, fail(CodeUnsupportedType, "EPUB documents are not read yet")
}
