package api_test

import (
	"os"
	"testing"

	"github.com/ragd/ragd/extract/sandbox"
)

// TestMain lets this test binary be the extraction sandbox's child: the
// pipeline under test starts os.Executable(), which is this binary.
func TestMain(m *testing.M) {
	sandbox.ServeIfChild()
	os.Exit(m.Run())
}
