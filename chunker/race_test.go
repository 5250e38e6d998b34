//go:build race

package chunker

// raceEnabled is true under the race detector, which makes the tokenizer
// tests several times slower: they then compare less text with the library
// (the full comparison runs without it).
const raceEnabled = true
