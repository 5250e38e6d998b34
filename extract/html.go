package extract

import (
	"bytes"
	"context"
	"strings"
	"unicode"
	"unicode/utf8"

	trafilatura "github.com/markusmobius/go-trafilatura"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// extractHTML keeps a page's readable text: the title, headings (as
// sections), paragraphs, list items ("- item"), table rows (cells joined
// by " | ") and code blocks line by line, of the page's main content:
// the page is pruned of what is not content (prune), go-trafilatura
// finds the main content in what is left (mainContent), and our walker
// turns that into text with its structure. A page without a tree (the
// parser refuses it) keeps its text through the flat tokenizer.
func extractHTML(ctx context.Context, data []byte, lim Limits) (Extracted, error) {
	s, err := decodeText(data)
	if err != nil {
		return Extracted{}, err
	}
	doc, err := html.ParseWithOptions(strings.NewReader(s), html.ParseOptionEnableScripting(false))
	if err != nil {
		// The tree parser refuses some pages (elements nested deeper than
		// it allows): keep their text with the flat tokenizer instead.
		return flatHTML(ctx, s, lim)
	}
	title := ""
	if t := findFirst(doc, func(n *html.Node) bool { return n.DataAtom == atom.Title }); t != nil {
		title = cleanInline(textOf(t))
	}
	docTitle := htmlTitle(doc) // before prune, which may drop the page's <h1>
	body := findFirst(doc, func(n *html.Node) bool { return n.DataAtom == atom.Body })
	if body == nil {
		body = doc
	}
	size := prune(ctx, body)
	root, fromTrafilatura := mainContent(doc, body, size)

	site := siteName(doc, title)
	w := &htmlWalker{ctx: ctx, b: newBuilder(lim.MaxTextBytes), dedupe: fromTrafilatura, site: site}
	if fromTrafilatura && findFirst(root, func(n *html.Node) bool { return n.DataAtom == atom.H1 }) == nil {
		if h := headline(body, title, site); h != "" {
			w.b.heading(1, h)
		}
	}
	w.block(root)
	w.flush()
	if ctx.Err() != nil {
		return Extracted{}, ctx.Err()
	}
	ext, err := w.b.result()
	if err != nil {
		return Extracted{}, err
	}
	ext.Title = docTitle
	return ext, nil
}

// minTrafilaturaRunes is go-trafilatura's own minimum extraction
// (Config.MinExtractedSize): below it, it falls back to a flat "baseline"
// of paragraphs that loses the structure and repeats text.
const minTrafilaturaRunes = 250

// maxTrafilaturaText and maxTrafilaturaWork bound the pages go-trafilatura
// is given: at most maxTrafilaturaText bytes of text (after pruning), and
// paragraphs × text at most maxTrafilaturaWork. Its content search
// concatenates the text of every paragraph once per paragraph, so its
// time and garbage grow with paragraphs × text: 1 s at 150 KB of text in
// 1,200 paragraphs, 9 s at 1.2 MB, over two minutes (36 GB allocated) at
// 6 MB; 6 s and 3.7 GB for 40,000 one-word paragraphs (measured in
// process, 2 cores). A page beyond either bound is a manual, a
// specification or a machine's output rather than an article among
// boilerplate, and is walked whole (its marked main content, else its
// pruned body).
const (
	maxTrafilaturaText = 256 << 10
	maxTrafilaturaWork = 256 << 20
)

// fitsTrafilatura reports whether go-trafilatura may look at a page of
// this size.
func (s pageSize) fitsTrafilatura() bool {
	return s.text <= maxTrafilaturaText && s.paragraphs*s.text <= maxTrafilaturaWork
}

// mainContent returns the part of the page to walk, and whether it is
// go-trafilatura's output. go-trafilatura's extraction (with its
// readability and dom-distiller fallbacks) runs first, on every page that
// fits it (pageSize.fitsTrafilatura); its result is the main content
// unless it is shorter than its own minimum (a short page, or a failure),
// in which case the page's marked main content (<main>, role="main",
// <article>) is walked when it holds a fair share of the text, and the
// whole body otherwise.
func mainContent(doc, body *html.Node, size pageSize) (*html.Node, bool) {
	if size.fitsTrafilatura() {
		if content := trafilaturaContent(doc); content != nil {
			return content, true
		}
	}
	if marked := markedContent(body); marked != nil {
		return marked, false
	}
	return body, false
}

// trafilaturaOptions: comments left out (readers' comments are not the
// page's content), tables kept, the fallbacks on, recall favoured (a
// chunk too many costs less than a lost paragraph), no date extraction
// (ragd does not use it, and go-dateparser's extensive mode is most of
// go-trafilatura's time), no deduplication (it drops text that repeats
// within the page, and a reference page repeats cells legitimately).
var trafilaturaOptions = trafilatura.Options{
	ExcludeComments: true,
	EnableFallback:  true,
	Focus:           trafilatura.FavorRecall,
	HtmlDateMode:    trafilatura.Disabled,
}

// trafilaturaContent runs go-trafilatura on doc (which it does not
// modify) and returns its content, or nil when it failed, panicked or
// kept less than minTrafilaturaRunes. Its elements get their atoms, which
// the nodes it builds lack.
func trafilaturaContent(doc *html.Node) (content *html.Node) {
	defer func() {
		if recover() != nil {
			content = nil // our own walk of the page still works
		}
	}()
	res, err := trafilatura.ExtractDocument(doc, trafilaturaOptions)
	if err != nil || res == nil || res.ContentNode == nil || utf8.RuneCountInString(res.ContentText) < minTrafilaturaRunes {
		return nil
	}
	walk(res.ContentNode, func(n *html.Node) bool {
		if n.Type == html.ElementNode {
			n.DataAtom = atom.Lookup([]byte(n.Data))
		}
		return true
	})
	return res.ContentNode
}

// headline returns the text of the page's first <h1> when the page's
// title names it (titles are "Headline | Site" and the like), else "".
// go-trafilatura often leaves the headline out (it sits outside the block
// it keeps), and without it the heading paths of a page's chunks lose
// their root.
func headline(body *html.Node, title, site string) string {
	h1 := findFirst(body, func(n *html.Node) bool { return n.DataAtom == atom.H1 && !logoHeading(n) })
	if h1 == nil {
		return ""
	}
	h := headingText(h1)
	if h == "" || title == "" || isSiteName(h, site) {
		return ""
	}
	lh, lt := strings.ToLower(h), strings.ToLower(title)
	if !strings.Contains(lt, lh) && !strings.Contains(lh, lt) {
		return ""
	}
	return h
}

// markedContent returns the page's marked main content when it holds at
// least a quarter of the body's visible text, else nil.
func markedContent(body *html.Node) *html.Node {
	main := findFirst(body, func(n *html.Node) bool {
		return n.DataAtom == atom.Main || attr(n, "role") == "main"
	})
	if main == nil {
		main = findFirst(body, func(n *html.Node) bool { return n.DataAtom == atom.Article })
	}
	if main == nil || visibleLen(main)*4 < visibleLen(body) {
		return nil
	}
	return main
}

// dropped reports whether an element and everything in it is left out
// by the flat tokenizer, which has no tree to weigh them in.
func dropped(n *html.Node) bool {
	return nonText(n) || boilerplate(n)
}

// nonText reports whether n holds no readable text: comments, scripts,
// styles, embedded media and widgets.
func nonText(n *html.Node) bool {
	if n.Type == html.CommentNode || n.Type == html.DoctypeNode {
		return true
	}
	if n.Type != html.ElementNode {
		return false
	}
	switch n.DataAtom {
	case atom.Script, atom.Style, atom.Noscript, atom.Template, atom.Svg, atom.Math, atom.Head,
		atom.Button, atom.Select, atom.Iframe, atom.Object, atom.Embed, atom.Canvas, atom.Audio, atom.Video:
		return true
	}
	return false
}

// boilerplate reports whether n is, by its markup, something other than
// the page's content: navigation, the page's header and footer (a
// <header> or <footer> inside an <article>, <main> or <section> is that
// part's own), asides, forms, hidden elements, and boxes whose class or
// id names them (boilerplateWords).
func boilerplate(n *html.Node) bool {
	if n.Type != html.ElementNode {
		return false
	}
	switch n.DataAtom {
	case atom.Nav, atom.Aside, atom.Form:
		return true
	case atom.Header, atom.Footer:
		for p := n.Parent; p != nil; p = p.Parent {
			if p.DataAtom == atom.Article || p.DataAtom == atom.Main || p.DataAtom == atom.Section {
				return false
			}
		}
		return true
	}
	if hasAttr(n, "hidden") || attr(n, "aria-hidden") == "true" {
		return true
	}
	if style := strings.ReplaceAll(attr(n, "style"), " ", ""); strings.Contains(style, "display:none") || strings.Contains(style, "visibility:hidden") {
		return true
	}
	switch attr(n, "role") {
	case "navigation", "banner", "contentinfo", "complementary", "search", "dialog", "alertdialog":
		return true
	}
	switch n.DataAtom {
	case atom.Div, atom.Section, atom.Ul, atom.Ol, atom.P, atom.Span, atom.Figure:
		return namedBoilerplate(attr(n, "class")) || namedBoilerplate(attr(n, "id"))
	}
	return false
}

// boilerplateWords are words of class and id names that mark the boxes
// news and blog pages put around and inside their articles. Whole words
// only ("share-tools", not "shared"), in names of at most three words,
// and never for an element that holds most of the page's text (see prune).
var boilerplateWords = map[string]bool{
	"share": true, "sharing": true, "social": true, "newsletter": true, "subscribe": true,
	"subscription": true, "related": true, "breadcrumb": true, "breadcrumbs": true, "promo": true,
	"advert": true, "advertisement": true, "sponsored": true, "outbrain": true, "taboola": true,
	"cookie": true, "cookies": true, "popup": true, "modal": true, "signup": true,
}

func namedBoilerplate(name string) bool {
	for _, token := range strings.Fields(name) {
		words := strings.FieldsFunc(token, func(r rune) bool { return !unicode.IsLetter(r) })
		if len(words) > 3 {
			continue // a heading's anchor ("sharing-with-a-single-developer"), not a box's name
		}
		for _, w := range words {
			if boilerplateWords[w] {
				return true
			}
		}
	}
	return false
}

// pageSize is how much a pruned page holds.
type pageSize struct {
	text       int // bytes of text
	paragraphs int // <p> elements
}

// prune removes from body what is not its content (nonText, boilerplate),
// except a boilerplate element that holds at least half of the body's
// text: a page wrapped whole in a <form>, or an article whose class says
// "related", is still the page. It returns the size of what is left.
func prune(ctx context.Context, body *html.Node) pageSize {
	lens := textLens(body)
	size := pageSize{text: lens[body]}
	var remove []*html.Node
	steps := 0
	walk(body, func(n *html.Node) bool {
		if steps++; steps%4096 == 0 && ctx.Err() != nil {
			return false
		}
		if nonText(n) || (boilerplate(n) && lens[n]*2 < lens[body]) {
			remove = append(remove, n)
			size.text -= lens[n]
			return false
		}
		if n.DataAtom == atom.P {
			size.paragraphs++
		}
		return true
	})
	for _, n := range remove {
		n.Parent.RemoveChild(n)
	}
	return size
}

// textLens maps each element under (and including) root to the number of
// bytes of text it holds, outside nonText elements.
func textLens(root *html.Node) map[*html.Node]int {
	lens := map[*html.Node]int{}
	// Post-order without recursion: a node's length is added to its
	// parent's once all of its children are done.
	type frame struct {
		n    *html.Node
		next *html.Node
	}
	stack := []frame{{root, root.FirstChild}}
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if c := top.next; c != nil {
			top.next = c.NextSibling
			switch {
			case nonText(c):
			case c.Type == html.TextNode:
				lens[top.n] += len(strings.TrimSpace(c.Data))
			default:
				stack = append(stack, frame{c, c.FirstChild})
			}
			continue
		}
		stack = stack[:len(stack)-1]
		if len(stack) > 0 {
			lens[stack[len(stack)-1].n] += lens[top.n]
		}
	}
	return lens
}

