package extract

import (
	"github.com/ragd/ragd/extract/extracttest"

	"archive/zip"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/traditionalchinese"
)

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	e, ok := AsError(err)
	if !ok || e.Code != code {
		t.Fatalf("err = %v, want code %s", err, code)
	}
	if e.Message == "" {
		t.Fatal("failure without a human message")
	}
}

func TestExtractPDF(t *testing.T) {
	t.Parallel()
	ext := mustExtract(t, TypePDF, extracttest.ReportPDF())
	if ext.PageCount != 2 || len(ext.Pages) != 2 {
		t.Fatalf("pages = %d, spans %v", ext.PageCount, ext.Pages)
	}
	if !strings.Contains(ext.Text, "Kerned words stay apart.") {
		t.Fatalf("kerned words are glued: %q", ext.Text)
	}
	secs := sectionTexts(ext)
	if !strings.Contains(secs["Introduction"], "from a tenant's own documents") {
		t.Fatalf("sections = %q", secs)
	}
	if !strings.Contains(secs["Methods > Data"], "Vectors live in Qdrant") {
		t.Fatalf("nested heading path missing: %q", secs)
	}
	// Page spans hold their pages' text.
	p2 := ext.Text[ext.Pages[1].Start:ext.Pages[1].End]
	if !strings.Contains(p2, "Methods") || strings.Contains(p2, "Introduction") {
		t.Fatalf("page 2 span holds %q", p2)
	}
	// Lines of one paragraph are joined; a wider gap starts a new one.
	if !strings.Contains(ext.Text, "answers questions from a tenant's") {
		t.Fatalf("paragraph lines not joined: %q", ext.Text)
	}
}

// TestExtractPDFMatchesPdftotext checks our words against poppler's on the
// test PDFs. make test installs poppler-utils.
func TestExtractPDFMatchesPdftotext(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Fatal("pdftotext is missing: install poppler-utils (make test does)")
	}
	for name, data := range map[string][]byte{"report": extracttest.ReportPDF(), "repaired-trailing-bytes": append(extracttest.ReportPDF(), "garbage after EOF"...)} {
		path := filepath.Join(t.TempDir(), name+".pdf")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "-enc", "UTF-8", path, "-").Output()
		if err != nil {
			t.Fatalf("pdftotext: %v", err)
		}
		ours := strings.Fields(mustExtract(t, TypePDF, data).Text)
		theirs := strings.Fields(string(out))
		if strings.Join(ours, " ") != strings.Join(theirs, " ") {
			t.Errorf("%s: words differ from pdftotext\nours:   %q\ntheirs: %q", name, ours, theirs)
		}
	}
}

// TestExtractPDFCIDFont reads a Type0 font's 2-byte codes with their /W
// widths: words kerned apart come out spaced, letters of a word together.
func TestExtractPDFCIDFont(t *testing.T) {
	t.Parallel()
	data := extracttest.MakeCIDPDF([]string{"tenant", "documents", "stay", "apart"}, []string{"second", "line"})
	ext := mustExtract(t, TypePDF, data)
	if ext.Text != "tenant documents stay apart\n\nsecond line" {
		t.Fatalf("text = %q", ext.Text)
	}
	out, err := exec.Command("pdftotext", "-enc", "UTF-8", writeTemp(t, data), "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got, ours := strings.Join(strings.Fields(string(out)), " "), strings.Join(strings.Fields(ext.Text), " "); got != ours {
		t.Fatalf("pdftotext reads %q, we read %q", got, ours)
	}
}

