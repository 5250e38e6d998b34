// Package chunkertest gives tests the cl100k tokenizer, loaded once per
// test binary: loading it costs about 90 ms, several times that under the
// race detector, and a tokenizer is safe for concurrent use.
package chunkertest

import (
	"sync"
	"testing"

	"github.com/ragd/ragd/chunker"
)

var (
	once sync.Once
	tok  *chunker.BPE
	err  error
)

// CL100K returns the shared cl100k tokenizer, failing the test when it
// cannot be loaded.
func CL100K(t testing.TB) *chunker.BPE {
	t.Helper()
	once.Do(func() { tok, err = chunker.NewCL100K() })
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
