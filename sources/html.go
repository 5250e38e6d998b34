package sources

import (
	"bytes"
	"crypto/sha256"
	"encoding/xml"
	"io"
	"net/url"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// MaxLinksPerPage bounds the links taken from one page.
const MaxLinksPerPage = 2000

// pageInfo is what the crawl reads from an HTML page itself: its links
// (absolute, normalised, in order, once each), its rel=canonical URL and
// a fingerprint of its text. The page's own extraction (title, headings,
// chunks) is the ingest pipeline's, in its sandbox; this is a tokenizer's
// single pass over at most Config.MaxBytes, with no tree built, so it
// costs time and memory linear in the page.
type pageInfo struct {
	links     []string
	canonical string
	noFollow  bool     // <meta name="robots" content="nofollow">
	textSum   [32]byte // SHA-256 of the text a reader sees, spaces collapsed
}

// readPage reads an HTML page served at base.
func readPage(base *url.URL, body []byte) pageInfo {
	var info pageInfo
	seen := map[string]bool{}
	z := html.NewTokenizer(bytes.NewReader(body))
	h := sha256.New()
	skip := 0 // inside script, style, noscript or template
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			info.textSum = [32]byte(h.Sum(nil))
			return info
		case html.TextToken:
			if skip == 0 {
				for _, w := range strings.Fields(string(z.Text())) {
					h.Write([]byte(w))
					h.Write([]byte{' '})
				}
			}
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			name, hasAttr := z.TagName()
			a := atom.Lookup(name)
			switch a {
			case atom.Script, atom.Style, atom.Noscript, atom.Template:
				if tt == html.StartTagToken {
					skip++
				} else if tt == html.EndTagToken && skip > 0 {
					skip--
				}
				continue
			}
			if tt == html.EndTagToken || !hasAttr {
				continue
			}
			attrs := map[string]string{}
			for {
				k, v, more := z.TagAttr()
				attrs[string(k)] = string(v)
				if !more {
					break
				}
			}
			switch a {
			case atom.Base:
				if b, err := url.Parse(attrs["href"]); err == nil && attrs["href"] != "" {
					base = base.ResolveReference(b)
				}
			case atom.A, atom.Area:
				if strings.Contains(strings.ToLower(attrs["rel"]), "nofollow") || len(info.links) >= MaxLinksPerPage {
					continue
				}
				if u, ok := resolve(base, attrs["href"]); ok && !seen[u] {
					seen[u] = true
					info.links = append(info.links, u)
				}
			case atom.Link:
				if hasRel(attrs["rel"], "canonical") && info.canonical == "" {
					if u, ok := resolve(base, attrs["href"]); ok {
						info.canonical = u
					}
				}
			case atom.Meta:
				if strings.EqualFold(attrs["name"], "robots") && strings.Contains(strings.ToLower(attrs["content"]), "nofollow") {
					info.noFollow = true
				}
			}
		}
	}
}

func hasRel(rel, want string) bool {
	for _, r := range strings.Fields(strings.ToLower(rel)) {
		if r == want {
			return true
		}
	}
	return false
}

// MaxSitemapURLs bounds the URLs read from one sitemap (the protocol's
// own limit is 50,000).
const MaxSitemapURLs = 50000

// sitemap is what a sitemap lists: pages (a urlset) or other sitemaps
// (a sitemap index).
type sitemap struct {
	pages    []string
	sitemaps []string
}

// readSitemap reads a sitemap or sitemap index (the XML of
// sitemaps.org), streaming; every <loc> is normalised, and those that are
// no http(s) URL are left out.
func readSitemap(body []byte) (sitemap, error) {
	var out sitemap
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = false
	var stack []string
	var loc strings.Builder // the text of the <loc> being read
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			if len(out.pages)+len(out.sitemaps) == 0 {
				return out, failf("not a sitemap: %v", err)
			}
			break // keep the entries before the damage
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) > 16 {
				return out, failf("not a sitemap: nested too deep")
			}
			stack = append(stack, t.Name.Local)
			loc.Reset()
		case xml.CharData:
			if len(stack) > 0 && stack[len(stack)-1] == "loc" && loc.Len()+len(t) <= MaxURLLength+64 {
				loc.Write(t)
			}
		case xml.EndElement:
			if len(stack) >= 2 && stack[len(stack)-1] == "loc" {
				if u, ok := Normalize(loc.String()); ok {
					switch stack[len(stack)-2] {
					case "url":
						if len(out.pages) < MaxSitemapURLs {
							out.pages = append(out.pages, u)
						}
					case "sitemap":
						if len(out.sitemaps) < MaxSitemapURLs {
							out.sitemaps = append(out.sitemaps, u)
						}
					}
				}
			}
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
	}
	if len(stack) == 0 && len(out.pages)+len(out.sitemaps) == 0 {
		// An empty urlset is a sitemap with no pages; anything else that
		// listed nothing is no sitemap.
		if !bytes.Contains(body, []byte("urlset")) && !bytes.Contains(body, []byte("sitemapindex")) {
			return out, failf("not a sitemap: no <urlset> or <sitemapindex>")
		}
	}
	return out, nil
}
