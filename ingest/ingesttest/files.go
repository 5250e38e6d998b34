// Package ingesttest checks, for the tests of uploads, that no spool file
// is left behind.
package ingesttest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// OpenFiles lists the files in dir that this process has open, removed
// ones included, from /proc/self/fd (Linux). Upload spools are unlinked
// as soon as they are created, so an open descriptor is the only trace a
// leaked one leaves.
func OpenFiles(t testing.TB, dir string) []string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("list open files: %v", err)
	}
	var out []string
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, dir+string(filepath.Separator)) {
			out = append(out, target)
		}
	}
	return out
}

// NoFilesLeft fails the test when dir holds any entry or this process
// still has a file of it open.
func NoFilesLeft(t testing.TB, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) > 0 {
		t.Errorf("%d files left in %s", len(entries), dir)
	}
	if open := OpenFiles(t, dir); len(open) > 0 {
		t.Errorf("files of %s still open: %v", dir, open)
	}
}