type htmlWalker struct {
	ctx    context.Context
	b      *builder
	inline strings.Builder
	steps  int
	// dedupe drops a paragraph that is a part of the last kept paragraph
	// (not the same text: pages repeat paragraphs): go-trafilatura keeps
	// a <div> of <br>-separated lines whole and then again line by line.
	dedupe bool
	last   string
	site   string // the site's name (siteName), never a heading
}

func (w *htmlWalker) flush() {
	if w.inline.Len() == 0 {
		return
	}
	text := cleanInline(w.inline.String())
	w.inline.Reset()
	if w.dedupe && len(text) < len(w.last) && strings.Contains(w.last, text) {
		return
	}
	w.b.paragraph(text)
	w.last = text
}

// block walks n's children, flushing running text at block boundaries.
// The walk is iterative per level and stops when ctx is done.
func (w *htmlWalker) block(n *html.Node) {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if w.steps++; w.steps%4096 == 0 && w.ctx.Err() != nil {
			return
		}
		if nonText(c) {
			continue
		}
		if c.Type == html.TextNode {
			w.inline.WriteString(c.Data)
			continue
		}
		if c.Type != html.ElementNode {
			w.block(c)
			continue
		}
		switch c.DataAtom {
		case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
			w.flush()
			if text := headingText(c); logoHeading(c) || isSiteName(text, w.site) {
				// A logo's or the site's name: text, not what the
				// page's sections are under.
				w.inline.WriteString(text)
				w.flush()
			} else {
				w.b.heading(int(c.Data[1]-'0'), text)
			}
			w.last = ""
		case atom.Ul, atom.Ol:
			w.flush()
			w.b.lines(listItems(c, nil))
		case atom.Table:
			w.flush()
			w.b.lines(tableRows(c))
		case atom.Pre:
			w.flush()
			w.b.lines(strings.Split(visibleText(c), "\n"))
		case atom.Code:
			if !blockCode(c) {
				w.block(c)
				break
			}
			w.flush()
			w.b.lines(strings.Split(visibleText(c), "\n"))
		case atom.Br:
			w.inline.WriteByte(' ')
		case atom.P, atom.Div, atom.Section, atom.Blockquote, atom.Dl, atom.Dt, atom.Dd, atom.Figure,
			atom.Figcaption, atom.Li, atom.Main, atom.Article, atom.Address, atom.Details, atom.Summary, atom.Hr:
			w.flush()
			w.block(c)
			w.flush()
		default:
			w.block(c) // inline elements: their text joins the running paragraph
		}
	}
}

