package ingest_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/ragd/ragd/ingest"
)

func TestBaseName(t *testing.T) {
	t.Parallel()
	long := "x" + strings.Repeat("é", 200) // 401 bytes
	cases := []struct{ name, in, want string }{
		{"Plain", "report.pdf", "report.pdf"},
		{"WindowsTraversal", `..\..\win.ini.txt`, "win.ini.txt"},
		{"WindowsAbsolute", `C:\Users\x\report.pdf`, "report.pdf"},
		{"WindowsDriveRelative", `C:report.pdf`, "report.pdf"},
		{"UNC", `\\server\share\q3.docx`, "q3.docx"},
		{"UnixTraversal", "../../etc/passwd", "passwd"},
		{"Relative", "a/b/c.md", "c.md"},
		{"MixedSeparators", `a/b\c/d\e.html`, "e.html"},
		{"TrailingSeparator", "docs/guide/", "guide"},
		{"NULAndControls", "w\x00i\x07n\x1b.txt\x7f", "win.txt"},
		{"C1Control", "a\u0085b.txt", "ab.txt"},
		{"BidiOverride", "invoice\u202Efdp.exe", "invoicefdp.exe"},
		{"ControlHidesSeparator", "a/\x00b.md", "b.md"},
		{"InvalidUTF8", "\xff\xfe.txt", "\uFFFD.txt"},
		{"SurroundingSpaces", "  notes.md  ", "notes.md"},
		{"Unicode", "отчёт 2026.pdf", "отчёт 2026.pdf"},
		{"DotFile", ".env", ".env"},
		{"Empty", "", ""},
		{"Dot", ".", ""},
		{"DotDot", "..", ""},
		{"DotDotSlash", "../", ""},
		{"OnlySeparators", `/\/`, ""},
		{"DriveRoot", `C:\`, ""},
		{"OnlyControls", "\x00\x01", ""},
		{"LastElementBlank", "dir/  ", ""},
		// 255 bytes: "x", then 125 two-byte runes (the 126th would end
		// past the limit), then the extension.
		{"LongKeepsExtension", long + ".md", "x" + strings.Repeat("é", 125) + ".md"},
		{"LongWithoutExtension", long, "x" + strings.Repeat("é", 127)},
		{"LongExtensionIsCut", "a." + strings.Repeat("b", 300), "a." + strings.Repeat("b", 253)},
		{"ExactlyTheLimit", strings.Repeat("a", 251) + ".txt", strings.Repeat("a", 251) + ".txt"},
	}
	for _, tc := range cases {
		got := ingest.BaseName(tc.in)
		if got != tc.want {
			t.Errorf("%s: BaseName(%q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
		if len(got) > ingest.MaxFilenameBytes || !utf8.ValidString(got) || strings.ContainsAny(got, `/\`) {
			t.Errorf("%s: BaseName(%q) = %q is not a safe base name", tc.name, tc.in, got)
		}
		if again := ingest.BaseName(got); again != got {
			t.Errorf("%s: BaseName is not idempotent: %q, then %q", tc.name, got, again)
		}
	}
}

// FuzzBaseName: whatever a client sends, the stored name is valid UTF-8
// of at most MaxFilenameBytes, without separators, control characters or
// surrounding spaces, never "." or "..", and cleaning it again changes
// nothing.
func FuzzBaseName(f *testing.F) {
	for _, s := range []string{`..\..\win.ini.txt`, `C:\Users\x\report.pdf`, "../../etc/passwd", "a/\x00b.md", "\xff.txt", strings.Repeat("é", 200) + ".md"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := ingest.BaseName(in)
		if len(got) > ingest.MaxFilenameBytes || !utf8.ValidString(got) || strings.ContainsAny(got, `/\`) ||
			strings.ContainsFunc(got, unicode.IsControl) || strings.TrimSpace(got) != got || got == "." || got == ".." {
			t.Fatalf("BaseName(%q) = %q", in, got)
		}
		if again := ingest.BaseName(got); again != got {
			t.Fatalf("BaseName(%q) = %q, then %q", in, got, again)
		}
	})
}