func writeTemp(t *testing.T, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestExtractPDFRepairs(t *testing.T) {
	t.Parallel()
	good := extracttest.ReportPDF()
	for name, data := range map[string][]byte{
		"TrailingBytes":   append(bytes.Clone(good), "\n<html>appended by a proxy</html>\n"...),
		"HeaderSpace":     bytes.Replace(bytes.Clone(good), []byte("%PDF-1.4\n"), []byte("%PDF-1.4 "), 1),
		"PDF2Header":      bytes.Replace(bytes.Clone(good), []byte("%PDF-1.4\n"), []byte("%PDF-2.0\n"), 1),
		"JunkBeforeStart": append([]byte("\xef\xbb\xbf"), good...),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if typ, ok := Detect(bytes.NewReader(data), int64(len(data)), "x.pdf"); !ok || typ != TypePDF {
				t.Fatalf("Detect = %v, %v", typ, ok)
			}
			if ext := mustExtract(t, TypePDF, data); !strings.Contains(ext.Text, "Vectors live in Qdrant") {
				t.Fatalf("text = %q", ext.Text)
			}
		})
	}
}

func TestExtractPDFBadInput(t *testing.T) {
	t.Parallel()
	good := extracttest.ReportPDF()
	noText := extracttest.MakePDF([]string{"0 0 1 rg 72 72 200 200 re f\n"})
	cases := map[string]struct {
		data []byte
		lim  Limits
		code string
	}{
		"Truncated":    {good[:len(good)/2], Limits{}, CodePDFMalformed},
		"HeaderOnly":   {[]byte("%PDF-1.4\n"), Limits{}, CodePDFMalformed},
		"BrokenXref":   {bytes.Replace(bytes.Clone(good), []byte("xref"), []byte("xxxx"), 1), Limits{}, CodePDFMalformed},
		"NoTextLayer":  {noText, Limits{}, CodeNoText},
		"TooManyPages": {good, Limits{MaxPages: 1}, CodeTooManyPages},
		"TooMuchText":  {good, Limits{MaxTextBytes: 40}, CodeTooLarge},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Extract(t.Context(), TypePDF, tc.data, tc.lim)
			wantCode(t, err, tc.code)
		})
	}
}

// qpdfEncrypt is extracttest.EncryptPDF of ReportPDF.
func qpdfEncrypt(tb testing.TB, dir, name string, args ...string) []byte {
	tb.Helper()
	return extracttest.EncryptPDF(tb, extracttest.ReportPDF(), dir, name, args...)
}

// encryptions are the standard security handler's methods as qpdf writes
// them: R2 RC4-40, R3 RC4-128, R4 AES-128, R5 and R6 AES-256, some with
// object streams (a cross-reference stream, objects inside an encrypted
// stream) or metadata left in the clear.
var encryptions = []struct {
	name string
	args []string // after the passwords
}{
	{"RC4-40-R2", []string{"40"}},
	{"RC4-128-R3", []string{"128", "--use-aes=n"}},
	{"RC4-128-R3-ObjectStreams", []string{"128", "--use-aes=n", "--object-streams=generate"}},
	{"AES-128-R4", []string{"128", "--use-aes=y"}},
	{"AES-128-R4-ClearMetadata", []string{"128", "--use-aes=y", "--cleartext-metadata"}},
	{"AES-256-R5", []string{"256", "--force-R5"}},
	{"AES-256-R6", []string{"256"}},
	{"AES-256-R6-ObjectStreams", []string{"256", "--object-streams=generate"}},
}

