//go:build !amd64

package search

// dot is the dot product of a and b[:len(a)].
func dot(a, b []float32) float32 { return dotGo(a, b) }