// blockCode reports whether a <code> element is a code block of its own:
// go-trafilatura turns <pre><code> into <code><code> among the paragraphs.
// A <code> in a paragraph, a heading or inline text is inline code.
func blockCode(code *html.Node) bool {
	p := code.Parent
	if p == nil {
		return false
	}
	switch {
	case p.DataAtom == atom.Code:
		return false // the inner one of <code><code>
	case p.DataAtom == atom.P, inlineElement(p.DataAtom):
		return false
	}
	switch p.DataAtom {
	case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Li, atom.Td, atom.Th, atom.Dt:
		return false
	}
	return true
}

// listItems appends a line "- item" for each item of list (and of the lists
// nested in it, after their item).
func listItems(list *html.Node, lines []string) []string {
	for li := list.FirstChild; li != nil; li = li.NextSibling {
		if nonText(li) || li.Type != html.ElementNode {
			continue
		}
		if li.DataAtom == atom.Ul || li.DataAtom == atom.Ol {
			lines = listItems(li, lines) // a list directly in a list (invalid, common)
			continue
		}
		var nested []*html.Node
		text := blockTextExcept(li, func(n *html.Node) bool {
			if n.DataAtom == atom.Ul || n.DataAtom == atom.Ol {
				nested = append(nested, n)
				return true
			}
			return false
		})
		lines = append(lines, "- "+text)
		for _, l := range nested {
			lines = listItems(l, lines)
		}
	}
	return lines
}

