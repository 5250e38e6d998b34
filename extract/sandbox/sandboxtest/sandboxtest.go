// Package sandboxtest gives the tests of a package one extraction pool for
// the whole test binary. Starting a child costs about half a second of CPU
// (seconds under the race detector): tests that start a server or a
// pipeline each, dozens to a package, share warm children instead of
// starting their own. The binary must serve as the children (its TestMain
// calls sandbox.ServeIfChild first).
package sandboxtest

import (
	"sync"

	"github.com/ragd/ragd/extract/sandbox"
)

// Pool returns the test binary's shared pool: four children at most, all
// kept warm. Nobody closes it; its children end with the test binary.
var Pool = sync.OnceValue(func() *sandbox.Pool {
	return &sandbox.Pool{MaxChildren: 4, MaxIdle: 4}
})
