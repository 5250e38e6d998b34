//go:build race

package extract

// raceSlowdown: under the race detector code runs about ten times slower
// (the hostile suite's 1 MiB text line took 1.6 s without it and 18.5 s
// with it), so the size budget's defaults (ForSize) grow alike, and tests,
// which make test runs under it, keep the margin honest files have.
const raceSlowdown = 10
