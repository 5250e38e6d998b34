// Command evalhtml scores ragd's HTML main-content extraction against a
// folder of pages with known main content, such as the test pages of
// mozilla/readability: each subfolder holds source.html (the raw page)
// and expected.html (its article).
//
//	go run ./scripts/evalhtml -dir pages/     # or: make eval-html HTML_DEVDATA=pages/
//	go run ./scripts/evalhtml -dir ... -v                             # every page, worst first
//
// Each page's source.html goes through extract.Extract (TypeHTML, default
// limits, in this process), and the text it returns is compared with the
// text of expected.html as bags of words: lower-cased runs of letters,
// digits and underscores (Python's \w+), counted with their
// multiplicity. Precision is the share of extracted tokens that the
// expected text holds, recall the share of expected tokens that were
// extracted; both and their F1 are averaged over pages (macro average).
// A page that fails to extract scores 0 unless its expected text is empty
// too. Timing is the wall clock of each Extract call, after one untimed
// warm-up page (package initialisation is not an extraction's cost).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/ragd/ragd/extract"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "evalhtml:", err)
		os.Exit(1)
	}
}

type pageScore struct {
	name                 string
	precision, recall, f float64
	extracted, expected  int
	dur                  time.Duration
	err                  error
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("evalhtml", flag.ContinueOnError)
	dir := fs.String("dir", os.Getenv("RAGD_HTML_DEVDATA"), "folder of page folders, each with source.html and expected.html (default $RAGD_HTML_DEVDATA)")
	verbose := fs.Bool("v", false, "print every page's scores, worst F1 first")
	only := fs.String("page", "", "score only the page folders whose name contains this")
	show := fs.Bool("show", false, "with -page: print the extracted text and the tokens missed and extra")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("-dir (or RAGD_HTML_DEVDATA) must name the pages' folder")
	}
	entries, err := os.ReadDir(*dir)
	if err != nil {
		return err
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && strings.Contains(e.Name(), *only) {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return fmt.Errorf("no page folders in %s", *dir)
	}

	// Warm up: the first extraction pays for lazily built tables.
	if src, err := os.ReadFile(filepath.Join(*dir, names[0], "source.html")); err == nil {
		extract.Extract(ctx, extract.TypeHTML, src, extract.Limits{})
	}

	var scores []pageScore
	for _, name := range names {
		src, err := os.ReadFile(filepath.Join(*dir, name, "source.html"))
		if err != nil {
			return err
		}
		exp, err := os.ReadFile(filepath.Join(*dir, name, "expected.html"))
		if err != nil {
			return err
		}
		want, err := htmlText(exp)
		if err != nil {
			return fmt.Errorf("%s: expected.html: %w", name, err)
		}
		start := time.Now()
		ext, xerr := extract.Extract(ctx, extract.TypeHTML, src, extract.Limits{})
		s := score(name, tokens(ext.Text), tokens(want))
		s.dur, s.err = time.Since(start), xerr
		scores = append(scores, s)
		if *show {
			fmt.Fprintf(out, "==== %s: extracted text\n%s\n", name, ext.Text)
			missed, extra := diff(tokens(ext.Text), tokens(want))
			fmt.Fprintf(out, "==== missed (%d): %s\n==== extra (%d): %s\n", len(missed), strings.Join(missed, " "), len(extra), strings.Join(extra, " "))
		}
	}
	report(out, scores, *verbose)
	return nil
}

