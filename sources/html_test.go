package sources

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestReadPage(t *testing.T) {
	t.Parallel()
	base, _ := url.Parse("https://example.com/docs/intro")
	page := `<!doctype html><html><head><title>Intro</title>
		<link rel="alternate stylesheet" href="/s.css"><link rel="Canonical" href="/docs/intro?utm=1#x">
		<script>var a = "<a href='/from-script'>";</script><style>a{}</style></head>
		<body><a href="guide">Guide</a> <a href="/docs/guide#part">Guide again</a> <a href="#top">top</a>
		<a href="mailto:x@example.com">mail</a> <a href="javascript:void(0)">js</a> <a rel="nofollow" href="/login">login</a>
		<a href="https://other.example/x?b=1&a=2">other</a> <area href="/map"> <a href="  /spaced  ">spaced</a>
		<noscript><a href="/noscript">n</a></noscript> <p>Some   text</p></body></html>`
	info := readPage(base, []byte(page))
	want := []string{"https://example.com/docs/guide", "https://other.example/x?a=2&b=1", "https://example.com/map", "https://example.com/spaced"}
	if !slices.Equal(info.links, want) {
		t.Errorf("links %q, want %q", info.links, want)
	}
	if info.canonical != "https://example.com/docs/intro?utm=1" || info.noFollow {
		t.Errorf("canonical %q, nofollow %v", info.canonical, info.noFollow)
	}
	// The same text in other markup has the same fingerprint; other text not.
	orig := readPage(base, []byte(`<html><head><title>T</title></head><body><p>Hello   world</p><script>var x</script></body></html>`))
	again := readPage(base, []byte(`<html><head><title>T</title><meta name="build" content="2"><style>p{}</style></head><body><div><p>Hello</p>
		world</div><!-- built at 12:00 --></body></html>`))
	if again.textSum != orig.textSum {
		t.Error("the same text in new markup has another fingerprint")
	}
	other := readPage(base, []byte(`<html><head><title>T</title></head><body><p>Hello world!</p></body></html>`))
	if other.textSum == orig.textSum {
		t.Error("changed text kept its fingerprint")
	}
	if !readPage(base, []byte(`<meta name="ROBOTS" content="noindex, NOFOLLOW"><a href="/x">x</a>`)).noFollow {
		t.Error("<meta name=robots content=nofollow> not seen")
	}
	// <base href> moves relative links.
	if got := readPage(base, []byte(`<base href="https://example.com/v2/"><a href="a">a</a>`)).links; !slices.Equal(got, []string{"https://example.com/v2/a"}) {
		t.Errorf("with <base>: %q", got)
	}
}

// TestReadPageHostile: what a hostile or broken page can do is bounded:
// no panic, at most MaxLinksPerPage links, unclosed tags and garbage read.
func TestReadPageHostile(t *testing.T) {
	t.Parallel()
	base, _ := url.Parse("https://example.com/")
	var many strings.Builder
	for i := range MaxLinksPerPage + 500 {
		fmt.Fprintf(&many, `<a href="/p/%d">p</a>`, i)
	}
	if n := len(readPage(base, []byte(many.String())).links); n != MaxLinksPerPage {
		t.Errorf("%d links kept, want %d", n, MaxLinksPerPage)
	}
	for _, body := range []string{
		"", "\x00\x01\x02", "<a href", `<a href="`, strings.Repeat("<div>", 100000), strings.Repeat("<script>", 1000) + `<a href="/x">`,
		`<a href="http://[::1">bad</a>`, `<a href="%zz">`, "<a href='" + strings.Repeat("a", 1<<20) + "'>", "\xff\xfe<\x00a\x00",
	} {
		_ = readPage(base, []byte(body))
	}
}

