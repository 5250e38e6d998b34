package extracttest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// EncryptPDF encrypts pdf with qpdf into dir/name.pdf and returns it. args
// follow qpdf's --encrypt: user password, owner password, key bits, then
// options (--use-aes=y, --force-R5, --cleartext-metadata, ...);
// --object-streams=... is passed before --encrypt, where qpdf wants it.
// make test installs qpdf (scripts/test-deps.sh).
func EncryptPDF(tb testing.TB, pdf []byte, dir, name string, args ...string) []byte {
	tb.Helper()
	qpdf, err := exec.LookPath("qpdf")
	if err != nil {
		tb.Fatal("qpdf is missing: install it (make test does)")
	}
	in := filepath.Join(dir, name+".in.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		tb.Fatal(err)
	}
	out := filepath.Join(dir, name+".pdf")
	general := []string{"--allow-weak-crypto"}
	var encArgs []string
	for _, a := range args {
		if strings.HasPrefix(a, "--object-streams") {
			general = append(general, a)
		} else {
			encArgs = append(encArgs, a)
		}
	}
	cmd := exec.Command(qpdf, append(append(append(general, "--encrypt"), encArgs...), "--", in, out)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("qpdf --encrypt %v: %v: %s", args, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