// TestExtractPDFEncrypted: every method opens with an empty user password
// (owner-password "protection") and reads as poppler reads it, and with a
// user password given as the user's or the owner's; a missing or wrong
// password fails pdf_encrypted, saying which.
func TestExtractPDFEncrypted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, enc := range encryptions {
		t.Run(enc.name, func(t *testing.T) {
			t.Parallel()
			t.Run("EmptyUserPassword", func(t *testing.T) {
				t.Parallel()
				data := qpdfEncrypt(t, dir, enc.name+"-open", append([]string{"", "owner"}, enc.args...)...)
				if !bytes.Contains(data, []byte("/Encrypt")) {
					t.Fatal("qpdf did not encrypt")
				}
				ext := mustExtract(t, TypePDF, data)
				if !strings.Contains(ext.Text, "Vectors live in Qdrant") || ext.PageCount != 2 {
					t.Fatalf("text = %q", ext.Text)
				}
				samePdftotext(t, data, ext.Text)
			})
			t.Run("UserPassword", func(t *testing.T) {
				t.Parallel()
				data := qpdfEncrypt(t, dir, enc.name+"-locked", append([]string{"s3cret pass", "0wner"}, enc.args...)...)
				for _, pw := range []string{"s3cret pass", "0wner"} {
					ext, err := ExtractWithPassword(t.Context(), TypePDF, data, pw, Limits{})
					if err != nil || !strings.Contains(ext.Text, "Vectors live in Qdrant") {
						t.Fatalf("password %q: %v, %q", pw, err, ext.Text)
					}
				}
				_, err := Extract(t.Context(), TypePDF, data, Limits{})
				wantCode(t, err, CodePDFEncrypted)
				if e, _ := AsError(err); !strings.Contains(e.Message, "password field") {
					t.Errorf("missing password: message %q does not say to give one", e.Message)
				}
				_, err = ExtractWithPassword(t.Context(), TypePDF, data, "s3cret", Limits{})
				wantCode(t, err, CodePDFEncrypted)
				if e, _ := AsError(err); !strings.Contains(e.Message, "does not open") || strings.Contains(err.Error(), "s3cret") {
					t.Errorf("wrong password: %v", err)
				}
			})
		})
	}
}

// TestExtractPDFEncryptedUnicodePassword: a password with non-ASCII
// letters opens revision 3 (Latin-1 bytes) and 6 (UTF-8, SASLprep) files,
// typed composed or decomposed.
func TestExtractPDFEncryptedUnicodePassword(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, bits := range [][]string{{"128", "--use-aes=n"}, {"256"}} {
		data := qpdfEncrypt(t, dir, "unicode"+bits[0], append([]string{"h\u00f4tel", "owner"}, bits...)...)
		for _, pw := range []string{"h\u00f4tel", "ho\u0302tel"} {
			if _, err := ExtractWithPassword(t.Context(), TypePDF, data, pw, Limits{}); err != nil {
				t.Errorf("%s-bit, password %q: %v", bits[0], pw, err)
			}
		}
	}
}

// samePdftotext checks that text has poppler's words for the PDF data.
func samePdftotext(t *testing.T, data []byte, text string, popplerArgs ...string) {
	t.Helper()
	out, err := exec.Command("pdftotext", append(append([]string{"-enc", "UTF-8"}, popplerArgs...), writeTemp(t, data), "-")...).Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	if theirs, ours := strings.Join(strings.Fields(string(out)), " "), strings.Join(strings.Fields(text), " "); theirs != ours {
		t.Fatalf("pdftotext reads %q, we read %q", theirs, ours)
	}
}

func TestJoinHyphenated(t *testing.T) {
	t.Parallel()
	got := joinHyphenated([]string{"The retriev-", "al step and the well-", "Known name end-"})
	if got != "The retrieval step and the well- Known name end-" {
		t.Fatalf("joinHyphenated = %q", got)
	}
	// A soft hyphen at a line end (TeX's) joins the word, even before a
	// capital; one inside a line is the builder's to drop.
	if got := joinHyphenated([]string{"in\u00ad", "cluding the fol\u00ad", "low-up of Euro\u00ad", "Pacific and a\u00ad", "- dash"}); got != "including the follow-up of EuroPacific and a\u00ad - dash" {
		t.Fatalf("joinHyphenated with soft hyphens = %q", got)
	}
}

