package extract

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// para is a paragraph of article prose about topic, long enough to read
// as content rather than as a link or a label.
func para(topic string, n int) string {
	return fmt.Sprintf("<p>%s: the council published its plan for the river district on Monday, "+
		"after two years of consultation with residents, shop owners and the water board. "+
		"Paragraph %d explains what changes for the people who live there and what it costs.</p>", topic, n)
}

// newsPage is a news article whose <main> and <article> hold, besides the
// story, what news sites put there: breadcrumbs, share buttons, a
// newsletter box and teasers for other stories.
func newsPage() string {
	var b strings.Builder
	b.WriteString(`<!doctype html><html><head><title>River plan approved — Daily Planet</title></head><body>
<header><a href="/">Daily Planet</a><nav><a href="/news">News</a> <a href="/sport">Sport</a></nav></header>
<main><article>
<div class="breadcrumbs"><a href="/">Home</a> › <a href="/news">News</a> › <a href="/news/city">City</a></div>
<ul class="share-tools"><li><a href="https://facebook.com/share">Share on Facebook</a></li><li><a href="https://twitter.com/share">Share on Twitter</a></li><li><a href="mailto:">Email this story</a></li></ul>
<h1>River plan approved</h1>`)
	for i := range 4 {
		b.WriteString(para("Approval", i))
	}
	b.WriteString(`<div class="newsletter-signup"><p>Sign up for the Morning Briefing newsletter</p><form><input type="email" placeholder="Your email"><button>Subscribe</button></form></div>
<div class="related-stories"><h3>More stories</h3><ul>
<li><a href="/a">Teaser: mayor opens new bridge</a></li><li><a href="/b">Teaser: festival returns to the park</a></li>
<li><a href="/c">Teaser: tram line delayed again</a></li><li><a href="/d">Teaser: museum doubles its visitors</a></li></ul></div>
<h2>What happens next</h2>`)
	for i := 4; i < 7; i++ {
		b.WriteString(para("Next steps", i))
	}
	b.WriteString(`<div class="tags">Topics: <a href="/t/city">City</a> <a href="/t/rivers">Rivers</a> <a href="/t/budget">Budget</a></div>
</article></main>
<footer><a href="/imprint">Imprint</a> <a href="/privacy">Privacy policy</a></footer></body></html>`)
	return b.String()
}

func TestExtractHTMLDropsBoilerplateInsideArticle(t *testing.T) {
	t.Parallel()
	ext := mustExtract(t, TypeHTML, []byte(newsPage()))
	for _, gone := range []string{"Share on Facebook", "Email this story", "Morning Briefing newsletter", "Subscribe",
		"Teaser:", "More stories", "Privacy policy", "Sport", "Topics:"} {
		if strings.Contains(ext.Text, gone) {
			t.Errorf("boilerplate %q kept:\n%s", gone, ext.Text)
		}
	}
	secs := sectionTexts(ext)
	for i := range 4 {
		if want := fmt.Sprintf("Paragraph %d explains", i); !strings.Contains(secs["River plan approved"], want) {
			t.Errorf("section %q lacks %q; sections: %q", "River plan approved", want, secs)
		}
	}
	for i := 4; i < 7; i++ {
		if want := fmt.Sprintf("Paragraph %d explains", i); !strings.Contains(secs["River plan approved > What happens next"], want) {
			t.Errorf("section %q lacks %q; sections: %q", "River plan approved > What happens next", want, secs)
		}
	}
	if ext.Title != "River plan approved" { // the <title> without the site's name
		t.Errorf("title %q", ext.Title)
	}
}

