package extract

import "context"

// extractODT is not written yet: OpenDocument text (.odt) documents fail unsupported_type.
func extractODT(_ context.Context, _ []byte, _ Limits) (Extracted, error) {
	return Extracted{}, fail(CodeUnsupportedType, "OpenDocument text (.odt) documents are not read yet")
}