func tableRows(table *html.Node) []string {
	var rows []string
	walk(table, func(n *html.Node) bool {
		if nonText(n) {
			return false
		}
		if n.DataAtom == atom.Tr {
			var cells []string
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				if c.DataAtom == atom.Td || c.DataAtom == atom.Th {
					cells = append(cells, cleanInline(blockText(c)))
				}
			}
			if strings.Join(cells, "") != "" {
				rows = append(rows, strings.Join(cells, " | "))
			}
			return false
		}
		return true
	})
	return rows
}

// walk visits n's descendants depth-first without recursion (pages can be
// nested deeper than is comfortable for the stack); visit returns whether
// to descend.
func walk(n *html.Node, visit func(*html.Node) bool) {
	stack := []*html.Node{}
	for c := n.LastChild; c != nil; c = c.PrevSibling {
		stack = append(stack, c)
	}
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if visit(c) {
			for k := c.LastChild; k != nil; k = k.PrevSibling {
				stack = append(stack, k)
			}
		}
	}
}

func findFirst(n *html.Node, match func(*html.Node) bool) *html.Node {
	var found *html.Node
	walk(n, func(c *html.Node) bool {
		if found != nil {
			return false
		}
		if match(c) {
			found = c
			return false
		}
		return true
	})
	return found
}