func TestReadSitemap(t *testing.T) {
	t.Parallel()
	urlset := `<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>https://Example.com/a#x</loc><lastmod>2024-01-01</lastmod></url>
  <url><loc>
      https://example.com/b?z=1&amp;a=2
  </loc></url>
  <url><loc>ftp://example.com/no</loc></url>
</urlset>`
	sm, err := readSitemap([]byte(urlset))
	if err != nil || !slices.Equal(sm.pages, []string{"https://example.com/a", "https://example.com/b?a=2&z=1"}) || len(sm.sitemaps) != 0 {
		t.Fatalf("urlset: %+v, %v", sm, err)
	}
	index := `<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>https://example.com/s1.xml.gz</loc></sitemap></sitemapindex>`
	sm, err = readSitemap([]byte(index))
	if err != nil || !slices.Equal(sm.sitemaps, []string{"https://example.com/s1.xml.gz"}) || len(sm.pages) != 0 {
		t.Fatalf("index: %+v, %v", sm, err)
	}
	if sm, err := readSitemap([]byte(`<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"></urlset>`)); err != nil || len(sm.pages) != 0 {
		t.Errorf("an empty urlset: %+v, %v", sm, err)
	}
	for _, bad := range []string{"", "<html><body>Not found</body></html>", "not xml at all", strings.Repeat("<a>", 100) + "x"} {
		if _, err := readSitemap([]byte(bad)); err == nil {
			t.Errorf("%.40q read as a sitemap", bad)
		}
	}
	// Damage after some entries keeps those entries.
	if sm, err := readSitemap([]byte(`<urlset><url><loc>https://example.com/ok</loc></url><url><loc>https://exa`)); err != nil || len(sm.pages) != 1 {
		t.Errorf("a truncated sitemap: %+v, %v", sm, err)
	}
	// Entities are not expanded beyond XML's own five (Go's decoder has no DTD).
	if sm, _ := readSitemap([]byte(`<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]><urlset><url><loc>https://example.com/&a;</loc></url></urlset>`)); len(sm.pages) > 1 {
		t.Errorf("entities: %+v", sm)
	}
}

func TestGunzipped(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(bytes.Repeat([]byte("<url>"), 1<<20)) // 5 MiB that compress to a few KiB
	zw.Close()
	if _, err := gunzipped(buf.Bytes(), 1<<20); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("a gzip bomb: %v", err)
	}
	if out, err := gunzipped(buf.Bytes(), 8<<20); err != nil || len(out) != 5<<20 {
		t.Errorf("within the limit: %d bytes, %v", len(out), err)
	}
	if out, err := gunzipped([]byte("<urlset/>"), 10); err != nil || string(out) != "<urlset/>" {
		t.Errorf("not gzip: %q, %v", out, err)
	}
	if _, err := gunzipped([]byte{0x1f, 0x8b, 0, 0}, 10); err == nil {
		t.Error("broken gzip read")
	}
}

func FuzzReadPage(f *testing.F) {
	f.Add([]byte(`<a href="/x">x</a><link rel=canonical href="/y"><base href="//h/">`))
	f.Add([]byte(`<script><a href="/no"></script><a href="?q=1#f">`))
	base, _ := url.Parse("https://example.com/a/b")
	f.Fuzz(func(t *testing.T, b []byte) {
		info := readPage(base, b)
		if len(info.links) > MaxLinksPerPage {
			t.Fatalf("%d links", len(info.links))
		}
		for _, l := range append(info.links, info.canonical) {
			if l == "" {
				continue
			}
			if n, ok := Normalize(l); !ok || n != l {
				t.Fatalf("link %q is not normalised (%q, %v)", l, n, ok)
			}
		}
	})
}

func FuzzReadSitemap(f *testing.F) {
	f.Add([]byte(`<urlset><url><loc>https://example.com/a</loc></url></urlset>`))
	f.Add([]byte(`<sitemapindex><sitemap><loc>https://example.com/s.xml</loc></sitemap></sitemapindex>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		sm, _ := readSitemap(b)
		if len(sm.pages) > MaxSitemapURLs || len(sm.sitemaps) > MaxSitemapURLs {
			t.Fatal("too many URLs")
		}
	})
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"HTTP://Example.COM:80/a/../b?z=1&a=2#f", "https://[::1]:443/", "https://example.com/p;jsessionid=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := Normalize(s)
		if !ok {
			return
		}
		// Normalising is idempotent: one page has one spelling.
		if again, ok := Normalize(n); !ok || again != n {
			t.Fatalf("Normalize(%q) = %q, but Normalize(%q) = %q, %v", s, n, n, again, ok)
		}
	})
}
