package extract

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/ragd/ragd/extract/extracttest"
)

func TestCleanTitle(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("Widget ", 20000) // 140 KB
	for _, tc := range []struct{ in, want string }{
		{"  Annual   Report\n2019 ", "Annual Report 2019"},
		{"Annual\x00 Re\x07port\u200b 2019", "Annual Report 2019"},
		{"Microsoft Word - Annual Report 2019.doc", "Annual Report 2019"},
		{"Microsoft PowerPoint - Q3 review.pptx", "Q3 review"},
		{"Microsoft Word - x.doc", ""},
		{"Microsoft Word - Document1", ""},
		{"report.pdf", ""},
		{"x.doc", ""},
		{"Scan 2019-03-04 final.PDF", ""},
		{`C:\Users\ann\Desktop\notes`, ""},
		{"/tmp/build/output", ""},
		{"Untitled", ""},
		{"untitled-1", ""},
		{"Document1", ""},
		{"Slide 1", ""},
		{"Presentation2", ""},
		{"PowerPoint Presentation", ""},
		{"[No title]", ""},
		{"", ""},
		{"   \t\n ", ""},
		{"x", ""},
		{"—|—", ""},
		{"*** ### !!! ++", ""},
		{"0f26334f9d6f96119f6e5164fb65832f", ""},
		{"\ufffd\ufffd\ufffd", ""},
		{"Input/Output in Go", "Input/Output in Go"},
		{"1984", "1984"},
		{"Ünïcode Ｔｉｔｌｅ — naïve café", "Ünïcode Ｔｉｔｌｅ — naïve café"},
		{"e\u0301tude", "étude"}, // NFC
		{"C++ & C#: 10 tips", "C++ & C#: 10 tips"},
		{"| Leading separator", "Leading separator"},
	} {
		if got := CleanTitle(tc.in, 300); got != tc.want {
			t.Errorf("CleanTitle(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	got := CleanTitle(huge, 300)
	if n := utf8.RuneCountInString(got); n > 300 || n < 240 || !strings.HasPrefix(got, "Widget Widget") || strings.HasSuffix(got, " ") {
		t.Errorf("a huge title is cut to %d runes: %q", n, got)
	}
	if got := CleanTitle(strings.Repeat("é", 400), 300); utf8.RuneCountInString(got) != 300 || !utf8.ValidString(got) {
		t.Errorf("a title without spaces is cut to %d runes", utf8.RuneCountInString(got))
	}
}

func TestDocumentTitleRefusesTheFileName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ title, filename, want string }{
		{"annual_report_2019", "annual_report_2019.pdf", ""},
		{"Annual Report 2019 pdf", "annual-report-2019.pdf", ""},
		{"Microsoft Word - report.doc", "report.doc", ""},
		{"Microsoft Word - report.doc", "scan0001.pdf", "report"},
		{"Architecture", "architecture.md", ""},
		{"Annual Report 2019", "annual_report_2019.pdf", ""},
		{"Architecture of ragd", "architecture.md", "Architecture of ragd"},
		{"Quarterly results", "source.html", "Quarterly results"},
		{"source.html", "source.html", ""},
		{"Quarterly results", "", "Quarterly results"},
	} {
		if got := DocumentTitle(tc.title, tc.filename, 300); got != tc.want {
			t.Errorf("DocumentTitle(%q, %q) = %q, want %q", tc.title, tc.filename, got, tc.want)
		}
	}
}

func TestHTMLTitle(t *testing.T) {
	t.Parallel()
	page := func(head, body string) []byte {
		return []byte("<!doctype html><html><head><meta charset=utf-8>" + head + "</head><body>" + body +
			"<p>" + strings.Repeat("The council met on Tuesday and agreed the plan for the river. ", 8) + "</p></body></html>")
	}
	huge := strings.Repeat("Breaking ", 100000)
	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"SiteSuffixPipe":      {page("<title>Council approves river plan | Example News</title>", ""), "Council approves river plan"},
		"SiteSuffixWikipedia": {page("<title>Mozilla - Wikipedia</title>", "<h1>Mozilla</h1>"), "Mozilla"},
		"SiteSuffixEmDash":    {page("<title>Pricing — Acme</title>", ""), "Pricing"},
		"SiteNameFirst": {page(`<title>Example News | Council approves river plan</title><meta property="og:site_name" content="Example News">`, ""),
			"Council approves river plan"},
		"TitleIsTheSiteName": {page(`<title>Quanta Magazine</title><meta property="og:title" content="The Hidden Heroines of Chaos"><meta property="og:site_name" content="Quanta Magazine">`, ""),
			"The Hidden Heroines of Chaos"},
		// A logo's <h1> spells the site's name, the article's the title.
		"LogoH1": {page("<title>Outside the web: standalone binaries · V8</title>", `<header><h1><a href="/">V8</a></h1></header><h1>Outside the web: standalone binaries</h1>`),
			"Outside the web: standalone binaries"},
		"LongLastPartKept": {page("<title>Firefox — Customize and make it your own — The most flexible browser on the Web</title>", ""),
			"Firefox — Customize and make it your own — The most flexible browser on the Web"},
		"EmptyTitleOG":     {page(`<title>  </title><meta property="og:title" content="Council approves river plan">`, "<h1>Something else</h1>"), "Council approves river plan"},
		"EmptyTitleH1":     {page("<title></title>", "<main><h1>Council approves\n river plan</h1></main>"), "Council approves river plan"},
		"NoTitleAtAll":     {page("", "<p>No heading.</p>"), ""},
		"ControlChars":     {page("<title>Council\x01 approves\x7f river\u200b plan\t|\tNews</title>", ""), "Council approves river plan"},
		"Entities":         {page("<title>Fish &amp; Chips &#8211; a history</title>", ""), "Fish & Chips – a history"}, // a subtitle stays
		"HugeTitle":        {page("<title>"+huge+"</title>", ""), strings.TrimSpace(strings.Repeat("Breaking ", 55))},
		"SVGTitleIgnored":  {page("", `<svg><title>icon-close</title></svg><h1>Council approves river plan</h1>`), "Council approves river plan"},
		"PlaceholderTitle": {page("<title>Untitled Document</title>", "<h1>Council approves river plan</h1>"), "Council approves river plan"},
	} {
		t.Run(name, func(t *testing.T) {
			ext := mustExtract(t, TypeHTML, tc.data)
			if ext.Title != tc.want {
				t.Errorf("title %q, want %q", ext.Title, tc.want)
			}
		})
	}
}

