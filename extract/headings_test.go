package extract

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestExtractHTMLHeadingsWithoutEditLinks: MediaWiki's edit links in
// headings, in their span (a short page, walked as it is) and bare (a
// long page through go-trafilatura, which keeps no classes), are not in
// the heading paths.
func TestExtractHTMLHeadingsWithoutEditLinks(t *testing.T) {
	t.Parallel()
	const edit = `<span class="mw-editsection"><span class="mw-editsection-bracket">[</span><a href="/w/index.php?action=edit&section=1">edit</a><span class="mw-editsection-bracket">]</span></span>`
	short := `<html><head><title>River - Wiki</title></head><body><main><h1>River</h1><p>A river.</p>` +
		`<h2><span class="mw-headline" id="History">History</span>` + edit + `</h2><p>It flooded in 1910.</p></main></body></html>`
	secs := sectionTexts(mustExtract(t, TypeHTML, []byte(short)))
	if !strings.Contains(secs["River > History"], "It flooded in 1910.") {
		t.Errorf("short page: %q", secs)
	}

	var b strings.Builder
	b.WriteString(`<html><head><title>Council - Wiki</title></head><body><div class="story"><h1>Council</h1>`)
	for i := range 3 {
		b.WriteString(para("Opening", i))
	}
	b.WriteString(`<h2>History[edit]</h2>`)
	for i := 3; i < 6; i++ {
		b.WriteString(para("History", i))
	}
	b.WriteString(`<h2>Members [edit | edit source]</h2>`)
	for i := 6; i < 9; i++ {
		b.WriteString(para("Members", i))
	}
	b.WriteString(`</div></body></html>`)
	ext := mustExtract(t, TypeHTML, []byte(b.String()))
	secs = sectionTexts(ext)
	for path := range secs {
		if strings.Contains(strings.ToLower(path), "edit") {
			t.Errorf("an edit link in heading path %q", path)
		}
	}
	if !strings.Contains(secs["Council > History"], "Paragraph 4 explains") || !strings.Contains(secs["Council > Members"], "Paragraph 7 explains") {
		t.Errorf("long page: %q", secs)
	}

	for in, want := range map[string]string{
		"History[edit]": "History", "History [ edit ]": "History", "Usage [edit source]": "Usage",
		"[edit]": "[edit]", "Credit": "Credit", "Editing [EDIT]": "Editing",
	} {
		if got := stripEditLinks(in); got != want {
			t.Errorf("stripEditLinks(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestExtractHTMLLogoIsNoHeading: a site's name in its logo, its header
// or a heading that is only the site's name does not head the page's
// sections; the page's own headings do.
func TestExtractHTMLLogoIsNoHeading(t *testing.T) {
	t.Parallel()
	for name, top := range map[string]string{
		"LogoClass":  `<div class="site-logo"><h1>Acme Cloud</h1></div>`,
		"Header":     `<header><h1>Acme Cloud</h1></header>`,
		"OGSiteName": `<h2>Acme Cloud</h2>`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			page := `<html><head><title>Pricing | Acme Cloud</title><meta property="og:site_name" content="Acme Cloud"></head><body>` + top +
				`<div><h2>Plans</h2><p>Starter costs 10 euros a month.</p><h3>Enterprise</h3><p>Ask sales.</p></div></body></html>`
			ext := mustExtract(t, TypeHTML, []byte(page))
			secs := sectionTexts(ext)
			for path := range secs {
				if strings.Contains(path, "Acme") {
					t.Errorf("the site's name heads %q: %q", path, secs)
				}
			}
			if !strings.Contains(secs["Plans"], "Starter costs") || !strings.Contains(secs["Plans > Enterprise"], "Ask sales.") {
				t.Errorf("sections %q", secs)
			}
		})
	}
	// An article's own header keeps its heading.
	page := `<html><head><title>Pricing | Acme Cloud</title></head><body><article><header><h1>Pricing</h1></header><p>Starter costs 10 euros a month.</p></article></body></html>`
	if secs := sectionTexts(mustExtract(t, TypeHTML, []byte(page))); !strings.Contains(secs["Pricing"], "Starter costs") {
		t.Errorf("an article's header lost its heading: %q", secs)
	}
}

// TestHeadingPathsCollapseRepeats: a level that repeats the one above it
// (a PDF's running header at a heading's size, a Markdown page's title
// repeated as its first section) is one level.
func TestHeadingPathsCollapseRepeats(t *testing.T) {
	t.Parallel()
	b := newBuilder(0)
	b.heading(1, "bbc")
	b.heading(2, "version 1.7")
	b.heading(3, "version 1.7")
	b.heading(4, "Chapter 3")
	b.paragraph("Text of chapter 3.")
	ext, err := b.result()
	if err != nil {
		t.Fatal(err)
	}
	last := ext.Sections[len(ext.Sections)-1].HeadingPath
	if want := []string{"bbc", "version 1.7", "Chapter 3"}; !reflect.DeepEqual(last, want) {
		t.Errorf("heading path %q, want %q", last, want)
	}

	md := "# Guide\n\n## Guide\n\nWhat the guide covers.\n\n## Install\n\nRun the installer.\n"
	secs := sectionTexts(mustExtract(t, TypeMarkdown, []byte(md)))
	if !strings.Contains(secs["Guide"], "What the guide covers.") || !strings.Contains(secs["Guide > Install"], "Run the installer.") {
		t.Errorf("Markdown sections %s", fmt.Sprint(secs))
	}
	for path := range secs {
		if strings.Contains(path, "Guide > Guide") {
			t.Errorf("repeated level in %q", path)
		}
	}
}
