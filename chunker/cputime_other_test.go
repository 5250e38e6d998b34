//go:build !unix

package chunker

import "time"

// cpuTime is not measured here: benchmarks report wall-clock figures only.
func cpuTime() (time.Duration, bool) { return 0, false }
