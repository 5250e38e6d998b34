package console_test

import (
	"fmt"
	"html"
	"mime"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ragd/ragd/api/apitest"
	"github.com/ragd/ragd/extract/extracttest"
)

// hostileText is a document whose words are markup: the playground must
// show them as text.
const hostileText = `<img src=x onerror=alert(1)> <script>alert("x")</script> ` +
	`The zeppelin hangar opens at dawn. `

// TestConsoleSearchSnippets: the playground shows each hit as its title,
// page and a short snippet with the query's words in <mark>, the whole
// passage behind a control, and a link to the file at the hit's page
// that the session opens; markup in a document stays text; another
// tenant's session cannot open the file.
func TestConsoleSearchSnippets(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, keyA := b.TenantWithKey("snippets-a", allScopes...)
	_, keyB := b.TenantWithKey("snippets-b", allScopes...)
	pdf := b.Upload(keyA, "", "airships.pdf", extracttest.ChapterPDF(2, 1, 10, "Airships: the dirigible mooring mast stands on the roof.")).JSON(t)["id"].(string)
	hostile := b.Upload(keyA, "", "hostile.txt", []byte(hostileText+strings.Repeat("Filler words about nothing in particular. ", 40))).JSON(t)["id"].(string)
	b.WaitDocument(keyA, pdf)
	b.WaitDocument(keyA, hostile)

	a, other := b.signIn(keyA), b.signIn(keyB)
	page := string(a.get("/console/search?q=dirigible+mooring&mode=sparse&top_k=1").Body)
	if !strings.Contains(page, "<mark>dirigible</mark>") || !strings.Contains(page, "<mark>mooring</mark>") {
		t.Fatalf("no highlighted snippet: %.3000s", page)
	}
	if !strings.Contains(page, `<details class="passage">`) {
		t.Fatalf("no control to show the whole passage: %.3000s", page)
	}
	// The snippet is short; the whole passage is only inside <details>.
	snippet := regexp.MustCompile(`(?s)<p class="snippet">(.*?)</p>`).FindStringSubmatch(page)
	if snippet == nil || len([]rune(html.UnescapeString(regexp.MustCompile(`<[^>]+>`).ReplaceAllString(snippet[1], "")))) > 210 {
		t.Fatalf("snippet: %q", snippet)
	}
	// The hit's page opens the PDF there; its title, the document's page.
	link := regexp.MustCompile(`<a class="pages original" href="([^"]+)"`).FindStringSubmatch(page)
	if link == nil || link[1] != "/v1/documents/"+pdf+"/content#page=2" {
		t.Fatalf("the hit's page links to %v, want the PDF's page 2", link)
	}
	if title := regexp.MustCompile(`<p class="cite"><a class="doc" href="([^"#]+)#chunk-`).FindStringSubmatch(page); title == nil || title[1] != "/console/documents/"+pdf {
		t.Fatalf("the hit's title links to %v, want the document's page", title)
	}
	// The link opens with the session alone, inline; not for another tenant.
	src := strings.TrimSuffix(link[1], "#page=2")
	r := a.get(src)
	if disp, _, _ := mime.ParseMediaType(r.Header.Get("Content-Disposition")); r.Status != 200 || disp != "inline" || r.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("the session opens the PDF: %d %v", r.Status, r.Header)
	}
	if r := other.get(src); r.Status != 404 {
		t.Fatalf("another tenant's session opens the PDF: %d", r.Status)
	}

	// Markup in a document is text, in the snippet and the whole passage.
	page = string(a.get("/console/search?q=zeppelin+hangar&mode=sparse&top_k=1").Body)
	if strings.Contains(page, "<img src=x") || strings.Contains(page, `<script>alert`) ||
		!strings.Contains(page, "&lt;img src=x onerror=alert(1)&gt;") || !strings.Contains(page, "<mark>zeppelin</mark>") {
		t.Fatalf("markup of a document is not escaped: %.3000s", page)
	}
}

// TestConsoleSnippetInBrowser: in Chromium, a hostile document's snippet
// is text (no element made from it, nothing run), the query's words are
// marked, the whole passage opens on request, and the page stays short.
func TestConsoleSnippetInBrowser(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, key := b.TenantWithKey("snippets-browser", allScopes...)
	long := hostileText + strings.Repeat("Filler words about nothing in particular. ", 40)
	for i := range 8 {
		id := b.Upload(key, "", fmt.Sprintf("hostile-%d.txt", i), []byte(fmt.Sprintf("%s copy %d", long, i))).JSON(t)["id"].(string)
		b.WaitDocument(key, id)
	}
	alloc := apitest.Chromium(t)
	p := newPerson(t, alloc)
	p.do(30*time.Second, chromedp.Navigate(b.url+"/console/login"), chromedp.WaitVisible(chromedp.ID("api_key")),
		chromedp.SendKeys(chromedp.ID("api_key"), key), chromedp.Submit(chromedp.ID("api_key")),
		chromedp.WaitVisible(chromedp.ID("upload")))
	p.do(30*time.Second, chromedp.Navigate(b.url+"/console/search?q=zeppelin+hangar&mode=sparse"), chromedp.WaitVisible(chromedp.CSS(".hit")))
	if n := p.eval(`document.querySelectorAll(".hits img, .hits script").length.toString()`); n != "0" {
		t.Errorf("%s elements made of a document's text", n)
	}
	if got := p.text(".hit .snippet"); !strings.Contains(got, `<img src=x onerror=alert(1)>`) {
		t.Errorf("snippet shows %q", got)
	}
	if got := p.eval(`Array.from(document.querySelectorAll(".hit .snippet mark")).map(m => m.textContent).join(",")`); !strings.HasPrefix(got, "zeppelin,hangar") {
		t.Errorf("marked: %q", got)
	}
	if n := p.eval(`document.querySelectorAll(".hit").length.toString()`); n != "8" {
		t.Errorf("%s hits, want 8", n)
	}
	// Eight hits, no whole passages open: a short page.
	if h, _ := strconv.Atoi(p.eval(`document.documentElement.scrollHeight.toString()`)); h == 0 || h > 2000 {
		t.Errorf("the page is %d px tall", h)
	}
	if vis := p.eval(`document.querySelector(".hit .passage blockquote").checkVisibility().toString()`); vis != "false" {
		t.Errorf("the whole passage shows before it is asked for")
	}
	p.do(10*time.Second, chromedp.Click(chromedp.CSS(".hit .passage summary")))
	if vis := p.eval(`document.querySelector(".hit .passage blockquote").checkVisibility().toString()`); vis != "true" {
		t.Errorf("the whole passage does not open")
	}
	if got := p.text(".hit .passage blockquote"); !strings.Contains(got, "Filler words") || !strings.Contains(got, "<script>") {
		t.Errorf("whole passage: %q", got)
	}
}