// titledPDF is a one-page PDF (Courier, so its text reads back as
// written) with an optional Info dictionary entry (/Title and the rest,
// as PDF source) and an optional XMP packet.
func titledPDF(info, xmp, content string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	var offsets []int
	obj := func(body string) int {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offsets), body)
		return len(offsets)
	}
	meta := ""
	if xmp != "" {
		meta = " /Metadata 6 0 R"
	}
	obj("<< /Type /Catalog /Pages 2 0 R" + meta + " >>")
	obj("<< /Type /Pages /Kids [4 0 R] /Count 1 >>")
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Courier /Encoding /WinAnsiEncoding /FirstChar 32 /LastChar 126 /Widths [" +
		strings.TrimSpace(strings.Repeat("600 ", 95)) + "] >>")
	obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>")
	obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content))
	if xmp != "" {
		obj(fmt.Sprintf("<< /Type /Metadata /Subtype /XML /Length %d >>\nstream\n%s\nendstream", len(xmp), xmp))
	}
	infoRef := ""
	if info != "" {
		infoRef = fmt.Sprintf(" /Info %d 0 R", obj("<< "+info+" >>"))
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, infoRef, xref)
	return b.Bytes()
}

// xmpPacket wraps dc:title's content in an XMP packet as Acrobat writes it.
func xmpPacket(title string) string {
	return `<?xpacket begin="` + "\ufeff" + `" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 5.6-c015">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/">
   <dc:format>application/pdf</dc:format>
   <dc:title>` + title + `</dc:title>
   <xmp:CreatorTool>Microsoft Word</xmp:CreatorTool>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>`
}

