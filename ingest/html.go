package ingest

import (
	"bytes"
	"context"
	"strings"

	trafilatura "github.com/markusmobius/go-trafilatura"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// extractHTML keeps a page's readable text: the title, headings (as
// sections), paragraphs, list items and table rows (cells joined by " | ").
// Scripts, styles, forms, navigation, headers, footers, asides and hidden
// elements are dropped. Menus, footers and ads are kept out of the chunks
// in two ways:
//   - a page that marks its main content (<main>, <article>, role="main")
//     keeps only that, when it holds a fair share of the text;
//   - any other page goes through go-trafilatura's main-content extraction,
//     whose result is used when it kept the page's structure and at least a
//     tenth of its text, and the whole body otherwise.
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
	root := findFirst(doc, func(n *html.Node) bool { return n.DataAtom == atom.Body })
	if root == nil {
		root = doc
	}
	if main := mainContent(root); main != nil {
		root = main
	} else if content := trafilaturaContent(s, visibleLen(root)); content != nil {
		root = content
	}

	w := &htmlWalker{ctx: ctx, b: newBuilder(lim.MaxTextBytes)}
	if title != "" {
		w.b.title = title
	}
	w.block(root)
	w.flush()
	if ctx.Err() != nil {
		return Extracted{}, ctx.Err()
	}
	return w.b.result()
}

// mainContent returns the page's marked main content when it holds at
// least a quarter of the body's visible text, else nil.
func mainContent(body *html.Node) *html.Node {
	main := findFirst(body, func(n *html.Node) bool {
		return n.DataAtom == atom.Main || attr(n, "role") == "main"
	})
	if main == nil {
		main = findFirst(body, func(n *html.Node) bool { return n.DataAtom == atom.Article })
	}
	if main == nil {
		return nil
	}
	if visibleLen(main)*4 < visibleLen(body) {
		return nil
	}
	return main
}

// trafilaturaContent runs go-trafilatura's main-content extraction on page
// and returns its content when it looks right: several blocks (a single
// paragraph is its baseline fallback, which glues headings, lists and cells
// together) holding at least a tenth of the body's text. Otherwise nil.
func trafilaturaContent(page string, bodyLen int) *html.Node {
	res, err := trafilatura.Extract(strings.NewReader(page), trafilatura.Options{ExcludeComments: true, EnableFallback: true, Deduplicate: true})
	if err != nil || res == nil || res.ContentNode == nil {
		return nil
	}
	blocks := 0
	for c := res.ContentNode.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode {
			blocks++
		}
	}
	if blocks < 2 || visibleLen(res.ContentNode)*10 < bodyLen {
		return nil
	}
	return res.ContentNode
}

// dropped reports whether an element and everything in it is left out.
func dropped(n *html.Node) bool {
	if n.Type == html.CommentNode || n.Type == html.DoctypeNode {
		return true
	}
	if n.Type != html.ElementNode {
		return false
	}
	switch n.DataAtom {
	case atom.Script, atom.Style, atom.Noscript, atom.Template, atom.Svg, atom.Math, atom.Head,
		atom.Nav, atom.Header, atom.Footer, atom.Aside, atom.Form, atom.Button, atom.Select,
		atom.Iframe, atom.Object, atom.Embed, atom.Canvas, atom.Audio, atom.Video:
		return true
	}
	if hasAttr(n, "hidden") || attr(n, "aria-hidden") == "true" {
		return true
	}
	switch attr(n, "role") {
	case "navigation", "banner", "contentinfo", "complementary", "search":
		return true
	}
	return false
}

type htmlWalker struct {
	ctx    context.Context
	b      *builder
	inline strings.Builder
	steps  int
}

func (w *htmlWalker) flush() {
	if w.inline.Len() > 0 {
		w.b.paragraph(w.inline.String())
		w.inline.Reset()
	}
}

// block walks n's children, flushing running text at block boundaries.
// The walk is iterative per level and stops when ctx is done.
func (w *htmlWalker) block(n *html.Node) {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if w.steps++; w.steps%4096 == 0 && w.ctx.Err() != nil {
			return
		}
		if dropped(c) {
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
			w.b.heading(int(c.Data[1]-'0'), textOf(c))
		case atom.Ul, atom.Ol:
			w.flush()
			var items []string
			for li := c.FirstChild; li != nil; li = li.NextSibling {
				if li.DataAtom == atom.Li && !dropped(li) {
					items = append(items, "- "+visibleText(li))
				}
			}
			w.b.lines(items)
		case atom.Table:
			w.flush()
			w.b.lines(tableRows(c))
		case atom.Pre:
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

func tableRows(table *html.Node) []string {
	var rows []string
	walk(table, func(n *html.Node) bool {
		if dropped(n) {
			return false
		}
		if n.DataAtom == atom.Tr {
			var cells []string
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				if c.DataAtom == atom.Td || c.DataAtom == atom.Th {
					cells = append(cells, cleanInline(visibleText(c)))
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

// visibleText returns the text under n that is not dropped, with <br> and
// block ends as line breaks.
func visibleText(n *html.Node) string {
	var b strings.Builder
	walk(n, func(c *html.Node) bool {
		if dropped(c) {
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
			b.heading(heading, text.String())
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
