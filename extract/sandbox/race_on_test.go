//go:build race

package sandbox

// raceEnabled: the race detector's shadow memory counts against an
// extraction child's memory limit.
const raceEnabled = true