// docsPage is a documentation page: a sidebar, then prose, a parameter
// table, a code block and a list, each under its heading.
const docsPage = `<!doctype html><html><head><title>Upload API — ragd docs</title></head><body>
<nav class="sidebar"><ul><li><a href="/docs/intro">Introduction</a></li><li><a href="/docs/search">Search API</a></li><li><a href="/docs/keys">API keys</a></li></ul></nav>
<main>
<h1>Upload API</h1>
<p>Uploading a document stores the file and queues its extraction; the answer comes at once, and the document becomes searchable when its job has run.</p>
<h2>Parameters</h2>
<p>The multipart form takes these fields; only the file is required.</p>
<table>
<tr><th>Field</th><th>Type</th><th>Description</th></tr>
<tr><td>file</td><td>binary</td><td>The document: PDF, DOCX, HTML, Markdown or text.</td></tr>
<tr><td>title</td><td>string</td><td>A title shown in search results.</td></tr>
<tr><td>tags</td><td>string list</td><td>Labels that searches can filter on.</td></tr>
<tr><td>max_tokens</td><td>integer</td><td>The largest chunk, in tokens.</td></tr>
</table>
<h2>Example</h2>
<p>With curl, from a shell:</p>
<pre><code>curl -s localhost:8080/v1/documents \
  -H "Authorization: Bearer $KEY" \
  -F file=@report.pdf -F title="Q3 report"</code></pre>
<h2>Errors</h2>
<p>An upload is refused, with a problem response, when:</p>
<ul><li>the file is larger than the upload limit (413);</li><li>its type is not one ragd reads (415);</li><li>the tenant's document quota is used up (429).</li></ul>
</main>
<footer>© ragd · <a href="/docs/license">License</a></footer>
</body></html>`

func TestExtractHTMLKeepsDocumentationStructure(t *testing.T) {
	t.Parallel()
	ext := mustExtract(t, TypeHTML, []byte(docsPage))
	secs := sectionTexts(ext)
	checks := map[string][]string{
		"Upload API":              {"Uploading a document stores the file and queues its extraction"},
		"Upload API > Parameters": {"Field | Type | Description", "file | binary | The document: PDF, DOCX, HTML, Markdown or text.", "tags | string list | Labels that searches can filter on.", "max_tokens | integer | The largest chunk, in tokens."},
		"Upload API > Example":    {"curl -s localhost:8080/v1/documents \\\n", "-H \"Authorization: Bearer $KEY\" \\\n", "-F file=@report.pdf -F title=\"Q3 report\""},
		"Upload API > Errors":     {"- the file is larger than the upload limit (413);", "- its type is not one ragd reads (415);", "- the tenant's document quota is used up (429)."},
	}
	for path, wants := range checks {
		for _, want := range wants {
			if !strings.Contains(secs[path], want) {
				t.Errorf("section %q lacks %q; sections: %q", path, want, secs)
			}
		}
	}
	for _, gone := range []string{"Search API", "License"} {
		if strings.Contains(ext.Text, gone) {
			t.Errorf("navigation %q kept:\n%s", gone, ext.Text)
		}
	}
}

// TestExtractHTMLKeepsReferenceTable: a reference page that is almost
// all table (short cells, many of them links) keeps every row.
func TestExtractHTMLKeepsReferenceTable(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString(`<!doctype html><html><head><title>HTTP status codes</title></head><body>
<nav><a href="/">Home</a> <a href="/ref">Reference</a></nav>
<main><h1>HTTP status codes</h1><p>Every status code ragd answers with.</p>
<table><thead><tr><th>Code</th><th>Name</th><th>Meaning</th></tr></thead><tbody>`)
	for code := 100; code < 140; code++ {
		fmt.Fprintf(&b, `<tr><td><a href="/ref/%d">%d</a></td><td><a href="/ref/%d">Status%d</a></td><td>meaning%d</td></tr>`, code, code, code, code, code)
	}
	b.WriteString(`</tbody></table></main></body></html>`)
	ext := mustExtract(t, TypeHTML, []byte(b.String()))
	secs := sectionTexts(ext)
	for code := 100; code < 140; code++ {
		if want := fmt.Sprintf("%d | Status%d | meaning%d", code, code, code); !strings.Contains(secs["HTTP status codes"], want) {
			t.Fatalf("row %q lost; sections: %q", want, secs)
		}
	}
	if !strings.Contains(ext.Text, "Code | Name | Meaning") {
		t.Errorf("header row lost:\n%s", ext.Text)
	}
}

// TestExtractHTMLShortPage: a page too short for go-trafilatura (below its
// minimum it returns a flat, repeated text) is walked whole, once.
func TestExtractHTMLShortPage(t *testing.T) {
	t.Parallel()
	ext := mustExtract(t, TypeHTML, []byte(`<html><body><h1>Opening hours</h1><ul><li><p>Monday to Friday, 9 to 17</p></li><li>Saturday, 10 to 14</li></ul></body></html>`))
	want := "Opening hours\n\n- Monday to Friday, 9 to 17\n- Saturday, 10 to 14"
	if ext.Text != want {
		t.Errorf("text %q, want %q", ext.Text, want)
	}
}