// headingText returns a heading's text without the links wikis put in
// headings: MediaWiki's "[edit]" (<span class="mw-editsection">), and the
// bare "[edit]" left of it when the span's class is gone (go-trafilatura's
// copy of the page keeps no classes).
func headingText(h *html.Node) string {
	var b strings.Builder
	walk(h, func(c *html.Node) bool {
		if c.Type == html.ElementNode && (classWord(c, "mw-editsection") || classWord(c, "editsection")) {
			return false
		}
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
		return true
	})
	return stripEditLinks(b.String())
}

// editLinks are the texts of the edit links wikis end headings with.
var editLinks = []string{"[edit]", "[edit source]", "[edit | edit source]", "[ edit ]", "[modifier]", "[bearbeiten]", "[editar]"}

// stripEditLinks removes edit links from the end of a heading's text
// ("History[edit]", "History [edit | edit source]"), cleaned.
func stripEditLinks(s string) string {
	s = cleanInline(s)
	for {
		lower := strings.ToLower(s)
		cut := false
		for _, l := range editLinks {
			if strings.HasSuffix(lower, l) && len(s) > len(l) {
				s, cut = strings.TrimSpace(s[:len(s)-len(l)]), true
				break
			}
		}
		if !cut {
			return s
		}
	}
}

// logoWords are class and id words of the elements that hold a site's
// logo or name.
var logoWords = map[string]bool{"logo": true, "brand": true, "branding": true, "masthead": true, "sitename": true, "site-name": true, "site-title": true, "site-logo": true, "navbar-brand": true}

// logoHeading reports whether a heading is (inside) a site's header,
// navigation or logo rather than the page's content: an ancestor <nav>,
// a <header> outside an <article>, <main> or <section> (the page's, not a
// part's), or the heading or an ancestor named by logoWords.
func logoHeading(h *html.Node) bool {
	for n := h; n != nil; n = n.Parent {
		if n.Type != html.ElementNode {
			continue
		}
		switch n.DataAtom {
		case atom.Nav:
			return true
		case atom.Header:
			if !insidePart(n) {
				return true
			}
		}
		if logoName(attr(n, "class")) || logoName(attr(n, "id")) {
			return true
		}
	}
	return false
}

func insidePart(n *html.Node) bool {
	for p := n.Parent; p != nil; p = p.Parent {
		if p.DataAtom == atom.Article || p.DataAtom == atom.Main || p.DataAtom == atom.Section {
			return true
		}
	}
	return false
}

func logoName(name string) bool {
	for _, token := range strings.Fields(name) {
		if logoWords[token] {
			return true
		}
		for _, w := range strings.FieldsFunc(token, func(r rune) bool { return r == '-' || r == '_' }) {
			if w == "logo" || w == "brand" || w == "branding" {
				return true
			}
		}
	}
	return false
}

func classWord(n *html.Node, word string) bool {
	for _, c := range strings.Fields(attr(n, "class")) {
		if c == word {
			return true
		}
	}
	return false
}

// siteName returns the site's name: <meta property="og:site_name">, else
// the last part of a title of several ("Headline | Site", "Headline —
// Site"), else "" (a title of one part may be the page's own).
func siteName(doc *html.Node, title string) string {
	if m := findFirst(doc, func(n *html.Node) bool {
		return n.DataAtom == atom.Meta && attr(n, "property") == "og:site_name"
	}); m != nil {
		for _, a := range m.Attr {
			if a.Key == "content" {
				if s := cleanInline(a.Val); s != "" {
					return s
				}
			}
		}
	}
	for _, sep := range []string{" | ", " — ", " – ", " - ", " · ", " :: "} {
		if i := strings.LastIndex(title, sep); i > 0 {
			return strings.TrimSpace(title[i+len(sep):])
		}
	}
	return ""
}

// isSiteName reports whether a heading's text is the site's name.
func isSiteName(text, site string) bool {
	return site != "" && strings.EqualFold(strings.TrimSpace(text), site)
}