func TestExtractDOCX(t *testing.T) {
	t.Parallel()
	body := extracttest.WPara("Title", "Employee Handbook") +
		extracttest.WPara("", "Welcome to Initech.") +
		extracttest.WPara("Berschrift1", "Leave") +
		extracttest.WPara("Sub", "Vacation") +
		extracttest.WPara("", "You get <w:r>twenty</w:r> days.") +
		extracttest.WListItem("Ask your manager") + extracttest.WListItem("Log it in the HR tool") +
		extracttest.WTable([]string{"Years", "Days"}, []string{"0-5", "20"}, []string{"5+", "25"}) +
		`<w:p><w:r><w:delText>deleted words</w:delText></w:r><w:r><w:t>Kept words.</w:t></w:r></w:p>`
	ext := mustExtract(t, TypeDOCX, extracttest.MakeDOCX(body))
	secs := sectionTexts(ext)
	vac := secs["Leave > Vacation"]
	for _, want := range []string{"- Ask your manager", "Years | Days", "0-5 | 20", "5+ | 25", "Kept words."} {
		if !strings.Contains(vac, want) {
			t.Errorf("section Vacation lacks %q: %q", want, vac)
		}
	}
	if strings.Contains(ext.Text, "deleted words") {
		t.Error("deleted text was kept")
	}
	if !strings.Contains(secs["Employee Handbook"], "Welcome to Initech.") || ext.Title != "Employee Handbook" {
		t.Errorf("title/sections = %q, %q", ext.Title, secs)
	}
}

func TestExtractDOCXBadInput(t *testing.T) {
	t.Parallel()
	bomb := extracttest.MakeDOCX(extracttest.WPara("", strings.Repeat("a", 3<<20)))
	laughs := extracttest.MakeDOCX(`<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><w:p><w:r><w:t>&lol2;</w:t></w:r></w:p>`)
	cases := map[string]struct {
		data []byte
		lim  Limits
		code string
	}{
		"ZipBomb":         {bomb, Limits{MaxUnzippedBytes: 1 << 20}, CodeTooLarge},
		"EntityExpansion": {laughs, Limits{}, CodeUnsupportedType},
		"NotAZip":         {[]byte("PK\x03\x04 not really"), Limits{}, CodeUnsupportedType},
		"NoBody":          {makeDOCXWithout("word/document.xml"), Limits{}, CodeUnsupportedType},
		"BrokenXML":       {extracttest.MakeDOCX(`<w:p><w:r><w:t>unclosed`), Limits{}, CodeUnsupportedType},
		"Empty":           {extracttest.MakeDOCX(``), Limits{}, CodeNoText},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Extract(t.Context(), TypeDOCX, tc.data, tc.lim)
			wantCode(t, err, tc.code)
		})
	}
}

// makeDOCXWithout builds a zip like a DOCX but without word/document.xml.
func makeDOCXWithout(string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("word/other.xml")
	w.Write([]byte("<x/>"))
	zw.Close()
	return buf.Bytes()
}

func TestExtractHTML(t *testing.T) {
	t.Parallel()
	page := `<!doctype html><html><head><title>Pricing — Acme</title><style>body{color:red}</style>
	<script>var secret = "tracking";</script></head><body>
	<header><a href="/">Home</a> <a href="/about">About us</a></header>
	<nav><ul><li>Products</li><li>Careers</li></ul></nav>
	<main><article><h1>Pricing</h1><p>Our plans suit   every
	team.</p><h2>Plans</h2><ul><li>Free: 1 user</li><li>Pro: <b>10</b> users</li></ul>
	<table><tr><th>Plan</th><th>Price</th></tr><tr><td>Pro</td><td>$10</td></tr></table>
	<div hidden>hidden promo</div><p>Questions? Write to us.</p></article></main>
	<aside>Related: buy now!</aside><footer>© Acme · Imprint · Privacy</footer></body></html>`
	ext := mustExtract(t, TypeHTML, []byte(page))
	for _, gone := range []string{"tracking", "color:red", "About us", "Careers", "buy now", "Imprint", "hidden promo"} {
		if strings.Contains(ext.Text, gone) {
			t.Errorf("text keeps %q: %q", gone, ext.Text)
		}
	}
	secs := sectionTexts(ext)
	plans := secs["Pricing > Plans"]
	for _, want := range []string{"- Free: 1 user", "- Pro: 10 users", "Plan | Price", "Pro | $10", "Questions? Write to us."} {
		if !strings.Contains(plans, want) {
			t.Errorf("section Plans lacks %q: %q", want, plans)
		}
	}
	if !strings.Contains(secs["Pricing"], "Our plans suit every team.") || ext.Title != "Pricing" {
		t.Errorf("title %q, sections %q", ext.Title, secs)
	}

	// A page whose <main> holds little of its text keeps the whole body.
	ext = mustExtract(t, TypeHTML, []byte(`<body><main>Menu</main><p>`+strings.Repeat("The real content. ", 20)+`</p></body>`))
	if !strings.Contains(ext.Text, "The real content.") {
		t.Errorf("fallback to the body lost the content: %q", ext.Text)
	}
}

