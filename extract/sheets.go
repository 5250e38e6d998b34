package extract

import "context"

// extractXLSX is not written yet: Excel (.xlsx) documents fail unsupported_type.
func extractXLSX(_ context.Context, _ []byte, _ Limits) (Extracted, error) {
	return Extracted{}, fail(CodeUnsupportedType, "Excel (.xlsx) documents are not read yet")
}

// extractODS is not written yet: OpenDocument spreadsheets (.ods) documents fail unsupported_type.
func extractODS(_ context.Context, _ []byte, _ Limits) (Extracted, error) {
	return Extracted{}, fail(CodeUnsupportedType, "OpenDocument spreadsheets (.ods) documents are not read yet")
}

// extractCSV is not written yet: CSV documents fail unsupported_type.
func extractCSV(_ context.Context, _ []byte, _ Limits) (Extracted, error) {
	return Extracted{}, fail(CodeUnsupportedType, "CSV documents are not read yet")
}
