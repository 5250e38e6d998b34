package extract

import "context"

// extractPPTX is not written yet: PowerPoint (.pptx) documents fail unsupported_type.
func extractPPTX(_ context.Context, _ []byte, _ Limits) (Extracted, error) {
	return Extracted{}, fail(CodeUnsupportedType, "PowerPoint (.pptx) documents are not read yet")
}

// extractODP is not written yet: OpenDocument presentations (.odp) documents fail unsupported_type.
func extractODP(_ context.Context, _ []byte, _ Limits) (Extracted, error) {
	return Extracted{}, fail(CodeUnsupportedType, "OpenDocument presentations (.odp) documents are not read yet")
}
