package console_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ragd/ragd/api/apitest"
	"github.com/ragd/ragd/embedder"
	"github.com/ragd/ragd/search"
	"github.com/ragd/ragd/webhooks"
)

// axeScript is axe-core's axe.min.js at the version testdata/axe-core.pin
// names, from the user cache where scripts/test-deps.sh (run by make test)
// puts it. Missing, the test fails: an accessibility check that skips
// itself would pass unseen.
func axeScript(t testing.TB) (version, src string) {
	t.Helper()
	f, err := os.Open("testdata/axe-core.pin")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for s := bufio.NewScanner(f); s.Scan(); {
		if fields := strings.Fields(s.Text()); len(fields) == 3 && fields[0] == "axe-core" {
			version = fields[1]
		}
	}
	if version == "" {
		t.Fatal("testdata/axe-core.pin names no axe-core version")
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(cache, "ragd", "axe-core-"+version, "axe.min.js")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("axe-core %s is missing (%v): scripts/test-deps.sh fetches it from the npm registry (make test runs it)", version, err)
	}
	return version, string(b)
}

// axeResult is one rule axe-core found broken, or could not decide (its
// "incomplete": a person must look, such as the contrast of a chart's
// labels), with the elements concerned.
type axeResult struct {
	ID     string
	Impact string
	Help   string
	Nodes  []struct {
		Target  string
		Summary string
	}
}

// axeRunJS runs every axe-core rule but the experimental ones (WCAG 2.0,
// 2.1 and 2.2 A and AA, and axe's best practices) on the whole page.
const axeRunJS = `axe.run(document, {resultTypes: ["violations", "incomplete"]}).then((r) => {
  const results = (list) => list.map((v) => ({
    id: v.id, impact: v.impact || "", help: v.help,
    nodes: v.nodes.map((n) => ({target: n.target.map(String).join(" "), summary: n.failureSummary || (n.any[0] || {}).message || ""})),
  }));
  return {violations: results(r.violations), incomplete: results(r.incomplete)};
})`

// axeFindings runs axe-core on the page as it is now (injected over the
// DevTools protocol, which the console's Content-Security-Policy does not
// govern) and describes each rule broken, its impact and elements: the
// serious and critical ones apart from the lesser ones and from what
// axe-core could not decide.
func (p *person) axeFindings() (severe, lesser, undecided []string) {
	p.t.Helper()
	if p.axeSrc == "" {
		p.axeVersion, p.axeSrc = axeScript(p.t)
	}
	ctx, cancel := context.WithTimeout(p.ctx, time.Minute)
	defer cancel()
	version, err := chromedp.Run(ctx, chromedp.Evaluate[string](`typeof axe === "undefined" ? "" : axe.version`))
	if err == nil && version == "" {
		_, err = chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](p.axeSrc))
		if err == nil {
			version, err = chromedp.Run(ctx, chromedp.Evaluate[string](`axe.version`))
		}
	}
	if err != nil {
		p.t.Fatalf("load axe-core: %v", err)
	}
	if version != p.axeVersion {
		p.t.Fatalf("axe-core %s runs, want %s", version, p.axeVersion)
	}
	found, err := chromedp.Run(ctx, chromedp.Evaluate[struct{ Violations, Incomplete []axeResult }](axeRunJS, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("run axe-core: %v", err)
	}
	describe := func(v axeResult) string {
		var b strings.Builder
		fmt.Fprintf(&b, "axe %s (%s): %s", v.ID, v.Impact, v.Help)
		for _, n := range v.Nodes {
			fmt.Fprintf(&b, "\n\t%s: %s", n.Target, strings.ReplaceAll(n.Summary, "\n", " "))
		}
		return b.String()
	}
	for _, v := range found.Violations {
		if v.Impact == "serious" || v.Impact == "critical" {
			severe = append(severe, describe(v))
		} else {
			lesser = append(lesser, describe(v))
		}
	}
	for _, v := range found.Incomplete {
		undecided = append(undecided, describe(v))
	}
	return severe, lesser, undecided
}

