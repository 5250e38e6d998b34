package console_test

import (
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestScreenshotsShown keeps docs/console/ (make screenshots) in step with
// the console and its documentation: every page of the navigation has a
// screenshot at each of screenshotWidths, each that wide and small enough
// to commit, docs/console.md shows every one, and the README some.
func TestScreenshotsShown(t *testing.T) {
	t.Parallel()
	read := func(name string) string {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	layout, guide, readme := read("templates/layout.html"), read("../docs/console.md"), read("../README.md")
	shots, err := filepath.Glob("../docs/console/*.png")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{"signin": true}
	for _, m := range regexp.MustCompile(`<a href="/console/([a-z]+)"`).FindAllStringSubmatch(layout, -1) {
		names[m[1]] = true
	}
	for _, f := range shots {
		name, _, _ := strings.Cut(filepath.Base(f), "-")
		names[name] = true
	}
	if len(names) < 8 {
		t.Fatalf("found only the pages %v", names)
	}
	const biggest = 100 << 10
	for name := range names {
		for _, w := range screenshotWidths {
			file := fmt.Sprintf("%s-%d.png", name, w)
			f, err := os.Open(filepath.Join("../docs/console", file))
			if err != nil {
				t.Errorf("no screenshot of %s at %d px (make screenshots takes them): %v", name, w, err)
				continue
			}
			cfg, err := png.DecodeConfig(f)
			st, _ := f.Stat()
			f.Close()
			switch {
			case err != nil:
				t.Errorf("%s: %v", file, err)
			case int64(cfg.Width) != w:
				t.Errorf("%s is %d px wide", file, cfg.Width)
			case st.Size() > biggest:
				t.Errorf("%s is %d bytes, over %d", file, st.Size(), biggest)
			}
			if !strings.Contains(guide, `src="console/`+file+`"`) {
				t.Errorf("docs/console.md does not show %s", file)
			}
		}
	}
	if !strings.Contains(readme, `src="docs/console/`) {
		t.Error("the README shows no screenshot of the console")
	}
}
