//go:build !race

package extract

// raceSlowdown is 1 without the race detector (see race.go).
const raceSlowdown = 1
