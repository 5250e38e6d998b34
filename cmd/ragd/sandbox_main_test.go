package main

import (
	"os"
	"testing"

	"github.com/ragd/ragd/extract/sandbox"
)

// TestMain lets this test binary be the extraction sandbox's child (the
// pipeline under test starts os.Executable(), which is this binary) and,
// with RAGD_TEST_RUN_AS_RAGD=1, ragd itself: crash tests start and kill it
// as a real process.
func TestMain(m *testing.M) {
	sandbox.ServeIfChild()
	if os.Getenv(asRagdEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}