// TestExtractHTMLMainContent: a page of plain divs, with no element that
// marks its main content, still loses its menus and footer.
func TestExtractHTMLMainContent(t *testing.T) {
	t.Parallel()
	article := strings.Repeat("Tenants upload documents and their chatbots answer from them with citations. ", 12)
	page := `<html><head><title>Blog</title></head><body>
	<div class="menu"><a href="/">Home</a> | <a href="/products">Products</a> | <a href="/jobs">Jobs</a> | <a href="/login">Log in</a></div>
	<div class="content"><h1>How retrieval works</h1><p>` + article + `</p><h2>Chunking</h2><p>` + article + `</p>
	<ul><li>Split by headings first</li><li>Then by tokens</li></ul></div>
	<div class="footer"><a href="/imprint">Imprint</a> <a href="/privacy">Privacy policy</a> <a href="/cookies">Cookie settings</a></div>
	</body></html>`
	ext := mustExtract(t, TypeHTML, []byte(page))
	for _, gone := range []string{"Log in", "Privacy policy", "Cookie settings"} {
		if strings.Contains(ext.Text, gone) {
			t.Errorf("boilerplate %q kept: %q", gone, ext.Text)
		}
	}
	secs := sectionTexts(ext)
	if !strings.Contains(secs["How retrieval works > Chunking"], "Split by headings first") {
		t.Errorf("structure lost: %q", secs)
	}
}

func TestExtractHTMLHostile(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("<div>", 50000) + "deep text" + strings.Repeat("</div>", 50000)
	start := time.Now()
	ext, err := Extract(t.Context(), TypeHTML, []byte(deep), Limits{Timeout: 30 * time.Second})
	if err != nil {
		if e, ok := AsError(err); !ok || e.Code != CodeTimeout {
			t.Fatalf("deep nesting: %v", err)
		}
	} else if !strings.Contains(ext.Text, "deep text") {
		t.Fatalf("deep nesting lost the text: %q", ext.Text)
	}
	t.Logf("50k nested divs took %s", time.Since(start))

	_, err = Extract(t.Context(), TypeHTML, []byte(`<html><script>only script</script></html>`), Limits{})
	wantCode(t, err, CodeNoText)
}