// TestExtractHTMLBreaksNotRepeated: a long article of <br>-separated lines
// (which go-trafilatura keeps whole and then line by line) comes out once.
func TestExtractHTMLBreaksNotRepeated(t *testing.T) {
	t.Parallel()
	var lines []string
	for i := range 12 {
		lines = append(lines, fmt.Sprintf("Line %d of the poem, long enough to count as text and not as a label", i))
	}
	page := `<html><body><article><h1>A poem</h1><div>` + strings.Join(lines, "<br>") + `</div></article></body></html>`
	ext := mustExtract(t, TypeHTML, []byte(page))
	for i := range 12 {
		if n := strings.Count(ext.Text, fmt.Sprintf("Line %d of", i)); n != 1 {
			t.Errorf("line %d appears %d times:\n%s", i, n, ext.Text)
		}
	}
}

// TestExtractHTMLBadInput: empty, malformed, binary and hostile pages end
// in text or a clear error code, never a panic (Extract turns a panic into
// CodeInternal, which would fail this test).
func TestExtractHTMLBadInput(t *testing.T) {
	t.Parallel()
	binary := make([]byte, 4096)
	for i := range binary {
		binary[i] = byte(i*7 + i/13)
	}
	cases := map[string]struct {
		page     string
		wantText string // "" means: must fail with no_text or invalid_encoding
	}{
		"Empty":             {"", ""},
		"OnlyWhitespace":    {" \n\t ", ""},
		"OnlyMarkup":        {"<html><head><title></title></head><body><div><span></span></div></body></html>", ""},
		"Unclosed":          {"<html><body><h1>Title<p>Unclosed <b>bold <table><tr><td>cell one<td>cell two", "cell two"},
		"StrayClosingTags":  {"</div></p></table></html><p>Text after stray tags</p></body>", "Text after stray tags"},
		"Binary":            {string(binary), "?"},
		"ManyAttributes":    {"<p " + strings.Repeat(`a="b" `, 20000) + ">Attribute soup</p>", "Attribute soup"},
		"DeepLists":         {strings.Repeat("<ul><li>", 400) + "deep item" + strings.Repeat("</li></ul>", 400), "deep item"},
		"DeepTables":        {strings.Repeat("<table><tr><td>", 200) + "deep cell" + strings.Repeat("</td></tr></table>", 200), "deep cell"},
		"HugeTable":         {"<table>" + strings.Repeat("<tr><td>x</td><td>y</td></tr>", 20000) + "</table>", "x | y"},
		"ScriptLookingText": {"<body><p>&lt;script&gt;alert(1)&lt;/script&gt; is shown as text</p></body>", "<script>alert(1)</script> is shown as text"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ext, err := Extract(t.Context(), TypeHTML, []byte(tc.page), Limits{Timeout: time.Minute})
			switch {
			case tc.wantText == "":
				if e, ok := AsError(err); !ok || (e.Code != CodeNoText && e.Code != CodeInvalidEncoding) {
					t.Fatalf("err = %v, text %q; want no_text or invalid_encoding", err, ext.Text)
				}
			case tc.wantText == "?": // text or a clear refusal, anything but internal
				if e, ok := AsError(err); err != nil && (!ok || e.Code == CodeInternal) {
					t.Fatalf("err = %v", err)
				}
			default:
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if !strings.Contains(ext.Text, tc.wantText) {
					t.Errorf("text lacks %q:\n%s", tc.wantText, ext.Text)
				}
			}
		})
	}
}