// checkAccessible fails the test for each axe-core finding of serious or
// critical impact on the page as it is now, and logs the lesser ones and
// those axe-core left to a person.
func (p *person) checkAccessible(page string) {
	p.t.Helper()
	severe, lesser, undecided := p.axeFindings()
	for _, f := range severe {
		p.t.Errorf("%s: %s", page, f)
	}
	for _, f := range lesser {
		p.t.Logf("%s: %s", page, f)
	}
	for _, f := range undecided {
		p.t.Logf("%s: for a person to check: %s", page, f)
	}
}

// keyboardPrepareJS marks the page's controls a keyboard must reach (links,
// buttons, fields, summaries, anything given a tabindex of 0, shown and
// enabled; a group of radios is one stop) with data-kb, and answers how
// many there are, their names, and the elements with a positive tabindex
// (which take the keyboard out of the page's order).
const keyboardPrepareJS = `(() => {
  const name = (e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") +
    ((e.getAttribute("aria-label") || e.textContent || e.getAttribute("name") || "").trim().replace(/\s+/g, " ").slice(0, 40).replace(/^(.)/, " \"$1").replace(/(.)$/, "$1\""));
  // Not shown: display none, visibility hidden, or inside a closed <details>.
  const shown = (e) => e.checkVisibility({visibilityProperty: true});
  const sel = 'a[href], button, input:not([type="hidden"]), select, textarea, summary, [tabindex], [contenteditable="true"], [role="button"], [role="link"], [onclick]';
  for (const e of document.querySelectorAll("[data-kb]")) delete e.dataset.kb; // an earlier walk's
  const controls = [...document.querySelectorAll(sel)].filter((e) => !e.disabled && e.getAttribute("tabindex") !== "-1" && shown(e));
  const names = [];
  for (const e of controls) {
    if (e.dataset.kb !== undefined) continue;
    const group = e.type === "radio" && e.name && e.form ? [...e.form.elements].filter((r) => r.type === "radio" && r.name === e.name) : [e];
    for (const g of group) g.dataset.kb = names.length;
    names.push(name(e));
  }
  const positive = [...document.querySelectorAll("[tabindex]")].filter((e) => e.tabIndex > 0).map(name);
  return {names, positive};
})()`

// keyboardFocusJS describes the focused element: its data-kb mark (-1:
// none has focus; -2: an element not marked, such as a scrolling box),
// whether its focus is drawn (an outline or a ring) and whether it lies in
// the window.
const keyboardFocusJS = `(() => {
  const e = document.activeElement;
  if (!e || e === document.body || e === document.documentElement) return {mark: -1};
  const s = getComputedStyle(e), r = e.getBoundingClientRect();
  return {
    mark: e.dataset.kb === undefined ? -2 : +e.dataset.kb,
    name: e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + " " + (e.getAttribute("aria-label") || e.textContent || "").trim().replace(/\s+/g, " ").slice(0, 40),
    drawn: (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0) || (s.boxShadow !== "" && s.boxShadow !== "none"),
    inWindow: r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth,
  };
})()`

