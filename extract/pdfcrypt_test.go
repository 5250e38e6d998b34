package extract

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// openSecurity parses data and opens its security handler with password.
func openSecurity(t *testing.T, data []byte, password string) *pdfSecurity {
	t.Helper()
	f, err := parsePDFFile(data)
	if err != nil {
		t.Fatal(err)
	}
	enc, ok := f.trailer["Encrypt"].(pdfDict)
	if ref, isRef := f.trailer["Encrypt"].(pdfRef); isRef {
		in, err := f.readObjectAt(f.xref[ref.num].off)
		if err != nil {
			t.Fatal(err)
		}
		enc, ok = in.obj.(pdfDict)
	}
	if !ok {
		t.Fatal("no encryption dictionary")
	}
	ids, _ := f.trailer["ID"].(pdfArray)
	id, _ := ids[0].(pdfString)
	sec, err := openPDFSecurity(enc, []byte(id), password)
	if err != nil {
		t.Fatal(err)
	}
	return sec
}

// TestPDFSecurityPerms: revision 5 and 6 keys decrypt /Perms to "adb" and
// the metadata flag (Algorithm 13), as qpdf wrote them, for the user and
// the owner password alike.
func TestPDFSecurityPerms(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, args := range [][]string{{"256", "--force-R5"}, {"256"}, {"256", "--cleartext-metadata"}} {
		data := qpdfEncrypt(t, dir, strings.Join(args, ""), append([]string{"user", "owner"}, args...)...)
		for _, pw := range []string{"user", "owner"} {
			sec := openSecurity(t, data, pw)
			if !sec.permsOK || sec.streams != cryptAESV3 || len(sec.key) != 32 {
				t.Errorf("%v, password %s: perms ok %v, method %d, key %d bytes", args, pw, sec.permsOK, sec.streams, len(sec.key))
			}
		}
	}
}

// TestDecryptPDFWrongStartxref: when startxref points wrong, the objects
// are found by scanning, for a table and for a cross-reference stream.
func TestDecryptPDFWrongStartxref(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	startxref := regexp.MustCompile(`startxref\s+(\d+)`)
	for _, args := range [][]string{{"128", "--use-aes=y"}, {"256", "--object-streams=generate"}} {
		data := qpdfEncrypt(t, dir, "xref"+strings.Join(args, ""), append([]string{"", "owner"}, args...)...)
		m := startxref.FindSubmatchIndex(data)
		off, _ := strconv.Atoi(string(data[m[2]:m[3]]))
		broken := bytes.Clone(data)
		copy(broken[m[2]:m[3]], []byte(strconv.Itoa(off+3)))
		if ext := mustExtract(t, TypePDF, broken); !strings.Contains(ext.Text, "Vectors live in Qdrant") {
			t.Fatalf("%v: text %q", args, ext.Text)
		}
	}
}
