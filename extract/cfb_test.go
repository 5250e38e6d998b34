package extract

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/ragd/ragd/extract/extracttest"
)

// TestCompoundFiles: a password-protected OOXML file (a compound file
// holding EncryptedPackage) named .docx, .xlsx or .pptx is taken and fails
// encrypted, saying so; a legacy binary Office file fails
// unsupported_type, saying to save it in the newer format; at upload, any
// other compound file is refused with the reason (CompoundFileProblem).
func TestCompoundFiles(t *testing.T) {
	t.Parallel()
	encrypted := extracttest.CompoundFile("Root Entry", "EncryptionInfo", "EncryptedPackage")
	legacy := extracttest.CompoundFile("Root Entry", "WordDocument", "1Table")
	for _, name := range []string{"a.docx", "a.xlsx", "a.pptx", "a.XLSM"} {
		typ, ok := Detect(bytes.NewReader(encrypted), int64(len(encrypted)), name)
		if !ok {
			t.Fatalf("%s: not detected", name)
		}
		_, err := Extract(t.Context(), typ, encrypted, Limits{})
		if e, ok := AsError(err); !ok || e.Code != CodeEncrypted || !strings.Contains(e.Message, "without the password") {
			t.Errorf("%s (%s): %v, want encrypted saying what to do", name, typ, err)
		}
		_, err = Extract(t.Context(), typ, legacy, Limits{})
		if e, ok := AsError(err); !ok || e.Code != CodeUnsupportedType || !strings.Contains(e.Message, "legacy binary Office") {
			t.Errorf("%s (%s), legacy: %v, want unsupported_type naming the legacy format", name, typ, err)
		}
	}
	for _, name := range []string{"a.doc", "a.xls", "a.bin", ""} {
		if typ, ok := Detect(bytes.NewReader(legacy), int64(len(legacy)), name); ok {
			t.Errorf("%q: a compound file detected as %s", name, typ)
		}
	}
	if p := CompoundFileProblem(bytes.NewReader(legacy), int64(len(legacy))); !strings.Contains(p, "legacy binary Office") {
		t.Errorf("legacy: %q", p)
	}
	if p := CompoundFileProblem(bytes.NewReader(encrypted), int64(len(encrypted))); !strings.Contains(p, "password-protected") {
		t.Errorf("encrypted: %q", p)
	}
	if p := CompoundFileProblem(strings.NewReader("%PDF-1.7"), 8); p != "" {
		t.Errorf("a PDF: %q", p)
	}
	// Damaged directories: a loop in the FAT, a directory past the end.
	loop := bytes.Clone(legacy)
	binary.LittleEndian.PutUint32(loop[1024:], 0) // sector 0 follows itself
	past := bytes.Clone(encrypted)
	binary.LittleEndian.PutUint32(past[0x30:], 1<<20)
	for name, f := range map[string][]byte{"loop": loop, "past": past, "short": encrypted[:600]} {
		if cfbEncrypted(bytes.NewReader(f), int64(len(f))) {
			t.Errorf("%s: reported encrypted", name)
		}
	}
}