// TestExtractHTMLLongPage: a page with more text than go-trafilatura is
// given (its time grows with the square of the text) is walked whole,
// pruned, with its structure: a manual, not an article among menus.
func TestExtractHTMLLongPage(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString(`<html><head><title>Manual</title></head><body><nav><a href="/">Home</a> <a href="/faq">FAQ</a></nav><main><h1>Manual</h1>`)
	sections := 0
	for ; b.Len() < 3*maxTrafilaturaText; sections++ {
		fmt.Fprintf(&b, `<h2>Chapter %d</h2><p>Chapter %d explains one more part of how tenants upload documents and search them.</p>`+
			`<div class="share-tools"><a href="/share">Share this chapter</a></div><table><tr><td>key%d</td><td>value%d</td></tr></table>`, sections, sections, sections, sections)
	}
	b.WriteString(`</main></body></html>`)
	ext, err := Extract(t.Context(), TypeHTML, []byte(b.String()), Limits{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	secs := sectionTexts(ext)
	for i := range sections {
		path := fmt.Sprintf("Manual > Chapter %d", i)
		if sec := secs[path]; !strings.Contains(sec, fmt.Sprintf("Chapter %d explains", i)) || !strings.Contains(sec, fmt.Sprintf("key%d | value%d", i, i)) {
			t.Fatalf("section %q is %q", path, sec)
		}
	}
	for _, gone := range []string{"Share this chapter", "FAQ"} {
		if strings.Contains(ext.Text, gone) {
			t.Errorf("boilerplate %q kept", gone)
		}
	}

	// The walk is ours, not go-trafilatura's.
	doc, err := html.Parse(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	body := findFirst(doc, func(n *html.Node) bool { return n.DataAtom == atom.Body })
	size := prune(t.Context(), body)
	if size.text <= maxTrafilaturaText {
		t.Fatalf("the page holds %d bytes of text, want over %d", size.text, maxTrafilaturaText)
	}
	if root, fromTrafilatura := mainContent(doc, body, size); fromTrafilatura || root.DataAtom != atom.Main {
		t.Errorf("mainContent = <%s>, from go-trafilatura %v; want our walk of <main>", root.Data, fromTrafilatura)
	}
}

// TestExtractHTMLManyParagraphs: little text in very many paragraphs
// (go-trafilatura's cost is paragraphs × text) is walked by us too, and
// keeps every paragraph.
func TestExtractHTMLManyParagraphs(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString(`<html><body><main>`)
	const n = 40000
	for i := range n {
		fmt.Fprintf(&b, "<p>w%d</p>", i)
	}
	b.WriteString(`</main></body></html>`)
	doc, err := html.Parse(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	body := findFirst(doc, func(n *html.Node) bool { return n.DataAtom == atom.Body })
	size := prune(t.Context(), body)
	if size.paragraphs != n || size.text > maxTrafilaturaText {
		t.Fatalf("size %+v, want %d paragraphs and at most %d bytes of text", size, n, maxTrafilaturaText)
	}
	if _, fromTrafilatura := mainContent(doc, body, size); fromTrafilatura {
		t.Error("go-trafilatura was given 40,000 paragraphs")
	}
	ext := mustExtract(t, TypeHTML, []byte(b.String()))
	if got := strings.Count(ext.Text, "\n\n") + 1; got != n {
		t.Errorf("%d paragraphs extracted, want %d", got, n)
	}
}

// TestExtractHTMLHeadlineRootsHeadingPaths: a headline outside the block
// go-trafilatura keeps still heads the sections, when the title names it;
// an <h1> the title does not name (a site's logo) does not.
func TestExtractHTMLHeadlineRootsHeadingPaths(t *testing.T) {
	t.Parallel()
	story := func(title, h1 string) string {
		var b strings.Builder
		fmt.Fprintf(&b, `<html><head><title>%s</title></head><body><div class="top"><h1>%s</h1></div><div class="story">`, title, h1)
		for i := range 3 {
			b.WriteString(para("Opening", i))
		}
		b.WriteString(`<h2>Reactions</h2>`)
		for i := 3; i < 6; i++ {
			b.WriteString(para("Reactions", i))
		}
		b.WriteString(`</div></body></html>`)
		return b.String()
	}
	ext := mustExtract(t, TypeHTML, []byte(story("Council approves river plan | Daily Planet", "Council approves river plan")))
	secs := sectionTexts(ext)
	if !strings.Contains(secs["Council approves river plan > Reactions"], "Paragraph 4 explains") ||
		!strings.Contains(secs["Council approves river plan"], "Paragraph 1 explains") {
		t.Errorf("sections not under the headline: %q", secs)
	}
	ext = mustExtract(t, TypeHTML, []byte(story("Council approves river plan | Daily Planet", "Daily Planet Weekly")))
	secs = sectionTexts(ext)
	if !strings.Contains(secs["Reactions"], "Paragraph 4 explains") {
		t.Errorf("an <h1> the title does not name rooted the sections: %q", secs)
	}
}
