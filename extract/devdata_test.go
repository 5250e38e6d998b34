package extract

import (
	"os"
	"path/filepath"
	"testing"
)

// officeDevdata is the shared development set of office, book, mail and
// CSV documents (its README.md and MANIFEST.tsv say what each file is
// and which are broken or hostile), beside the repository at
// ../shared/devdata/office; RAGD_OFFICE_DEVDATA overrides the place. The
// corpus tests skip, saying so, where it is absent.
func officeDevdata(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("RAGD_OFFICE_DEVDATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "devdata", "office")
	}
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST.tsv")); err != nil {
		t.Skipf("no office development set at %s (set RAGD_OFFICE_DEVDATA): %v", dir, err)
	}
	return dir
}
