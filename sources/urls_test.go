package sources

import (
	"net/url"
	"strings"
	"testing"

	"github.com/ragd/ragd/extract"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"HTTP://Example.COM":                           "http://example.com/",
		"https://example.com:443/a/./b/../c":           "https://example.com/a/c",
		"http://example.com:80/docs/":                  "http://example.com/docs/",
		"http://example.com:8080/x#section":            "http://example.com:8080/x",
		"https://example.com/p?b=2&a=1&a=0":            "https://example.com/p?a=0&a=1&b=2",
		"https://example.com/p?":                       "https://example.com/p",
		"https://example.com/p?PHPSESSID=abc&q=1":      "https://example.com/p?q=1",
		"https://example.com/p;jsessionid=ABC123?q=1":  "https://example.com/p?q=1",
		"https://example.com./x":                       "https://example.com/x",
		"https://[2001:db8::1]:443/":                   "https://[2001:db8::1]/",
		"https://example.com/a%20b":                    "https://example.com/a%20b",
		"  https://example.com/trim  ":                 "https://example.com/trim",
		"https://example.com/../../etc":                "https://example.com/etc",
		"https://example.com//double//slash":           "https://example.com/double/slash",
		"https://example.com/caf%C3%A9":                "https://example.com/caf%C3%A9",
		"https://example.com/search?q=a+b&sid=1&page=": "https://example.com/search?page=&q=a+b",
	} {
		got, ok := Normalize(in)
		if !ok || got != want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "ftp://example.com/", "mailto:a@example.com", "javascript:alert(1)", "//example.com/x",
		"/relative", "https://user:pass@example.com/", "http://", "https://" + strings.Repeat("a", MaxURLLength) + ".com/",
		"http://exa mple.com/", "data:text/html,hi", "HTTP://M../2", "http://.example.com/"} {
		if got, ok := Normalize(bad); ok {
			t.Errorf("Normalize(%q) = %q, want refused", bad, got)
		}
	}
}

func TestMatchPath(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		pattern, path string
		want          bool
	}{
		{"/docs", "/docs/a/b", true},
		{"/docs", "/blog", false},
		{"/docs/*", "/docs/a/b", true},
		{"/docs/*", "/docs", false},
		{"/*.pdf", "/files/a.pdf", true},
		{"/*/edit", "/wiki/page/edit", true},
		{"/*/edit", "/wiki/page/edit/more", false},
		{"/calendar*", "/calendar?month=3", true},
		{"/a*b*c", "/axxbyyc", true},
		{"/a*b*c", "/axxcyyb", false},
	} {
		if got := matchPath(c.pattern, c.path); got != c.want {
			t.Errorf("matchPath(%q, %q) = %v", c.pattern, c.path, got)
		}
	}
}

func TestAllowedURL(t *testing.T) {
	t.Parallel()
	web := Source{Type: TypeWebsite, URL: "https://www.example.com/", Exclude: []string{"/private", "/*?print=1"}, Include: []string{"/docs", "/help/*"}}
	for raw, want := range map[string]string{
		"https://www.example.com/docs/a":           "",
		"https://example.com/help/x":               "", // with or without www.
		"https://example.com/blog":                 "not included",
		"https://other.example/docs":               "another site",
		"https://example.com:8443/docs":            "another site",
		"https://example.com/private/docs":         "excluded by /private", // exclude wins
		"https://example.com/docs/page?print=1":    "excluded by /*?print=1",
		"ftp://example.com/docs":                   "not http or https",
		"https://sub.www.example.com/docs/a":       "another site",
		"https://www.example.com.evil.test/docs/a": "another site",
	} {
		u, _ := url.Parse(raw)
		if got := web.allowedURL(u); got != want {
			t.Errorf("%s: %q, want %q", raw, got, want)
		}
	}
	// A sitemap's pages may be on any host (a sitemap may list a CDN's).
	sm := Source{Type: TypeSitemap, URL: "https://example.com/sitemap.xml"}
	if u, _ := url.Parse("https://cdn.example.net/a.pdf"); sm.allowedURL(u) != "" {
		t.Error("a sitemap's page on another host was refused")
	}
}

func TestCheckSourceURL(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"http://127.0.0.1:8080/":         "loopback",
		"http://localhost/":              "localhost",
		"http://10.1.2.3/":               "private",
		"http://169.254.169.254/latest/": "link-local",
		"http://[::1]/":                  "loopback",
		"http://2130706433/":             "loopback",
		"https://user:pw@example.com/":   "credentials",
		"gopher://example.com/":          "http or https",
		"example.com":                    "http or https",
		"":                               "required",
		"https://example.com:0/":         "port",
		"https://example.com:99999/":     "port",
		"https://example.com/" + strings.Repeat("x", MaxURLLength): "at most",
	} {
		if _, why := checkSourceURL(raw, false); !strings.Contains(why, want) {
			t.Errorf("%q: %q, want it to say %q", raw, why, want)
		}
	}
	if _, why := checkSourceURL("http://127.0.0.1:8080/", false); !strings.Contains(why, "RAGD_SOURCES_ALLOW_PRIVATE") {
		t.Errorf("a loopback refusal does not name the setting: %q", why)
	}
	if n, why := checkSourceURL("http://127.0.0.1:8080/Docs#x", true); why != "" || n != "http://127.0.0.1:8080/Docs" {
		t.Errorf("allowed private: %q, %q", n, why)
	}
}

func TestFileName(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"https://example.com/":                "index.html",
		"https://example.com/pricing":         "pricing.html",
		"https://example.com/docs/guide.html": "guide.html",
		"https://example.com/files/a.pdf":     "a.pdf",
	} {
		typ := "html"
		if strings.HasSuffix(raw, ".pdf") {
			typ = "pdf"
		}
		if got := fileName(raw, extract.Type(typ)); got != want {
			t.Errorf("fileName(%q) = %q, want %q", raw, got, want)
		}
	}
}
