package search

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestDotMatchesPortable checks the vector kernel against the scalar loop
// at every length up to 80 (all tails) and at 1536.
func TestDotMatchesPortable(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 1))
	for _, n := range append(seq(0, 80), 1536) {
		a, b := make([]float32, n), make([]float32, n+3)
		for i := range a {
			a[i] = float32(r.NormFloat64())
		}
		for i := range b {
			b[i] = float32(r.NormFloat64())
		}
		got, want := dot(a, b), dotGo(a, b)
		if math.Abs(float64(got-want)) > 1e-4*math.Sqrt(float64(n)+1) {
			t.Fatalf("n=%d: dot %v, portable %v", n, got, want)
		}
	}
}

func seq(lo, hi int) []int {
	var s []int
	for i := lo; i <= hi; i++ {
		s = append(s, i)
	}
	return s
}

func BenchmarkDot1536(b *testing.B) {
	x, y := make([]float32, 1536), make([]float32, 1536)
	for i := range x {
		x[i], y[i] = float32(i%7), float32(i%5)
	}
	var sink float32
	b.Run("kernel", func(b *testing.B) {
		for b.Loop() {
			sink += dot(x, y)
		}
	})
	b.Run("portable", func(b *testing.B) {
		for b.Loop() {
			sink += dotGo(x, y)
		}
	})
	cx, _ := quantize(x)
	cy, _ := quantize(y)
	b.Run("int8", func(b *testing.B) {
		for b.Loop() {
			sink += float32(dotInt8(cx, cy))
		}
	})
	_ = sink
}

// TestDotInt8MatchesPortable checks the int8 kernel exactly, extremes
// included, at every length up to 80 and at 1536.
func TestDotInt8MatchesPortable(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(2, 2))
	for _, n := range append(seq(0, 80), 1536) {
		a, b := make([]int8, n), make([]int8, n+5)
		for i := range a {
			a[i] = int8(r.IntN(256) - 128)
		}
		for i := range b {
			b[i] = int8(r.IntN(256) - 128)
		}
		if n == 1536 {
			for i := range a {
				a[i], b[i] = -128, -128
			}
		}
		if got, want := dotInt8(a, b), dotInt8Go(a, b); got != want {
			t.Fatalf("n=%d: kernel %d, portable %d", n, got, want)
		}
	}
}

// TestQuantizedDotIsClose bounds the error of the int8 approximation on
// normalised 1536-dimensional vectors.
func TestQuantizedDotIsClose(t *testing.T) {
	t.Parallel()
	gen := newClustered(3, 1536, 10, 1)
	for range 200 {
		a, b := gen.next(), gen.next()
		ca, sa := quantize(a)
		cb, sb := quantize(b)
		approx := float32(dotInt8(ca, cb)) * sa * sb
		if d := math.Abs(float64(approx - dot(a, b))); d > 0.01 {
			t.Fatalf("int8 dot %v, float %v", approx, dot(a, b))
		}
	}
}