func report(out io.Writer, scores []pageScore, verbose bool) {
	var p, r, f float64
	var durs []time.Duration
	var total time.Duration
	failed := 0
	for _, s := range scores {
		p, r, f = p+s.precision, r+s.recall, f+s.f
		durs = append(durs, s.dur)
		total += s.dur
		if s.err != nil {
			failed++
		}
	}
	if verbose {
		byF := slices.Clone(scores)
		slices.SortStableFunc(byF, func(a, b pageScore) int {
			switch {
			case a.f < b.f:
				return -1
			case a.f > b.f:
				return 1
			}
			return 0
		})
		fmt.Fprintf(out, "%-45s %6s %6s %6s %7s %7s %8s\n", "page", "P", "R", "F1", "tokens", "want", "time")
		for _, s := range byF {
			note := ""
			if s.err != nil {
				note = "  error: " + s.err.Error()
			}
			fmt.Fprintf(out, "%-45s %6.3f %6.3f %6.3f %7d %7d %8s%s\n", s.name, s.precision, s.recall, s.f, s.extracted, s.expected, s.dur.Round(10*time.Microsecond), note)
		}
		fmt.Fprintln(out)
	}
	n := float64(len(scores))
	slices.Sort(durs)
	fmt.Fprintf(out, "pages %d (extraction failed: %d)\n", len(scores), failed)
	fmt.Fprintf(out, "precision %.3f  recall %.3f  F1 %.3f  (bag of words, macro average)\n", p/n, r/n, f/n)
	fmt.Fprintf(out, "time per page: mean %s  median %s  p90 %s  max %s\n",
		(total / time.Duration(len(durs))).Round(10*time.Microsecond), durs[len(durs)/2].Round(10*time.Microsecond),
		durs[len(durs)*9/10].Round(10*time.Microsecond), durs[len(durs)-1].Round(10*time.Microsecond))
}

// wordRE is Python's \w+ on str: letters, digits and underscores of any script.
var wordRE = regexp.MustCompile(`[\p{L}\p{N}_]+`)

func tokens(s string) map[string]int {
	bag := map[string]int{}
	for _, w := range wordRE.FindAllString(strings.ToLower(s), -1) {
		bag[w]++
	}
	return bag
}

func count(bag map[string]int) int {
	n := 0
	for _, c := range bag {
		n += c
	}
	return n
}

func score(name string, got, want map[string]int) pageScore {
	s := pageScore{name: name, extracted: count(got), expected: count(want)}
	if s.extracted == 0 || s.expected == 0 {
		if s.extracted == s.expected {
			s.precision, s.recall, s.f = 1, 1, 1
		}
		return s
	}
	common := 0
	for w, c := range got {
		common += min(c, want[w])
	}
	s.precision = float64(common) / float64(s.extracted)
	s.recall = float64(common) / float64(s.expected)
	if common > 0 {
		s.f = 2 * s.precision * s.recall / (s.precision + s.recall)
	}
	return s
}

// diff lists the tokens want has more of than got (missed) and those got
// has more of than want (extra), with repetition.
func diff(got, want map[string]int) (missed, extra []string) {
	for w, c := range want {
		for range c - got[w] {
			missed = append(missed, w)
		}
	}
	for w, c := range got {
		for range c - want[w] {
			extra = append(extra, w)
		}
	}
	slices.Sort(missed)
	slices.Sort(extra)
	return missed, extra
}

// htmlText is the text of an HTML fragment as a browser's textContent
// would give it, with a space at each block element's boundary so that
// words in neighbouring blocks stay apart. Scripts and styles are left out.
func htmlText(data []byte) (string, error) {
	doc, err := html.Parse(strings.NewReader(string(data)))
	if err != nil {
		return "", err
	}
	var b strings.Builder
	var visit func(n *html.Node)
	visit = func(n *html.Node) {
		switch n.Type {
		case html.TextNode:
			b.WriteString(n.Data)
			return
		case html.ElementNode:
			switch n.DataAtom {
			case atom.Script, atom.Style, atom.Noscript, atom.Template:
				return
			}
		}
		inline := n.Type == html.ElementNode && inlineElements[n.DataAtom]
		if !inline {
			b.WriteByte(' ')
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			visit(c)
		}
		if !inline {
			b.WriteByte(' ')
		}
	}
	visit(doc)
	return b.String(), nil
}

var inlineElements = map[atom.Atom]bool{
	atom.A: true, atom.Abbr: true, atom.B: true, atom.Bdi: true, atom.Bdo: true, atom.Cite: true,
	atom.Code: true, atom.Data: true, atom.Dfn: true, atom.Em: true, atom.I: true, atom.Kbd: true,
	atom.Mark: true, atom.Q: true, atom.S: true, atom.Samp: true, atom.Small: true, atom.Span: true,
	atom.Strong: true, atom.Sub: true, atom.Sup: true, atom.Time: true, atom.U: true, atom.Var: true,
	atom.Font: true, atom.Strike: true, atom.Tt: true, atom.Big: true, atom.Label: true, atom.Ins: true, atom.Del: true,
}