// keyboardProblems tabs through the page from its top with real key
// presses, as a person without a mouse does, and describes each control
// the Tab key never reaches, each positive tabindex, and each focused
// element whose focus is not drawn or that lies outside the window.
func (p *person) keyboardProblems() (problems []string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 2*time.Minute)
	defer cancel()
	type marked struct {
		Names    []string
		Positive []string
	}
	controls, err := chromedp.Run(ctx, chromedp.Evaluate[marked](keyboardPrepareJS))
	if err != nil {
		p.t.Fatalf("keyboard: %v", err)
	}
	for _, n := range controls.Positive {
		problems = append(problems, n+" has a positive tabindex, which reorders the keyboard's way through the page")
	}
	// Start from the top, as on a page just loaded (Chromium may go on from
	// where focus was: the walk then goes round once through the top).
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)`)); err != nil {
		p.t.Fatalf("keyboard: %v", err)
	}
	type focus struct {
		Mark     int
		Name     string
		Drawn    bool
		InWindow bool
	}
	reached := make([]bool, len(controls.Names))
	first := -1 // the first control reached: reached again, Tab has gone round
	for i := 0; i < 2*len(controls.Names)+10; i++ {
		if err := chromedp.Do(ctx, chromedp.KeyEvent("\t")); err != nil {
			p.t.Fatalf("keyboard: Tab: %v", err)
		}
		f, err := chromedp.Run(ctx, chromedp.Evaluate[focus](keyboardFocusJS))
		if err != nil {
			p.t.Fatalf("keyboard: %v", err)
		}
		if f.Mark == -1 {
			continue // past the last control: the next Tab starts again at the top
		}
		if f.Mark >= 0 && f.Mark == first {
			break // round to the first again
		}
		if f.Mark >= 0 {
			if first < 0 {
				first = f.Mark
			}
			reached[f.Mark] = true
		}
		if !f.Drawn {
			problems = append(problems, "Tab focuses "+f.Name+", with no outline or ring to show it")
		}
		if !f.InWindow {
			problems = append(problems, "Tab focuses "+f.Name+", outside the window")
		}
	}
	for i, ok := range reached {
		if !ok {
			problems = append(problems, "Tab never reaches "+controls.Names[i])
		}
	}
	return problems
}

// checkKeyboard fails the test for each of the page's keyboardProblems.
func (p *person) checkKeyboard(page string) {
	p.t.Helper()
	for _, pr := range p.keyboardProblems() {
		p.t.Errorf("%s: %s", page, pr)
	}
}

// brokenPage breaks, on purpose, what checkAccessible and checkKeyboard
// look for.
const brokenPage = `<!doctype html>
<html lang="en"><head><title>Broken</title></head><body><main>
<h1>Broken</h1>
<p style="color: #c8c8c8">Pale text on white.</p>
<input id="unlabelled">
<button></button>
<div class="fake" onclick="this.textContent = 'saved'">Save</div>
<a href="#first" tabindex="2">First</a>
<a href="#ringless" style="outline: none">Ringless</a>
</main></body></html>`

// TestAccessibilityChecksFail shows that the console's accessibility
// checks can fail: on a page that breaks their rules, axe-core reports
// each serious finding with its element, and the keyboard walk reports
// what Tab cannot reach or does not show.
func TestAccessibilityChecksFail(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, brokenPage)
	}))
	t.Cleanup(srv.Close)
	p := newPerson(t, apitest.Chromium(t))
	p.do(30*time.Second, chromedp.Navigate(srv.URL), chromedp.WaitReady(chromedp.CSS("main")))

	severe, _, _ := p.axeFindings()
	all := strings.Join(severe, "\n")
	for _, want := range []string{"axe color-contrast (serious)", "axe label (critical)", "axe button-name (critical)", "#unlabelled"} {
		if !strings.Contains(all, want) {
			t.Errorf("axe-core's serious findings lack %q:\n%s", want, all)
		}
	}
	problems := strings.Join(p.keyboardProblems(), "\n")
	for _, want := range []string{`a "First" has a positive tabindex`, `Tab never reaches div "Save"`, "Tab focuses a Ringless, with no outline or ring"} {
		if !strings.Contains(problems, want) {
			t.Errorf("the keyboard walk's problems lack %q:\n%s", want, problems)
		}
	}
}

// tabTo presses Tab, as a person without a mouse does, until the focused
// element matches sel; it fails the test when 150 presses (round the page
// more than once) do not get there.
func (p *person) tabTo(sel string) {
	p.t.Helper()
	focused := fmt.Sprintf(`document.activeElement !== null && document.activeElement.matches(%q)`, sel)
	ctx, cancel := context.WithTimeout(p.ctx, time.Minute)
	defer cancel()
	for range 150 {
		if err := chromedp.Do(ctx, chromedp.KeyEvent("\t")); err != nil {
			p.t.Fatalf("Tab to %s: %v", sel, err)
		}
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](focused))
		if err != nil {
			p.t.Fatalf("Tab to %s: %v", sel, err)
		}
		if ok {
			return
		}
	}
	p.t.Fatalf("Tab never reaches %s", sel)
}

// TestConsoleByKeyboard does a tenant's everyday actions with the keyboard
// alone (Tab to a control, then type, Space or Enter), in headless
// Chromium at 1280 px: sign in, skip to the content, follow the
// navigation, search and open a whole passage, open a document and its
// history, create and revoke a key, create and delete an agent (through
// its confirmation page), add a webhook with one event, and estimate an
// embedding migration. The states these reach (a new key or secret shown,
// a confirmation, an estimate) have no serious accessibility finding either.
func TestConsoleByKeyboard(t *testing.T) {
	t.Parallel()
	b := setupWith(t, apitest.Options{OfferedSpaces: []search.Space{{Model: embedder.LocalModel, Dimensions: 32}}})
	_, key := b.TenantWithKey("keyboard", allScopes...)
	doc := b.Upload(key, "", "faq.md", []byte("# FAQ\n\n## Leave\n\nEveryone gets 25 vacation days a year.")).JSON(t)["id"].(string)
	b.WaitDocument(key, doc)
	p := newPerson(t, apitest.Chromium(t))
	enter, space := chromedp.KeyEvent("\r"), chromedp.KeyEvent(" ")

	p.do(30*time.Second, chromedp.Navigate(b.url+"/console/login"), chromedp.WaitVisible(chromedp.ID("api_key")))
	p.tabTo("#api_key")
	p.do(30*time.Second, chromedp.KeyEvent(key), enter, chromedp.WaitVisible(chromedp.ID("documents")))

	p.tabTo("a.skip")
	p.do(10*time.Second, enter)
	if got := p.eval(`document.activeElement.id`); got != "main" {
		t.Errorf("Enter on the skip link focuses %q, want main", got)
	}

	p.tabTo(`nav a[href="/console/search"]`)
	p.do(30*time.Second, enter, chromedp.WaitVisible(chromedp.ID("q")))
	p.tabTo("#q")
	p.do(30*time.Second, chromedp.KeyEvent("vacation days"), enter, chromedp.WaitVisible(chromedp.CSS(".hit")))
	p.tabTo(".hit .passage summary")
	p.do(10*time.Second, enter, chromedp.WaitVisible(chromedp.CSS(".hit .passage blockquote")))

	p.tabTo(`nav a[href="/console/documents"]`)
	p.do(30*time.Second, enter, chromedp.WaitVisible(chromedp.ID("documents")))
	p.tabTo(`tr[data-document] a[href="/console/documents/` + doc + `"]`)
	p.do(30*time.Second, enter, chromedp.WaitVisible(chromedp.ID("facts")))
	p.tabTo("#history summary")
	p.do(10*time.Second, space)
	if p.eval(`document.getElementById("history").open ? "open" : "closed"`) != "open" {
		t.Error("Space on the history's summary leaves it closed")
	}

	p.tabTo(`nav a[href="/console/keys"]`)
	p.do(30*time.Second, enter, chromedp.WaitVisible(chromedp.ID("key-name")))
	p.tabTo("#key-name")
	p.do(10*time.Second, chromedp.KeyEvent("keyboard key"))
	// A wrong expiry: the error is the field's description, and what was
	// typed stays, to be corrected rather than typed again.
	p.tabTo("#expires")
	p.do(10*time.Second, chromedp.KeyEvent("soon"))
	p.tabTo(`form[action="/console/keys"] button[type="submit"]`)
	p.do(30*time.Second, enter, chromedp.WaitVisible(chromedp.CSS("#expires-error .field-error")))
	if got := p.eval(`[document.getElementById("key-name").value, document.getElementById("expires").getAttribute("aria-invalid"),
		document.getElementById(document.getElementById("expires").getAttribute("aria-describedby")).textContent].join(" | ")`); !strings.Contains(got, "keyboard key | true | must be a whole number") {
		t.Errorf("after a wrong expiry, the form says: %q", got)
	}
	p.checkAccessible("keys, a field in error")
	p.tabTo("#expires")
	p.do(10*time.Second, chromedp.KeyEvent("\b\b\b\b30"))
	p.tabTo(`form[action="/console/keys"] button[type="submit"]`)
	p.do(30*time.Second, enter, chromedp.WaitVisible(chromedp.ID("new-key")))
	if exp := p.text(`tr:has(button[aria-label="Revoke keyboard key"]) .expires`); exp == "never" {
		t.Errorf("the key corrected to expire in 30 days expires %q", exp)
	}
	newKey := p.text("#new-key")
	b.Must(200, "GET", "/v1/documents", newKey, nil)
	p.checkAccessible("keys, a new key shown")
	p.eval(`window.confirm = () => true; ""`) // the page's own confirm(), answered yes
	p.tabTo(`button[aria-label="Revoke keyboard key"]`)
	p.do(30*time.Second, enter, chromedp.WaitVisible(chromedp.Search(`//td[contains(., "revoked")]`)))
	if b.Req("GET", "/v1/documents", newKey, nil).Status != 401 {
		t.Error("the key revoked with Enter still works")
	}

	p.tabTo(`nav a[href="/console/agents"]`)
	p.do(30*time.Second, enter, chromedp.WaitVisible(chromedp.CSS(`a[href="/console/agents/new"]`)))
	p.tabTo(`a[href="/console/agents/new"]`)
	p.do(30*time.Second, enter, chromedp.WaitVisible(chromedp.ID("name")))
	p.tabTo("#id")
	p.do(10*time.Second, chromedp.KeyEvent("keyboard-bot"))
	p.tabTo("#name")
	p.do(10*time.Second, chromedp.KeyEvent("Keyboard bot"))
	p.tabTo("#model")
	p.do(10*time.Second, chromedp.KeyEvent("gpt-4o-mini"))
	p.tabTo(`#agent-form button[type="submit"]`)
	p.do(30*time.Second, enter, chromedp.WaitVisible(chromedp.ID("agents")))
	b.Must(200, "GET", "/v1/agents/keyboard-bot", key, nil)
	p.tabTo(`#agents a[aria-label="Delete Keyboard bot"]`)
	p.do(30*time.Second, enter, chromedp.WaitVisible(chromedp.CSS("form.confirm")))
	p.checkAccessible("delete an agent, its confirmation")
	p.tabTo(`form.confirm button[type="submit"]`)
	p.do(30*time.Second, enter, chromedp.WaitVisible(chromedp.CSS(".notice")))
	if b.Req("GET", "/v1/agents/keyboard-bot", key, nil).Status != 404 {
		t.Error("the agent outlived its deletion confirmed with Enter")
	}

	// A webhook for an event this test never causes: every other event's
	// box (all are ticked at first) is unticked with Space.
	p.tabTo(`nav a[href="/console/webhooks"]`)
	p.do(30*time.Second, enter, chromedp.WaitVisible(chromedp.ID("webhook-url")))
	p.tabTo("#webhook-url")
	p.do(10*time.Second, chromedp.KeyEvent("https://hooks.example.com/ragd/keyboard"))
	for _, e := range webhooks.EventTypes {
		if e != "evaluation.completed" {
			p.tabTo(fmt.Sprintf(`input[name="event_types"][value=%q]`, e))
			p.do(10*time.Second, space)
		}
	}
	p.tabTo(`#webhook-form button[type="submit"]`)
	p.do(30*time.Second, enter, chromedp.WaitVisible(chromedp.ID("new-secret")))
	hooks := b.Must(200, "GET", "/v1/webhooks", key, nil).JSON(t)["data"].([]any)
	if len(hooks) != 1 || fmt.Sprint(hooks[0].(map[string]any)["event_types"]) != "[evaluation.completed]" {
		t.Errorf("webhooks after one added with the keyboard: %v", hooks)
	}
	p.checkAccessible("webhooks, a new secret shown")

	p.tabTo(`nav a[href="/console/migrations"]`)
	p.do(30*time.Second, enter, chromedp.WaitVisible(chromedp.ID("model")))
	p.tabTo("#model")
	p.do(10*time.Second, chromedp.KeyEvent(embedder.LocalModel))
	p.tabTo("#dimensions")
	p.do(10*time.Second, chromedp.KeyEvent("32"))
	p.tabTo(`#migration-form button[value="estimate"]`)
	p.do(30*time.Second, enter, chromedp.WaitVisible(chromedp.ID("estimate")))
	p.checkAccessible("migrations, an estimate shown")
}
