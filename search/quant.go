package search

import "math"

// quantize maps v to int8s scaled so that its largest magnitude is 127,
// and returns the factor that maps them back (x ≈ code·scale). The dot
// product of two quantised vectors, times both scales, approximates theirs
// to about 1% of their norms' product.
func quantize(v []float32) ([]int8, float32) {
	var m float32
	for _, x := range v {
		m = max(m, float32(math.Abs(float64(x))))
	}
	codes := make([]int8, len(v))
	if m == 0 {
		return codes, 0
	}
	s := 127 / m
	for i, x := range v {
		codes[i] = int8(math.Round(float64(x * s)))
	}
	return codes, m / 127
}

func dotInt8Go(a, b []int8) int32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 int32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += int32(a[i]) * int32(b[i])
		s1 += int32(a[i+1]) * int32(b[i+1])
		s2 += int32(a[i+2]) * int32(b[i+2])
		s3 += int32(a[i+3]) * int32(b[i+3])
	}
	for ; i < len(a); i++ {
		s0 += int32(a[i]) * int32(b[i])
	}
	return s0 + s1 + s2 + s3
}