// utf16Hex is s as a PDF hex string in UTF-16BE with its byte order mark.
func utf16Hex(s string) string {
	var b strings.Builder
	b.WriteString("<FEFF")
	for _, u := range utf16.Encode([]rune(s)) {
		fmt.Fprintf(&b, "%04X", u)
	}
	b.WriteString(">")
	return b.String()
}

func TestPDFTitle(t *testing.T) {
	t.Parallel()
	body := extracttest.PDFText(72, 660, 11, "The committee met twice in the third quarter.") +
		extracttest.PDFText(72, 646, 11, "It agreed the budget and the plan for the river.")
	big := extracttest.PDFText(72, 720, 22, "Annual Report") + extracttest.PDFText(72, 694, 22, "of the River Trust") + body
	alt := `<rdf:Alt><rdf:li xml:lang="de-DE">Jahresbericht 2024</rdf:li><rdf:li xml:lang="x-default">Annual Report 2024</rdf:li><rdf:li xml:lang="fr">Rapport annuel</rdf:li></rdf:Alt>`
	for name, tc := range map[string]struct {
		info, xmp, content, want string
	}{
		"XMPxDefault":            {"/Title (Info title)", xmpPacket(alt), body, "Annual Report 2024"},
		"XMPFirstWithoutDefault": {"", xmpPacket(`<rdf:Alt><rdf:li xml:lang="en-GB">Annual Report 2024</rdf:li><rdf:li xml:lang="fr">Rapport annuel</rdf:li></rdf:Alt>`), body, "Annual Report 2024"},
		"XMPEmptyThenInfo":       {"/Title (Board minutes, March)", xmpPacket(`<rdf:Alt><rdf:li xml:lang="x-default"/></rdf:Alt>`), body, "Board minutes, March"},
		"InfoLiteral":            {`/Title (Board minutes \(March\)) /Author (Ann)`, "", body, "Board minutes (March)"},
		"InfoUTF16BOM":           {"/Title " + utf16Hex("Übersicht 2024 – Ζήτα"), "", body, "Übersicht 2024 – Ζήτα"},
		"InfoPDFDocEncoding":     {`/Title (Caf\351 \215menu\216)`, "", body, "Café “menu”"},
		"InfoOfficeFileName":     {"/Title (Microsoft Word - Annual Report 2024.docx)", "", body, "Annual Report 2024"},
		"InfoFileNameThenFont":   {"/Title (report.pdf)", "", big, "Annual Report of the River Trust"},
		"InfoWhitespace":         {"/Title (   )", "", big, "Annual Report of the River Trust"},
		"InfoGarbage":            {`/Title <FEFFD800D800FFFD0001>`, "", big, "Annual Report of the River Trust"},
		"InfoControlChars":       {"/Title (Board\001 minutes\t\n March)", "", body, "Board minutes March"},
		"NoTitle":                {"", "", body, ""},
		"NoTitleOneFontSize":     {"/Author (Ann)", "", body, ""},
	} {
		t.Run(name, func(t *testing.T) {
			ext := mustExtract(t, TypePDF, titledPDF(tc.info, tc.xmp, tc.content))
			if ext.Title != tc.want {
				t.Errorf("title %q, want %q", ext.Title, tc.want)
			}
		})
	}
}