func TestExtractText(t *testing.T) {
	t.Parallel()
	utf16le := []byte{0xFF, 0xFE}
	for _, r := range "Grüße\nzweite Zeile" {
		utf16le = append(utf16le, byte(r), byte(r>>8))
	}
	utf16be := []byte{0xFE, 0xFF}
	for _, r := range "Grüße" {
		utf16be = append(utf16be, byte(r>>8), byte(r))
	}
	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"UTF8":    {[]byte("Hello\n\nworld"), "Hello\n\nworld"},
		"UTF8BOM": {[]byte("\xef\xbb\xbfHello"), "Hello"},
		"UTF16LE": {utf16le, "Grüße\nzweite Zeile"},
		"UTF16BE": {utf16be, "Grüße"},
		"Latin1":  {[]byte("caf\xe9 cr\xe8me"), "café crème"},
		// Legacy charsets, found by chardet (guessCharset).
		"Big5":        {encodeIn(t, traditionalchinese.Big5, big5Text), big5Text},
		"ShiftJIS":    {encodeIn(t, japanese.ShiftJIS, sjisText), sjisText},
		"Controls":    {[]byte("a\x01b\x7fc\u200bd"), "abcd"},
		"NFC":         {[]byte("cafe\u0301"), "caf\u00e9"},
		"Ligatures":   {[]byte("speci\ufb01cation \ufb02ow e\ufb03cient"), "specification flow efficient"},
		"CRLF":        {[]byte("one\r\ntwo\r\n\r\nthree"), "one\ntwo\n\nthree"},
		"FoldsSpaces": {[]byte("a  \t b"), "a b"},
	} {
		ext, err := Extract(t.Context(), TypeText, tc.data, Limits{})
		if err != nil || ext.Text != tc.want {
			t.Errorf("%s: %q, %v; want %q", name, ext.Text, err, tc.want)
		}
	}
	for name, tc := range map[string]struct {
		data []byte
		code string
	}{
		"Empty":    {nil, CodeNoText},
		"Blank":    {[]byte(" \n\n\t "), CodeNoText},
		"NULs":     {[]byte("a\x00b"), CodeInvalidEncoding},
		"OddUTF16": {[]byte{0xFF, 0xFE, 'a'}, CodeInvalidEncoding},
		"TooLarge": {bytes.Repeat([]byte("x"), 100), CodeTooLarge},
	} {
		lim := Limits{}
		if name == "TooLarge" {
			lim.MaxTextBytes = 50
		}
		_, err := Extract(t.Context(), TypeText, tc.data, lim)
		t.Run(name, func(t *testing.T) { wantCode(t, err, tc.code) })
	}
}

func TestExtractMarkdown(t *testing.T) {
	t.Parallel()
	md := "# Guide\n\nIntro text.\n\n## Install\n\nRun it:\n\n```sh\n# not a heading\nmake run\n```\n\nSetext Heading\n--------------\n\nBody under setext.\n\n### Deep ###\nDeep text.\n\n# Other\nTop again."
	ext := mustExtract(t, TypeMarkdown, []byte(md))
	secs := sectionTexts(ext)
	for path, want := range map[string]string{
		"Guide":                         "Intro text.",
		"Guide > Install":               "# not a heading",
		"Guide > Setext Heading":        "Body under setext.",
		"Guide > Setext Heading > Deep": "Deep text.",
		"Other":                         "Top again.",
	} {
		if !strings.Contains(secs[path], want) {
			t.Errorf("section %q = %q, want it to contain %q", path, secs[path], want)
		}
	}
	if ext.Title != "Guide" {
		t.Errorf("title = %q", ext.Title)
	}
}

func TestExtractRecoversAndTimesOut(t *testing.T) {
	t.Parallel()
	// A parser panic becomes an internal failure, never a crash.
	panicky := func(ctx context.Context, data []byte, lim Limits) (Extracted, error) { panic("parser bug") }
	slow := func(ctx context.Context, data []byte, lim Limits) (Extracted, error) {
		time.Sleep(2 * time.Second) // a parser that ignores ctx
		return Extracted{}, nil
	}
	if _, err := runExtractor(t.Context(), "test", panicky, nil, Limits{}.WithDefaults()); err == nil {
		t.Fatal("panic not reported")
	} else {
		wantCode(t, err, CodeInternal)
	}
	lim := Limits{Timeout: 50 * time.Millisecond}.WithDefaults()
	_, err := runExtractor(t.Context(), "test", slow, nil, lim)
	wantCode(t, err, CodeTimeout)
	if _, err := Extract(t.Context(), Type("exe"), []byte("x"), Limits{}); err == nil {
		t.Fatal("unknown type accepted")
	} else {
		wantCode(t, err, CodeUnsupportedType)
	}
}

// zipParts is a zip archive of the named parts, given as name, content
// pairs (a name alone: an empty part).
func zipParts(parts ...string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i < len(parts); i += 2 {
		w, _ := zw.Create(parts[i])
		if i+1 < len(parts) {
			w.Write([]byte(parts[i+1]))
		}
	}
	zw.Close()
	return buf.Bytes()
}

