package search

import "golang.org/x/sys/unix"

// populate maps b's pages of a checkpoint's mapping into the process
// (MADV_POPULATE_READ, Linux 5.14 and later; an older kernel refuses it
// and nothing changes). Called on pages just read into the page cache, it
// only fills the page tables: a query then finds every page it touches
// mapped, where each first touch would fault, about 2 µs apiece here, and
// a graph search at a million points touches some ten thousand codes.
func populate(b []byte) {
	if len(b) > 0 {
		_ = unix.Madvise(b, unix.MADV_POPULATE_READ)
	}
}
