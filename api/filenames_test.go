package api_test

import (
	"bytes"
	"fmt"
	"mime"
	"mime/multipart"
	"net/textproto"
	"strings"
	"testing"

	"github.com/ragd/ragd/extract/extracttest"
)

// rfc2231 encodes a file name as a filename* parameter value, which
// carries any bytes (NULs, control characters, invalid UTF-8) past the
// header syntax, as a hostile client would send them.
func rfc2231(name string) string {
	var b strings.Builder
	b.WriteString("UTF-8''")
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// TestDocumentFilenames uploads files under every shape of hostile or
// odd name: each is stored, listed and served back (Content-Disposition)
// as its last path element, cleaned, and typed by the cleaned name's
// extension.
func TestDocumentFilenames(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, key := b.TenantWithKey("acme")
	markdown := func(s string) []byte { return []byte("# " + s + "\n\nSome *text* under a heading.") }
	long := "x" + strings.Repeat("é", 200)
	// How a name is sent: as the quoted string a multipart writer makes, as
	// RFC 2231 bytes (NULs, control characters, invalid UTF-8 pass the
	// header syntax that way), or as the JSON upload's filename.
	const (
		form = iota
		raw
		asJSON
	)
	cases := []struct {
		name     string
		sent     string
		via      int
		data     []byte
		want     string // "": no file name stored
		wantType string
	}{
		{"WindowsTraversal", `..\..\win.ini.txt`, form, []byte("windows traversal"), "win.ini.txt", "text"},
		{"WindowsAbsolute", `C:\Users\x\report.pdf`, form, extracttest.ReportPDF(), "report.pdf", "pdf"},
		{"UnixTraversal", "../../etc/passwd", form, []byte("unix traversal"), "passwd", "text"},
		{"UnixTraversalRaw", "../../etc/shadow", raw, []byte("unix traversal, raw"), "shadow", "text"},
		{"Relative", "a/b/c.md", raw, markdown("relative"), "c.md", "markdown"},
		{"WindowsMarkdown", `..\..\notes\guide.md`, form, markdown("windows"), "guide.md", "markdown"},
		{"NULsAndControls", "..\\..\\w\x00i\x07n\x1b.md\x7f", raw, markdown("controls"), "win.md", "markdown"},
		{"BidiOverride", "invoice\u202Etxt.md", raw, markdown("bidi"), "invoicetxt.md", "markdown"},
		{"InvalidUTF8", "\xff\xfe.txt", raw, []byte("invalid utf-8"), "\uFFFD.txt", "text"},
		{"EmptyAfterCleaning", `..\..\`, form, []byte("nothing left of the name"), "", "text"},
		{"OnlyControls", "\x00\x01\x02", raw, []byte("only controls"), "", "text"},
		{"DotDot", "..", form, []byte("dot dot"), "", "text"},
		// Cut to 255 bytes on a UTF-8 boundary, keeping the extension.
		{"VeryLong", long + ".md", raw, markdown("long"), "x" + strings.Repeat("é", 125) + ".md", "markdown"},
		{"JSONWindowsTraversal", `..\..\win.ini.txt`, asJSON, []byte("json windows traversal"), "win.ini.txt", "text"},
		{"JSONAbsolute", `C:\Users\x\report.pdf`, asJSON, []byte("json absolute"), "report.pdf", "text"},
		{"JSONEmptyAfterCleaning", "../", asJSON, []byte("json empty"), "", "text"},
	}
	// A JSON upload's name is JSON text, which no field may carry a NUL
	// in (decode): refused, naming it, rather than cleaned.
	if r := b.Req("POST", "/v1/documents", key, map[string]any{"text": "json NUL", "filename": "a/b\x00c.md"}); r.Status != 400 ||
		r.JSON(t)["errors"].(map[string]any)["filename"] == nil {
		t.Errorf("JSONNULInName: upload %d %s", r.Status, r.Body)
	}
	ids := make([]string, len(cases))
	for i, tc := range cases {
		var r response
		if tc.via == asJSON {
			r = b.Req("POST", "/v1/documents", key, map[string]any{"text": string(tc.data), "filename": tc.sent})
		} else {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			h := textproto.MIMEHeader{}
			if tc.via == raw {
				h.Set("Content-Disposition", `form-data; name="file"; filename*=`+rfc2231(tc.sent))
			} else {
				h.Set("Content-Disposition", mime.FormatMediaType("form-data", map[string]string{"name": "file", "filename": tc.sent}))
			}
			fw, err := mw.CreatePart(h)
			if err != nil {
				t.Fatal(err)
			}
			fw.Write(tc.data)
			mw.Close()
			r = b.Req("POST", "/v1/documents?duplicate=allow", key, buf.Bytes(), "Content-Type", mw.FormDataContentType())
		}
		if r.Status != 202 {
			t.Errorf("%s: upload %d %s", tc.name, r.Status, r.Body)
			continue
		}
		ids[i] = r.JSON(t)["id"].(string)
		if got := r.JSON(t)["type"]; got != tc.wantType {
			t.Errorf("%s: type %v, want %s", tc.name, got, tc.wantType)
		}
	}

	for i, tc := range cases {
		if ids[i] == "" {
			continue
		}
		d := b.WaitDocument(key, ids[i])
		var wantFilename any
		wantTitle, wantDownload := tc.want, tc.want
		if tc.want != "" {
			wantFilename = tc.want
		} else {
			wantTitle, wantDownload = "Untitled "+tc.wantType, "document"
		}
		// The title the document gives itself wins over its file name.
		wantSource := "filename"
		switch tc.wantType {
		case "markdown":
			wantTitle, wantSource = strings.TrimPrefix(strings.SplitN(string(tc.data), "\n", 2)[0], "# "), "document"
		case "pdf":
			wantTitle, wantSource = "Introduction", "document" // ReportPDF's first line, in its largest font
		}
		if d["filename"] != wantFilename || d["title"] != wantTitle || d["title_source"] != wantSource || d["status"] != "ready" {
			t.Errorf("%s: sent %q, stored filename %q, title %q (%v), status %v; want filename %q, title %q (%s), ready",
				tc.name, tc.sent, d["filename"], d["title"], d["title_source"], d["status"], wantFilename, wantTitle, wantSource)
		}
		c := b.Must(200, "GET", "/v1/documents/"+ids[i]+"/content", key, nil)
		// A PDF opens in the browser; anything else is a download.
		wantDisp := "attachment"
		if tc.wantType == "pdf" {
			wantDisp = "inline"
		}
		disp, params, err := mime.ParseMediaType(c.Header.Get("Content-Disposition"))
		if err != nil || disp != wantDisp || params["filename"] != wantDownload {
			t.Errorf("%s: Content-Disposition %q (%v), want %s named %q", tc.name, c.Header.Get("Content-Disposition"), err, wantDisp, wantDownload)
		}
		if sandboxed := c.Header.Get("Content-Security-Policy") == "sandbox"; sandboxed != (wantDisp == "attachment") || c.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: Content-Security-Policy %q, X-Content-Type-Options %q", tc.name, c.Header.Get("Content-Security-Policy"), c.Header.Get("X-Content-Type-Options"))
		}
		if !bytes.Equal(c.Body, tc.data) {
			t.Errorf("%s: content is %d bytes, want the %d uploaded", tc.name, len(c.Body), len(tc.data))
		}
	}
	list := string(b.Must(200, "GET", "/v1/documents?limit=200", key, nil).Body)
	for _, leak := range []string{`..`, `\\`, `C:`, "etc/", `\u0000`} {
		if strings.Contains(list, leak) {
			t.Errorf("the document list shows %q of a sent path: %s", leak, list)
		}
	}
	// A name stored before names were cleaned is cleaned when served.
	if _, err := b.pool.Exec(t.Context(), `UPDATE documents SET filename = '..\..\stored-before.txt' WHERE id = $1`, ids[0]); err != nil {
		t.Fatal(err)
	}
	c := b.Must(200, "GET", "/v1/documents/"+ids[0]+"/content", key, nil)
	if _, params, _ := mime.ParseMediaType(c.Header.Get("Content-Disposition")); params["filename"] != "stored-before.txt" {
		t.Errorf("a path stored before cleaning is served as %q", c.Header.Get("Content-Disposition"))
	}
}
