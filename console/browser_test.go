package console_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"

	"github.com/ragd/ragd/api/apitest"
	"github.com/ragd/ragd/embedder"
	"github.com/ragd/ragd/search"
	"github.com/ragd/ragd/sources"
)

// bashManual is a real PDF (the bash manual page, 87 pages, from Debian's
// bash-doc, which make test installs).
const bashManual = "/usr/share/doc/bash-doc/bash.pdf"

// person is one browser profile (its own cookies) with one tab.
type person struct {
	t   *testing.T
	ctx context.Context

	axeVersion, axeSrc string // axe-core, once checkAccessible has read it
}

func newPerson(t *testing.T, alloc context.Context) *person {
	t.Helper()
	ctx, cancel := chromedp.NewContext(alloc, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// Open the tab on this context: the first Do binds the tab to its
	// context, and a timeout's context would take the tab with it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return &person{t: t, ctx: ctx}
}

// do runs steps, each wait bounded by d.
func (p *person) do(d time.Duration, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, d)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		body, _ := chromedp.Run(p.ctx, chromedp.Text(chromedp.CSS("body")))
		p.t.Fatalf("browser: %v\npage text: %.1500s", err, body)
	}
}

func (p *person) text(sel string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		p.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func (p *person) eval(js string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", js, err)
	}
	return s
}

// screenshotWidths are the windows the README shows each page in: a phone
// and a laptop, 900 px high.
var screenshotWidths = []int64{390, 1280}

