package extract

import "context"

// extractEML is not written yet: e-mail (.eml) documents fail unsupported_type.
func extractEML(_ context.Context, _ []byte, _ Limits) (Extracted, error) {
	return Extracted{}, fail(CodeUnsupportedType, "e-mail (.eml) documents are not read yet")
}