// textOf returns all text under n.
func textOf(n *html.Node) string {
	var b bytes.Buffer
	walk(n, func(c *html.Node) bool {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
		return true
	})
	return b.String()
}

// visibleText returns the text under n outside nonText elements, with <br> and
// block ends as line breaks.
func visibleText(n *html.Node) string {
	var b strings.Builder
	walk(n, func(c *html.Node) bool {
		if nonText(c) {
			return false
		}
		switch {
		case c.Type == html.TextNode:
			b.WriteString(c.Data)
		case c.DataAtom == atom.Br:
			b.WriteByte('\n')
		}
		return true
	})
	return b.String()
}

// blockText is visibleText with a space at the boundaries of block
// elements, so that the words of neighbouring blocks inside a list item or
// table cell stay apart.
func blockText(n *html.Node) string {
	return blockTextExcept(n, func(*html.Node) bool { return false })
}

// blockTextExcept is blockText leaving out the elements skip reports.
func blockTextExcept(n *html.Node, skip func(*html.Node) bool) string {
	var b strings.Builder
	var stack []*html.Node
	push := func(p *html.Node) {
		for k := p.LastChild; k != nil; k = k.PrevSibling {
			stack = append(stack, k)
		}
	}
	push(n)
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if c == nil { // the end of a block element
			b.WriteByte(' ')
			continue
		}
		if nonText(c) || skip(c) {
			continue
		}
		switch {
		case c.Type == html.TextNode:
			b.WriteString(c.Data)
		case c.Type == html.ElementNode && !inlineElement(c.DataAtom):
			b.WriteByte(' ')
			stack = append(stack, nil)
			push(c)
		default:
			push(c)
		}
	}
	return b.String()
}

// inlineElement reports whether text in a elements runs on with its
// neighbours' (an unknown element, atom 0, counts as block).
func inlineElement(a atom.Atom) bool {
	switch a {
	case atom.A, atom.Abbr, atom.B, atom.Bdi, atom.Bdo, atom.Cite, atom.Code, atom.Data, atom.Dfn,
		atom.Em, atom.I, atom.Kbd, atom.Mark, atom.Q, atom.S, atom.Samp, atom.Small, atom.Span,
		atom.Strong, atom.Sub, atom.Sup, atom.Time, atom.U, atom.Var, atom.Font, atom.Strike, atom.Tt,
		atom.Big, atom.Label, atom.Ins, atom.Del, atom.Wbr, atom.Img:
		return true
	}
	return false
}

func visibleLen(n *html.Node) int {
	return len(strings.Join(strings.Fields(visibleText(n)), " "))
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return strings.ToLower(strings.TrimSpace(a.Val))
		}
	}
	return ""
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}

// flatHTML extracts text from HTML token by token, without building a
// tree: text outside dropped elements, a paragraph break at every block
// element, headings as headings.
func flatHTML(ctx context.Context, s string, lim Limits) (Extracted, error) {
	b := newBuilder(lim.MaxTextBytes)
	z := html.NewTokenizer(strings.NewReader(s))
	var text strings.Builder
	skip := 0
	heading := 0
	flush := func() {
		if heading > 0 {
			b.heading(heading, stripEditLinks(text.String()))
		} else {
			b.paragraph(text.String())
		}
		text.Reset()
	}
	for i := 0; ; i++ {
		if i%4096 == 0 && ctx.Err() != nil {
			return Extracted{}, ctx.Err()
		}
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		tok := z.Token()
		switch tt {
		case html.TextToken:
			if skip == 0 {
				text.WriteString(tok.Data)
			}
		case html.StartTagToken, html.EndTagToken:
			if dropped(&html.Node{Type: html.ElementNode, DataAtom: tok.DataAtom, Attr: tok.Attr}) && tok.DataAtom != 0 {
				if tt == html.StartTagToken {
					skip++
				} else if skip > 0 {
					skip--
				}
				continue
			}
			switch tok.DataAtom {
			case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
				flush()
				heading = 0
				if tt == html.StartTagToken {
					heading = int(tok.Data[1] - '0')
				}
			case atom.P, atom.Div, atom.Section, atom.Article, atom.Main, atom.Li, atom.Tr, atom.Br,
				atom.Blockquote, atom.Pre, atom.Table, atom.Ul, atom.Ol, atom.Dd, atom.Dt:
				flush()
			}
		}
	}
	flush()
	return b.result()
}