// screenshot saves the page as it is now, at each of screenshotWidths
// (name-390.png, name-1280.png), for the README when RAGD_SCREENSHOTS
// names a directory (make screenshots); otherwise it does nothing. Where
// the element show names (CSS) lies below the window, the page is
// scrolled to bring it to the middle. The page keeps the width it had.
func (p *person) screenshot(name string, show ...string) {
	p.t.Helper()
	dir := os.Getenv("RAGD_SCREENSHOTS")
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(p.ctx, time.Minute)
	defer cancel()
	was, err := chromedp.Run(ctx, chromedp.Evaluate[int64](`window.innerWidth`))
	if err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	for _, w := range screenshotWidths {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(w, 900)); err != nil {
			p.t.Fatalf("screenshot %s: %v", name, err)
		}
		for _, sel := range show {
			js := fmt.Sprintf(`((e) => { window.scrollTo(0, 0); if (e.getBoundingClientRect().bottom > innerHeight) e.scrollIntoView({block: "center"}) })(document.querySelector(%q))`, sel)
			if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](js)); err != nil {
				p.t.Fatalf("screenshot %s: show %s: %v", name, sel, err)
			}
		}
		shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()) // the window
		if err != nil {
			p.t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d.png", name, w)), smallPNG(p.t, shot), 0o644); err != nil {
			p.t.Fatal(err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(was, 900), chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`)); err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
}

// unnamedControls lists the page's controls (fields, buttons, links) that
// a screen reader would announce without a name, from Chromium's
// accessibility tree.
func (p *person) unnamedControls() []string {
	p.t.Helper()
	var bad []string
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		tree, err := cdp.Call(ctx, tg, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
		if err != nil {
			return err
		}
		for _, n := range tree.Nodes {
			if n.Ignored || n.Role == nil {
				continue
			}
			var role, name string
			_ = json.Unmarshal(n.Role.Value, &role)
			if n.Name != nil {
				_ = json.Unmarshal(n.Name.Value, &name)
			}
			switch role {
			case "textbox", "searchbox", "combobox", "checkbox", "button", "link", "spinbutton", "radio", "progressbar", "image":
				if strings.TrimSpace(name) == "" {
					bad = append(bad, role)
				}
			}
		}
		return nil
	}))
	if err != nil {
		p.t.Fatalf("accessibility tree: %v", err)
	}
	return bad
}

// TestConsoleInBrowser uses the console as a person would, in headless
// Chromium: sign in through the identity provider, upload a real PDF and watch it become
// ready, search it and see a citation with its page, create an agent whose
// output schema is wrong and see the server's error as they type, fix it,
// create and revoke a key, read the usage, add a webhook, estimate an
// embedding migration; a second tenant's person sees none of it. Every
// page's controls have names, axe-core finds nothing serious on any, and
// the keyboard reaches the skip link and the navigation first. With
// RAGD_SCREENSHOTS set (make screenshots), each page is saved at 390 and
// 1280 px for the README.
func TestConsoleInBrowser(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(bashManual); err != nil {
		t.Fatalf("%s is missing: install Debian's bash-doc (make test does)", bashManual)
	}
	b, iss := setupOIDC(t, apitest.Options{OfferedSpaces: []search.Space{{Model: embedder.LocalModel, Dimensions: 32}},
		Sources: sources.Config{AllowPrivate: true, Delay: time.Millisecond}}, true)
	tenantA := b.TenantWithOrg("browser-a", "org_a")
	keyA := b.Must(201, "POST", "/v1/tenants/"+tenantA+"/api-keys", apitest.AdminToken, map[string]any{"name": "test", "scopes": allScopes}).JSON(t)["key"].(string)
	iss.SetLogin(map[string]any{"sub": "user_ada", "email": "ada@a.example", "org_id": "org_a", "org_role": "org:admin"})
	_, keyB := b.TenantWithKey("browser-b", allScopes...)
	alloc := apitest.Chromium(t)
	a := newPerson(t, alloc)
	checkNames := func(page string) {
		t.Helper()
		if bad := a.unnamedControls(); len(bad) > 0 {
			t.Errorf("%s: controls without an accessible name: %v", page, bad)
		}
		a.checkAccessible(page)
	}

	// Sign in through the identity provider (the in-process issuer
	// approves at once).
	a.do(30*time.Second, chromedp.Navigate(b.url+"/"), chromedp.WaitVisible(chromedp.ID("api_key")))
	checkNames("sign-in")
	a.screenshot("signin")
	a.do(30*time.Second, chromedp.Click(chromedp.Search(`//a[contains(., "Sign in with Test IdP")]`)),
		chromedp.WaitVisible(chromedp.ID("upload")))
	if who := a.text(".who"); !strings.Contains(who, "ada@a.example") {
		t.Errorf("signed in as %q", who)
	}
	if tenant := a.text(".tenant"); !strings.Contains(tenant, "Tenant browser-a") || !strings.Contains(tenant, "org_a") {
		t.Errorf("the header names the tenant as %q, want its name and organisation", tenant)
	}

	// The keyboard: the first Tab reaches the skip link, the next ones the
	// navigation.
	a.do(10*time.Second, chromedp.KeyEvent("\t"))
	if got := a.eval(`document.activeElement.textContent.trim()`); got != "Skip to content" {
		t.Errorf("the first Tab focuses %q, want the skip link", got)
	}
	a.do(10*time.Second, chromedp.KeyEvent("\t"))
	if got := a.eval(`document.activeElement.textContent.trim()`); got != "Documents" {
		t.Errorf("the second Tab focuses %q, want the Documents link", got)
	}

	// Upload the manual; its row goes to ready by itself (events stream).
	a.do(30*time.Second, chromedp.SetUploadFiles(chromedp.ID("files"), []string{bashManual}),
		chromedp.Click(chromedp.CSS(`#upload button[type="submit"]`)))
	a.do(3*time.Minute, chromedp.WaitVisible(chromedp.CSS(`#uploads li[data-status="ready"]`)))
	if got := a.eval(`document.querySelector("#uploads progress").value.toString()`); got != "1" {
		t.Errorf("the upload's progress bar ends at %s, want 1", got)
	}
	a.do(30*time.Second, chromedp.Click(chromedp.CSS(`#uploads-done a`)), chromedp.WaitVisible(chromedp.CSS(`tr[data-status="ready"]`)))
	if row := a.text(`tr[data-status="ready"]`); !strings.Contains(row, "bash.pdf") || !strings.Contains(row, "87") {
		t.Errorf("the documents table shows %q, want bash.pdf with its 87 pages", row)
	}
	checkNames("documents")
	a.screenshot("documents", "#documents-total")

	// Search it: a citation with its page and a link to the file.
	a.do(30*time.Second, chromedp.Navigate(b.url+"/console/search"), chromedp.WaitVisible(chromedp.ID("q")),
		chromedp.SendKeys(chromedp.ID("q"), "PROMPT_COMMAND executed before each prompt"),
		chromedp.Submit(chromedp.ID("q")), chromedp.WaitVisible(chromedp.CSS(".hit")))
	cite := a.text(".hit .cite")
	if !strings.Contains(cite, "page") || !strings.Contains(a.text(".hit .snippet"), "PROMPT_COMMAND") || a.text(".hit .snippet mark") == "" {
		t.Errorf("first hit: %q, snippet %q", cite, a.text(".hit .snippet"))
	}
	// The citation's page opens the PDF at that page; its title, the
	// document's page at the chunk.
	if href := a.eval(`document.querySelector(".hit .cite a.original").getAttribute("href")`); !strings.HasPrefix(href, "/v1/documents/") || !strings.Contains(href, "/content#page=") {
		t.Errorf("the citation's page links to %q", href)
	}
	checkNames("search")
	a.screenshot("search")
	a.do(30*time.Second, chromedp.Click(chromedp.CSS(".hit .cite a.doc")), chromedp.WaitVisible(chromedp.ID("facts")))
	if target := a.eval(`location.hash.slice(1)`); !strings.HasPrefix(target, "chunk-") || a.eval(`document.getElementById(location.hash.slice(1)) ? "yes" : "no"`) != "yes" {
		t.Errorf("the citation's title opens the document page at %q, which is not a chunk on it", target)
	}
	if facts := a.text("#facts"); !strings.Contains(facts, "87") || !strings.Contains(facts, "bash.pdf") {
		t.Errorf("the document page's facts: %q", facts)
	}
	checkNames("document")
	a.eval(`window.scrollTo(0, 0); ""`)
	a.screenshot("document")

	// The same file again: the upload says which document it already is.
	a.do(30*time.Second, chromedp.Navigate(b.url+"/console/documents"), chromedp.WaitVisible(chromedp.ID("files")),
		chromedp.SetUploadFiles(chromedp.ID("files"), []string{bashManual}),
		chromedp.Click(chromedp.CSS(`#upload button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#uploads li[data-status="duplicate"]`)))
	if got := a.text(`#uploads li[data-status="duplicate"] .state`); !strings.Contains(got, "already uploaded as") || !strings.Contains(got, "bash") {
		t.Errorf("a duplicate upload says %q", got)
	}
	if href := a.eval(`document.querySelector("#uploads li .state a").getAttribute("href")`); !strings.HasPrefix(href, "/console/documents/") {
		t.Errorf("the duplicate notice links to %q", href)
	}

	// An agent with a wrong output schema: the server's error shows next to
	// the field as it is typed; fixed, the agent saves.
	a.do(30*time.Second, chromedp.Navigate(b.url+"/console/agents/new"), chromedp.WaitVisible(chromedp.ID("name")),
		chromedp.SendKeys(chromedp.ID("name"), "Support Bot"), chromedp.SendKeys(chromedp.ID("model"), "gpt-4o-mini"),
		chromedp.SendKeys(chromedp.ID("output_schema"), `{"type": "object", "properties": {"answer": {"type": "strnig"}}}`),
		chromedp.WaitVisible(chromedp.CSS(`#output_schema-error .field-error`)))
	if msg := a.text(`#output_schema-error .field-error`); msg == "" {
		t.Error("no error shown next to the output schema")
	}
	checkNames("agent editor")
	a.screenshot("agent", "#output_schema-error")
	a.eval(`document.getElementById("output_schema").value = ""`)
	a.do(30*time.Second,
		chromedp.SendKeys(chromedp.ID("output_schema"), `{"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}`),
		chromedp.WaitNotPresent(chromedp.CSS(`#output_schema-error .field-error`)),
		chromedp.Click(chromedp.CSS(`#agent-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("agents")))
	if list := a.text("#agents"); !strings.Contains(list, "Support Bot") {
		t.Errorf("agents list: %q", list)
	}
	// The checks as one typed were dry runs: one agent, the one saved.
	if n := a.eval(`document.querySelectorAll("#agents tbody tr").length.toString()`); n != "1" {
		t.Errorf("%s agents after saving one", n)
	}
	checkNames("agents")
	a.screenshot("agents")

	// A key: created, shown once, works; revoked (after a confirmation),
	// refused.
	a.do(30*time.Second, chromedp.Navigate(b.url+"/console/keys"), chromedp.WaitVisible(chromedp.ID("key-name")),
		chromedp.SendKeys(chromedp.ID("key-name"), "chat runtime"),
		chromedp.Click(chromedp.CSS(`form[action="/console/keys"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("new-key")))
	newKey := a.text("#new-key")
	if !strings.HasPrefix(newKey, "ragd_sk_") {
		t.Fatalf("new key shown as %q", newKey)
	}
	b.Must(200, "GET", "/v1/documents", newKey, nil)
	checkNames("keys")
	a.screenshot("keys")
	a.eval(`window.confirm = (m) => { window.asked = m; return true }; ""`)
	a.do(30*time.Second, chromedp.Click(chromedp.CSS(`button[aria-label="Revoke chat runtime"]`)),
		chromedp.WaitVisible(chromedp.Search(`//td[contains(., "revoked")]`)))
	if b.Req("GET", "/v1/documents", newKey, nil).Status != 401 {
		t.Error("the revoked key still works")
	}

	// Usage: charts drawn on the server.
	a.do(30*time.Second, chromedp.Navigate(b.url+"/console/usage"), chromedp.WaitVisible(chromedp.CSS("figure.chart svg")))
	if n := a.eval(`document.querySelectorAll("figure.chart svg rect").length.toString()`); n == "0" {
		t.Error("the usage charts have no bars")
	}
	checkNames("usage")
	a.screenshot("usage")

	// A webhook (for an event this test never causes: nothing is sent),
	// its signing secret shown once, and its page.
	a.do(30*time.Second, chromedp.Navigate(b.url+"/console/webhooks"), chromedp.WaitVisible(chromedp.ID("webhook-url")),
		chromedp.SendKeys(chromedp.ID("webhook-url"), "https://hooks.example.com/ragd"),
		chromedp.SendKeys(chromedp.ID("webhook-description"), "the CRM's integration"))
	a.eval(`document.querySelectorAll('input[name="event_types"]').forEach((c) => { c.checked = c.value === "evaluation.completed" }); ""`)
	a.do(30*time.Second, chromedp.Click(chromedp.CSS(`#webhook-form button[type="submit"]`)), chromedp.WaitVisible(chromedp.ID("new-secret")))
	checkNames("webhooks")
	a.screenshot("webhooks")
	a.do(30*time.Second, chromedp.Click(chromedp.CSS(`#webhooks a[aria-label^="Deliveries"]`)), chromedp.WaitVisible(chromedp.ID("facts")))
	checkNames("webhook")
	a.screenshot("webhook")

	// What moving to another embedding model would cost.
	a.do(30*time.Second, chromedp.Navigate(b.url+"/console/migrations"), chromedp.WaitVisible(chromedp.ID("model")),
		chromedp.Clear(chromedp.ID("model")), chromedp.SendKeys(chromedp.ID("model"), embedder.LocalModel),
		chromedp.Clear(chromedp.ID("dimensions")), chromedp.SendKeys(chromedp.ID("dimensions"), "32"),
		chromedp.Click(chromedp.CSS(`#migration-form button[value="estimate"]`)), chromedp.WaitVisible(chromedp.ID("estimate")))
	checkNames("migrations")
	a.screenshot("migrations")

	// A help centre on the web (a small site on loopback, one of whose
	// links is gone), added as a source through the form; its runs.
	helpSite := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/help/":
			fmt.Fprint(w, `<html><head><title>Help centre</title></head><body><h1>Help centre</h1><a href="/help/leave">Leave</a> <a href="/help/retired">Retired page</a></body></html>`)
		case "/help/leave":
			fmt.Fprint(w, `<html><head><title>Leave and holidays</title></head><body><h1>Leave</h1><p>Everyone gets 25 vacation days a year.</p></body></html>`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(helpSite.Close)
	a.do(30*time.Second, chromedp.Navigate(b.url+"/console/sources"), chromedp.WaitVisible(chromedp.ID("source-url")),
		chromedp.SendKeys(chromedp.ID("source-url"), helpSite.URL+"/help/"), chromedp.SendKeys(chromedp.ID("source-tags"), "help-centre"),
		chromedp.Click(chromedp.CSS(`#source-form button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(`.notice`)))
	var srcID string
	apitest.Eventually(t, "the console's source to finish its first run", func() bool {
		var out struct {
			Data []struct {
				ID      string         `json:"id"`
				LastRun map[string]any `json:"last_run"`
			} `json:"data"`
		}
		if err := json.Unmarshal(b.Must(200, "GET", "/v1/sources", keyA, nil).Body, &out); err != nil || len(out.Data) != 1 {
			return false
		}
		srcID = out.Data[0].ID
		return out.Data[0].LastRun != nil && out.Data[0].LastRun["status"] != "running"
	})
	a.do(30*time.Second, chromedp.Navigate(b.url+"/console/sources"), chromedp.WaitVisible(chromedp.ID("source-url")))
	checkNames("sources")
	a.screenshot("sources")
	a.do(30*time.Second, chromedp.Navigate(b.url+"/console/sources/"+srcID), chromedp.WaitVisible(chromedp.ID("runs-title")))
	// The failed pages are behind "1 failed page" (a <details>).
	if got := a.eval(`document.querySelector("main details").textContent`); !strings.Contains(got, "/help/retired") || !strings.Contains(got, "HTTP 404") {
		t.Errorf("the source's page does not show its failed page: %.500s", got)
	}
	checkNames("source")
	a.screenshot("source")

	// Another tenant's person, signed in with a key, sees none of it.
	other := newPerson(t, alloc)
	other.do(30*time.Second, chromedp.Navigate(b.url+"/console/login"), chromedp.WaitVisible(chromedp.ID("api_key")),
		chromedp.SendKeys(chromedp.ID("api_key"), keyB), chromedp.Submit(chromedp.ID("api_key")),
		chromedp.WaitVisible(chromedp.ID("documents-empty")))
	other.do(30*time.Second, chromedp.Navigate(b.url+"/console/search?q=PROMPT_COMMAND"), chromedp.WaitVisible(chromedp.ID("results")))
	if got := other.text("#results"); !strings.HasPrefix(got, "0 passages") {
		t.Errorf("tenant B's search: %q", got)
	}
	other.do(30*time.Second, chromedp.Navigate(b.url+"/console/agents"))
	if strings.Contains(other.text("main"), "Support Bot") {
		t.Error("tenant B sees tenant A's agent")
	}
}

// fitsJS checks the page as a person on that screen sees it: the page is
// no wider than the window (no sideways scrolling), no chart cuts its own
// labels, and each action named
// by the selectors (every match) lies inside the window, shown and on top,
// once scrolled to vertically. It answers JSON: the page's width and the
// problems found.
const fitsJS = `((selectors) => {
  const iw = window.innerWidth, sw = document.documentElement.scrollWidth;
  const problems = [];
  const name = (e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") +
    (typeof e.className === "string" && e.className ? "." + e.className.trim().split(/\s+/).join(".") : "");
  if (sw > iw) {
    const wide = [...document.querySelectorAll("body *")].filter((e) => e.getBoundingClientRect().right > iw + 0.5);
    problems.push("the page is " + sw + " px wide in a " + iw + " px window; over the edge: " + wide.slice(0, 6).map(name).join(", "));
  }
  // A chart's labels and values lie inside it: an SVG cuts what is not.
  for (const tx of document.querySelectorAll("svg text")) {
    const r = tx.getBoundingClientRect(), s = tx.closest("svg").getBoundingClientRect();
    if (r.top < s.top - 0.5 || r.bottom > s.bottom + 0.5 || r.left < s.left - 0.5 || r.right > s.right + 0.5) {
      problems.push("the chart label " + JSON.stringify(tx.textContent) + " is cut by the chart's edge");
    }
  }
  for (const sel of selectors) {
    const els = document.querySelectorAll(sel);
    if (els.length === 0) { problems.push(sel + ": not on the page"); continue; }
    for (const el of els) {
      window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - window.innerHeight / 2);
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) { problems.push(sel + ": not shown"); break; }
      if (r.left < 0 || r.right > iw + 0.5) { problems.push(sel + ": at " + Math.round(r.left) + " to " + Math.round(r.right) + " px, outside the window"); break; }
      // A link that wraps has boxes per line: aim at the first.
      const box = el.getClientRects()[0] || r;
      const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
      if (!hit || !(hit === el || el.contains(hit))) { problems.push(sel + ": covered by " + (hit ? name(hit) : "nothing")); break; }
    }
  }
  window.scrollTo(0, 0);
  return JSON.stringify({width: sw, problems: problems});
})`

// TestConsoleFitsNarrowAndWideScreens loads every console page at 390 px
// (a phone) and 1280 px (a laptop) wide, with data as a tenant has it
// (long titles and file names, tags, a failed document, a key that
// expires, agents): no page scrolls sideways, and every page's actions lie
// inside the window where a click reaches them. On the phone, deleting an
// agent and revoking the session's own key go through their confirmation
// pages.
func TestConsoleFitsNarrowAndWideScreens(t *testing.T) {
	t.Parallel()
	site := newGatedSite(t)
	b := setupWith(t, apitest.Options{Sources: sources.Config{AllowPrivate: true, Delay: time.Millisecond, Timeout: 30 * time.Second}})
	tenantID, key := b.TenantWithKey("screens", allScopes...)
	b.Must(200, "PATCH", "/v1/tenants/"+tenantID, adminToken, map[string]any{"name": "Screens & Co, customer support",
		"quotas": map[string]any{"documents": 100, "stored_bytes": 1 << 30}})
	long := "quarterly-handbook-for-the-customer-support-team-2026-edition-final-v3.md"
	docs := []string{
		b.Upload(key, "", long, []byte("# Vacation\n\nThe handbook says vacation is 25 days a year, booked a month ahead."),
			"tags", "handbook,hr,policies-for-the-whole-company", "title", "Quarterly handbook for the customer support team, 2026 edition").JSON(t)["id"].(string),
		b.Upload(key, "", "faq.txt", []byte("Vacation days carry over to the next year, up to five.")).JSON(t)["id"].(string),
		b.Upload(key, "", "empty-page.html", []byte("<html><body><script>let vacation = 1</script></body></html>")).JSON(t)["id"].(string),
	}
	for _, id := range docs {
		b.WaitDocument(key, id)
	}
	b.Must(201, "POST", "/v1/agents", key, map[string]any{"id": "support-bot-for-the-customer-support-team", "name": "Support bot for the customer support team", "model": "gpt-4o-mini"})
	b.Must(201, "POST", "/v1/api-keys", key, map[string]any{"name": "chat runtime for the website's support widget",
		"scopes": []string{"search"}, "expires_at": time.Now().Add(90 * 24 * time.Hour).UTC().Format(time.RFC3339)})
	// A webhook for an event this test never causes: nothing is sent.
	hook := b.Must(201, "POST", "/v1/webhooks", key, map[string]any{"url": "https://hooks.example.com/ragd/customer-support-team/the-crm-integration-endpoint",
		"description": "the CRM's integration for the customer support team", "event_types": []string{"evaluation.completed"}}).JSON(t)["id"].(string)

	// A website source with a long address, patterns and tags, whose run
	// has a failed page (a link that answers 404).
	source := b.Must(201, "POST", "/v1/sources", key, map[string]any{"type": "website", "url": site.URL + "/?from=the-customer-support-teams-help-centre-start-page",
		"include": []string{"/help/customer-support/*", "/*"}, "exclude": []string{"/help/customer-support/archive/*"}, "max_depth": 2,
		"schedule": "daily", "tags": []string{"help-centre", "customer-support"}}).JSON(t)["id"].(string)
	apitest.Eventually(t, "the source's run to end", func() bool {
		last, _ := b.Must(200, "GET", "/v1/sources/"+source, key, nil).JSON(t)["last_run"].(map[string]any)
		return last != nil && last["status"] != "running"
	})

	alloc := apitest.Chromium(t)
	p := newPerson(t, alloc)
	p.do(30*time.Second, chromedp.Navigate(b.url+"/console/login"), chromedp.WaitVisible(chromedp.ID("api_key")),
		chromedp.SendKeys(chromedp.ID("api_key"), key), chromedp.Submit(chromedp.ID("api_key")),
		chromedp.WaitVisible(chromedp.ID("documents")))

	everywhere := []string{`nav a[href="/console/usage"]`, `nav a[href="/console/webhooks"]`, `nav a[href="/console/migrations"]`, `nav a[href="/console/documents"]`, `.signout button`}
	pages := []struct {
		path    string
		actions []string
	}{
		{"/console/documents", []string{`#upload button[type="submit"]`, `.filters button`, `button[aria-label^="Reindex"]`, `button[aria-label^="Delete"]`}},
		{"/console/documents?status=failed", []string{`tr[data-status="failed"] button[aria-label^="Delete"]`}},
		{"/console/documents?title=handbook&sort=title", []string{`#title`, `#sort`, `.filters button`, `tr[data-document] a`}},
		{"/console/documents/" + docs[0], []string{`#original`, `#reindex button[type="submit"]:not(.danger)`, `#reindex button.danger`,
			`#edit-form button[type="submit"]`, `#versions`, `#history summary`, `#chunks summary`, `#extracted summary`}},
		{"/console/search?q=vacation+days", []string{`#q`, `#agent`, `form[role="search"] button[type="submit"]`, `.hit .cite a`}},
		{"/console/search?q=vacation+days&agent=support-bot-for-the-customer-support-team", []string{`#agent`, `.hit .cite a.doc`}},
		{"/console/agents", []string{`a[href="/console/agents/new"]`, `#agents a[href$="/edit"]`, `#agents a[href$="/delete"]`}},
		{"/console/agents/new", []string{`#agent-form button[type="submit"]`}},
		{"/console/agents/support-bot-for-the-customer-support-team/edit", []string{`#agent-form button[type="submit"]`}},
		{"/console/agents/support-bot-for-the-customer-support-team/delete", []string{`form.confirm button[type="submit"]`, `.confirm a`}},
		{"/console/keys", []string{`form[action="/console/keys"] button[type="submit"]`, `button[aria-label^="Revoke"]`}},
		{"/console/usage", []string{`details.days summary`}},
		{"/console/webhooks", []string{`#webhook-form button[type="submit"]`, `#webhooks a[aria-label^="Deliveries"]`, `button[aria-label^="Turn off"]`, `#webhooks button[aria-label^="Delete"]`}},
		{"/console/migrations", []string{`#migration-form button[value="estimate"]`, `#migration-form button[value="start"]`}},
		{"/console/webhooks/" + hook, []string{`#facts`, `.doc-actions button.secondary`, `.doc-actions button.danger`}},
		{"/console/sources", []string{`#source-form button[type="submit"]`, `#sources a[aria-label^="Runs"]`, `#sources button[aria-label^="Sync"]`, `#sources button[aria-label^="Delete"]`}},
		{"/console/sources/" + source, []string{`#facts`, `.doc-actions button.secondary`, `.doc-actions button.danger`, `#runs details.failures summary`}},
		{"/console/no-such-page", nil},
	}
	for _, width := range []int64{390, 1280} {
		p.do(10*time.Second, chromedp.EmulateViewport(width, 900))
		for _, pg := range pages {
			p.do(30*time.Second, chromedp.Navigate(b.url+pg.path), chromedp.WaitReady(chromedp.CSS("main")))
			sel, _ := json.Marshal(append(pg.actions, everywhere...))
			var got struct {
				Width    int
				Problems []string
			}
			if err := json.Unmarshal([]byte(p.eval(fitsJS+"("+string(sel)+")")), &got); err != nil {
				t.Fatal(err)
			}
			t.Logf("%d px: %s is %d px wide", width, pg.path, got.Width)
			for _, pr := range got.Problems {
				t.Errorf("%d px, %s: %s", width, pg.path, pr)
			}
			p.checkAccessible(fmt.Sprintf("%d px, %s", width, pg.path))
			p.checkKeyboard(fmt.Sprintf("%d px, %s", width, pg.path))
		}
	}
	// On the phone, the actions work: an agent is deleted after its
	// confirmation page, and revoking the key this session signed in with
	// asks first, then signs out.
	p.do(30*time.Second, chromedp.EmulateViewport(390, 900), chromedp.Navigate(b.url+"/console/agents"),
		chromedp.Click(chromedp.CSS(`#agents a[aria-label^="Delete"]`)), chromedp.WaitVisible(chromedp.CSS(`form.confirm`)),
		chromedp.Click(chromedp.CSS(`form.confirm button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(`.notice`)))
	if b.Req("GET", "/v1/agents/support-bot-for-the-customer-support-team", key, nil).Status != 404 {
		t.Error("the agent outlived its confirmed deletion")
	}
	// On the phone, a source is deleted from its page after the
	// confirmation, which says its documents go, keeping them.
	p.do(30*time.Second, chromedp.Navigate(b.url+"/console/sources/"+source), chromedp.Click(chromedp.CSS(`.doc-actions button.danger`)),
		chromedp.WaitVisible(chromedp.CSS(`form.confirm`)))
	if q := p.text(".confirm-page"); !strings.Contains(q, "documents") {
		t.Errorf("the source's delete confirmation says %q", q)
	}
	p.do(30*time.Second, chromedp.Click(chromedp.ID("keep-documents")), chromedp.Click(chromedp.CSS(`form.confirm button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)))
	if b.Req("GET", "/v1/sources/"+source, key, nil).Status != 404 {
		t.Error("the source outlived its confirmed deletion")
	}
	// On the phone, a document's tags are edited on its page, with the
	// keyboard (Enter in the field saves), and deleting a document from a
	// filtered list comes back to that list.
	p.do(30*time.Second, chromedp.Navigate(b.url+"/console/documents/"+docs[1]), chromedp.WaitVisible(chromedp.ID("edit-tags")),
		chromedp.Clear(chromedp.ID("edit-tags")), chromedp.SendKeys(chromedp.ID("edit-tags"), "faq, carry-over\r"),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)))
	if tags := p.text("#doc-tags"); tags != "carry-over, faq" {
		t.Errorf("the document's tags after the edit: %q", tags)
	}
	p.do(30*time.Second, chromedp.Navigate(b.url+"/console/documents?title=faq&sort=title"), chromedp.WaitVisible(chromedp.ID("documents")))
	p.eval(`window.confirm = () => true; ""`) // a page's own: set after navigating
	p.do(30*time.Second, chromedp.Click(chromedp.CSS(`tr[data-document] button[aria-label^="Delete"]`)), chromedp.WaitVisible(chromedp.CSS(`.notice`)))
	if q := p.eval(`location.search`); !strings.Contains(q, "title=faq") || !strings.Contains(q, "sort=title") || p.eval(`document.getElementById("title").value`) != "faq" {
		t.Errorf("after a delete the list is at %q, without its filters", q)
	}
	p.do(30*time.Second, chromedp.Navigate(b.url+"/console/keys"),
		chromedp.Click(chromedp.CSS(`tr[data-current="true"] button[aria-label^="Revoke"]`)), chromedp.WaitVisible(chromedp.CSS(`form.confirm`)))
	b.Must(200, "GET", "/v1/documents", key, nil) // asked, not yet revoked
	p.do(30*time.Second, chromedp.Click(chromedp.CSS(`form.confirm button[type="submit"]`)), chromedp.WaitVisible(chromedp.ID("api_key")))
	if notice := p.text(".notice"); !strings.Contains(notice, "sign in with another key") {
		t.Errorf("after revoking the session's own key: %q", notice)
	}
	if b.Req("GET", "/v1/documents", key, nil).Status != 401 {
		t.Error("the session's key still works after its confirmed revocation")
	}

	// The sign-in page, signed out.
	out := newPerson(t, alloc)
	for _, width := range []int64{390, 1280} {
		out.do(30*time.Second, chromedp.EmulateViewport(width, 900), chromedp.Navigate(b.url+"/console/login"), chromedp.WaitVisible(chromedp.ID("api_key")))
		var got struct {
			Width    int
			Problems []string
		}
		if err := json.Unmarshal([]byte(out.eval(fitsJS+`(["#api_key", "form button[type=\"submit\"]"])`)), &got); err != nil {
			t.Fatal(err)
		}
		t.Logf("%d px: /console/login is %d px wide", width, got.Width)
		for _, pr := range got.Problems {
			t.Errorf("%d px, /console/login: %s", width, pr)
		}
		out.checkAccessible(fmt.Sprintf("%d px, /console/login", width))
		out.checkKeyboard(fmt.Sprintf("%d px, /console/login", width))
	}
}

// smallPNG makes Chromium's screenshot small enough to commit: a page
// has a few hundred to a few thousand colours (mostly the edges of
// letters), so it keeps the 256 most common and draws every other pixel in
// the nearest of them, which the eye does not tell apart, and compresses
// it at zlib's best. About a third of Chromium's size.
func smallPNG(t testing.TB, shot []byte) []byte {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	b := img.Bounds()
	count := map[color.RGBA]int{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			count[color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)]++
		}
	}
	common := slices.SortedFunc(maps.Keys(count), func(c, d color.RGBA) int {
		return cmp.Or(count[d]-count[c], cmp.Compare(c.R, d.R), cmp.Compare(c.G, d.G), cmp.Compare(c.B, d.B), cmp.Compare(c.A, d.A))
	})
	pal := make(color.Palette, 0, 256)
	for _, c := range common[:min(len(common), 256)] {
		pal = append(pal, c)
	}
	out := image.NewPaletted(b, pal)
	index := map[color.RGBA]uint8{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			i, ok := index[c]
			if !ok {
				i = uint8(pal.Index(c))
				index[c] = i
			}
			out.SetColorIndex(x, y, i)
		}
	}
	var w bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&w, out); err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return w.Bytes()
}