func TestDetect(t *testing.T) {
	t.Parallel()
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	zipNotDocx := makeDOCXWithout("word/document.xml")
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(i*7919 + i*i)
	}
	for _, tc := range []struct {
		name string
		data []byte
		file string
		want Type
		ok   bool
	}{
		{"PDF", extracttest.ReportPDF(), "report.bin", TypePDF, true},
		{"DOCX", extracttest.MakeDOCX(extracttest.WPara("", "x")), "file", TypeDOCX, true},
		{"HTMLBySniff", []byte("<!DOCTYPE html><p>x"), "page", TypeHTML, true},
		{"HTMLByName", []byte("<p>x"), "page.htm", TypeHTML, true},
		{"Markdown", []byte("# T\n"), "README.md", TypeMarkdown, true},
		{"Text", []byte("hello"), "notes", TypeText, true},
		{"RandomNamedPDF", random, "fake.pdf", "", false},
		{"PDFWithoutItsHeader", []byte("\x00\x01\x02 garbage\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"), "damaged.pdf", TypePDF, true},
		{"PDFSyntaxNotNamedPDF", []byte("\x00\x01\x02 garbage\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"), "damaged.bin", "", false},
		{"PNGNamedTxt", png, "image.txt", TypePNG, true}, // an image by its bytes, whatever its name
		{"ZipNotDocx", zipNotDocx, "x.docx", "", false},
		{"Empty", nil, "empty.txt", "", false},
		// The types of issue 24, by content whatever the name.
		{"PPTX", zipParts("ppt/presentation.xml"), "deck", TypePPTX, true},
		{"XLSX", zipParts("xl/workbook.xml"), "book.bin", TypeXLSX, true},
		{"ODT", zipParts("mimetype", "application/vnd.oasis.opendocument.text"), "x", TypeODT, true},
		{"ODS", zipParts("mimetype", "application/vnd.oasis.opendocument.spreadsheet"), "x", TypeODS, true},
		{"ODP", zipParts("mimetype", "application/vnd.oasis.opendocument.presentation"), "x", TypeODP, true},
		{"EPUB", zipParts("mimetype", "application/epub+zip"), "book.zip", TypeEPUB, true},
		{"EPUBWithoutMimetype", zipParts("META-INF/container.xml", "<container/>"), "book", TypeEPUB, true},
		{"ZipOtherMimetype", zipParts("mimetype", "application/vnd.oasis.opendocument.graphics"), "x.odg", "", false},
		{"FlatODTPastTheFirstKiB", []byte(`<?xml version="1.0"?><office:document` + strings.Repeat(` xmlns:n="urn:x"`, 100) +
			` office:mimetype="application/vnd.oasis.opendocument.text"><office:body/></office:document>`), "doc.xml", TypeODT, true},
		{"CSVByName", []byte("a,b\n1,2\n"), "data.csv", TypeCSV, true},
		{"TSVByName", []byte("a\tb\n1\t2\n"), "data.tsv", TypeCSV, true},
		{"MailByHeaders", []byte("From: a@example.com\r\nSubject: Hi\r\n\r\nBody"), "message", TypeEML, true},
		{"MailByName", []byte("Just a body"), "m.eml", TypeEML, true},
		{"HeaderLikeTextIsText", []byte("Note: not a mail\nTodo: nothing\n\nMore"), "notes", TypeText, true},
	} {
		got, ok := Detect(bytes.NewReader(tc.data), int64(len(tc.data)), tc.file)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: Detect = %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// Texts in legacy charsets' scripts: a paragraph each, about as long as a
// short CSV's cells or an e-mail's body.
const (
	big5Text = "雲嘉南濱海國家風景區管理處，北從雲林縣牛挑灣溪，南至台南市鹽水溪，是台灣西南沿海重要的濕地與漁村文化所在地。"
	sjisText = "東京都の公共交通機関は、鉄道とバスが中心で、毎日多くの人々が通勤や通学に利用しています。"
)

// encodeIn encodes s in enc, as a file saved in that charset holds it.
func encodeIn(t *testing.T, enc encoding.Encoding, s string) []byte {
	t.Helper()
	b, err := enc.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
