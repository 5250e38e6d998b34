//go:build !amd64

package search

// dot is the dot product of a and b[:len(a)].
func dot(a, b []float32) float32 { return dotGo(a, b) }

// dotInt8 is the dot product of a and b[:len(a)].
func dotInt8(a, b []int8) int32 { return dotInt8Go(a, b) }
