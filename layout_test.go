package ragd

import (
	"bufio"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestLayout holds the code to the README's layout: each package imports
// only the root package and those listed above it, so a document's way
// through them runs downhill. Test helper packages (a last element ending
// in "test") and test files may reach further down: they assemble what
// they test.
func TestLayout(t *testing.T) {
	t.Parallel()
	order := readmeLayout(t)
	rank := func(pkg string) int {
		// A package not in the list ranks as its nearest listed parent
		// (scripts/evalhtml as scripts); packages of one rank may import
		// each other.
		for p := pkg; p != "."; p = filepath.Dir(p) {
			if i := slices.Index(order, p); i >= 0 {
				return i
			}
		}
		return -1
	}
	const module = "github.com/ragd/ragd"
	checked := 0
	err := filepath.WalkDir(".", func(dir string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if dir != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if dir == "." || strings.HasSuffix(d.Name(), "test") {
			return nil
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		files = slices.DeleteFunc(files, func(f string) bool { return strings.HasSuffix(f, "_test.go") })
		if len(files) == 0 {
			return nil
		}
		own := rank(dir)
		if own < 0 {
			t.Errorf("package %s is not in the README's layout", dir)
			return nil
		}
		checked++
		for _, f := range files {
			parsed, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range parsed.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				rel, ok := strings.CutPrefix(path, module+"/")
				if !ok {
					continue // the root package, or outside the module
				}
				if r := rank(rel); r < 0 || r > own {
					t.Errorf("%s imports %s, which the README lists below it (or not at all)", f, rel)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 15 {
		t.Fatalf("checked %d packages: the walk or the README's list is broken", checked)
	}
}

// readmeLayout returns the folders the README's Layout section lists, in
// order ("extract/sandbox", ...).
func readmeLayout(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var order []string
	section, block := false, false
	for sc := bufio.NewScanner(f); sc.Scan(); {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			section = line == "## Layout"
		case section && strings.HasPrefix(line, "```"):
			if block {
				return order
			}
			block = true
		case section && block:
			first, _, _ := strings.Cut(line, " ")
			if dir, ok := strings.CutSuffix(first, "/"); ok {
				order = append(order, dir)
			}
		}
	}
	t.Fatal("README.md has no Layout section with a code block")
	return nil
}
