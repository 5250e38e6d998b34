package api

import "testing"

// TestByteSize: sizes in problems read as people write them.
func TestByteSize(t *testing.T) {
	for n, want := range map[int64]string{
		50 << 20: "50 MiB", 4 << 10: "4 KiB", 1000: "1000 bytes", 72002218: "68.7 MiB", 1<<20 + 1: "1.0 MiB",
	} {
		if got := byteSize(n); got != want {
			t.Errorf("byteSize(%d) = %q, want %q", n, got, want)
		}
	}
}
