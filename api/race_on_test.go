//go:build race

package api_test

// raceEnabled: the race detector multiplies a program's memory (its shadow
// memory), extraction children's included.
const raceEnabled = true
