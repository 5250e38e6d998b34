package sandbox

import (
	"os"
	"testing"
)

// TestMain lets this test binary be the extraction sandbox's child: the
// pools under test start os.Executable(), which is this binary, and its
// children extract with testExtractors.
func TestMain(m *testing.M) {
	ServeIfChildWith(testExtractors())
	os.Exit(m.Run())
}