func TestXMPTitle(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{xmpPacket(`<rdf:Alt><rdf:li xml:lang="fr">Rapport</rdf:li><rdf:li xml:lang="x-default">Report</rdf:li></rdf:Alt>`), "Report"},
		{xmpPacket(`Plain title`), "Plain title"},
		{xmpPacket(`<rdf:Alt><rdf:li xml:lang="x-default">A &amp; B</rdf:li></rdf:Alt>`), "A & B"},
		{`<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title><rdf:Alt><rdf:li xml:lang="x-default">Cut`, "Cut"},
		{"not xml at all \x00\x01", ""},
		{xmpPacket(""), ""},
		// A title element of another namespace is not dc:title.
		{`<r xmlns:o="urn:other"><o:title>Other</o:title></r>`, ""},
	} {
		if got := xmpTitle([]byte(tc.in)); got != tc.want {
			t.Errorf("xmpTitle(%.60q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDOCXTitle(t *testing.T) {
	t.Parallel()
	para := extracttest.WPara
	core := func(title string) extracttest.DOCXPart {
		return extracttest.DOCXPart{Name: "docProps/core.xml", Body: `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:title>` + title + `</dc:title><dc:creator>Ann</dc:creator><dcterms:created xsi:type="dcterms:W3CDTF">2024-05-30T16:52:19Z</dcterms:created></cp:coreProperties>`}
	}
	body := para("Heading2", "Scope") + para("", "The handbook covers leave.") + para("Heading1", "Leave") + para("", "Twenty days a year.")
	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"CoreTitle":            {extracttest.MakeDOCX(body, core("Employee Handbook 2024")), "Employee Handbook 2024"},
		"CoreTitleEntities":    {extracttest.MakeDOCX(body, core("Terms &amp; Conditions")), "Terms & Conditions"},
		"CoreEmptyThenLevel1":  {extracttest.MakeDOCX(body, core("")), "Leave"},
		"CorePlaceholder":      {extracttest.MakeDOCX(body, core("Document1")), "Leave"},
		"TitleStyle":           {extracttest.MakeDOCX(para("Title", "Employee Handbook") + body), "Employee Handbook"},
		"FirstHeadingAnyLevel": {extracttest.MakeDOCX(para("Heading2", "Scope") + para("", "Body text.")), "Scope"},
		"NoCoreNoHeading":      {extracttest.MakeDOCX(para("", "Just a paragraph.")), ""},
		"CoreMalformed":        {extracttest.MakeDOCX(body, extracttest.DOCXPart{Name: "docProps/core.xml", Body: "<cp:coreProperties><dc:title>"}), "Leave"},
	} {
		t.Run(name, func(t *testing.T) {
			ext := mustExtract(t, TypeDOCX, tc.data)
			if ext.Title != tc.want {
				t.Errorf("title %q, want %q", ext.Title, tc.want)
			}
		})
	}
}

func TestMarkdownTitle(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct{ md, want string }{
		"FrontMatter":        {"---\nlayout: post\ntitle: \"Deploying ragd: a field guide\"\ndate: 2024-05-01\n---\n\n# Intro\n\nText.", "Deploying ragd: a field guide"},
		"FrontMatterSingle":  {"---\ntitle: 'It''s here'\n---\nText.", "It's here"},
		"FrontMatterPlain":   {"---\ntitle: Release notes # comment\ntags: [a]\n---\nText.", "Release notes"},
		"FrontMatterFolded":  {"---\ntitle: >\n  A long title\n  over two lines\nauthor: me\n---\nText.", "A long title over two lines"},
		"FrontMatterCRLF":    {"---\r\ntitle: Windows notes\r\n---\r\nText.", "Windows notes"},
		"FrontMatterTOML":    {"+++\ntitle = \"Hugo page\"\n+++\nText.", "Hugo page"},
		"NestedTitleIgnored": {"---\nauthor:\n  title: Dr\n---\n# The Heading\nText.", "The Heading"},
		"EmptyThenHeading":   {"---\ntitle: \"\"\n---\n# The Heading\nText.", "The Heading"},
		"FirstHashHeading":   {"Intro line.\n\n## Not this\n\n# The Heading\n\nText.", "The Heading"},
		"Setext":             {"The Heading\n===========\n\nText.", "The Heading"},
		"OnlyLevelTwo":       {"## Install\n\nRun it.", ""},
		"NotFrontMatter":     {"Text.\n---\ntitle: no\n---\n", ""},
		"HugeHeading":        {"# " + strings.Repeat("word ", 1000) + "\n\nText.", strings.TrimSpace(strings.Repeat("word ", 100))},
	} {
		t.Run(name, func(t *testing.T) {
			ext := mustExtract(t, TypeMarkdown, []byte(tc.md))
			if ext.Title != tc.want {
				t.Errorf("title %q, want %q", ext.Title, tc.want)
			}
		})
	}
}

func TestTextHasNoTitle(t *testing.T) {
	t.Parallel()
	ext := mustExtract(t, TypeText, []byte("Quarterly report\n\nSales rose."))
	if ext.Title != "" {
		t.Errorf("plain text titled %q", ext.Title)
	}
}
