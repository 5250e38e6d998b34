package sources

import (
	"net"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/ragd/ragd/outbound"
)

// MaxURLLength bounds a URL ragd stores or fetches.
const MaxURLLength = 2048

// sessionParams are query parameters that name a visitor's session, not
// a page: the same page under a new one each visit is a crawler trap.
var sessionParams = []string{"jsessionid", "phpsessid", "sid", "sessionid", "session_id", "aspsessionid", "cfid", "cftoken"}

// Normalize returns the one spelling of a page's URL that ragd keeps, so
// that one page is one document: scheme and host lower case, the scheme's
// default port dropped, the path's dot segments resolved (an empty path
// is "/"), the fragment dropped, session parameters (sessionParams, and a
// ";jsessionid=" path parameter) dropped and the query's parameters
// sorted. ok is false for a URL that is not absolute http(s), carries
// credentials or is longer than MaxURLLength.
func Normalize(raw string) (string, bool) {
	if len(raw) > MaxURLLength {
		return "", false
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Opaque != "" || u.User != nil {
		return "", false
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" || u.Hostname() == "" {
		return "", false
	}
	host, port := strings.ToLower(strings.TrimSuffix(u.Hostname(), ".")), u.Port()
	if host == "" || strings.HasPrefix(host, ".") || strings.HasSuffix(host, ".") || strings.Contains(host, "..") {
		// An empty label is no host name; trimming one dot of "m.." would
		// leave "m.", which a second pass trims again, so one page would
		// have two names.
		return "", false
	}
	if port == "80" && u.Scheme == "http" || port == "443" && u.Scheme == "https" {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host = net.JoinHostPort(strings.Trim(host, "[]"), port)
	}
	u.Host = host
	u.Fragment, u.RawFragment = "", ""
	p := u.EscapedPath()
	if i := strings.Index(strings.ToLower(p), ";jsessionid="); i >= 0 {
		p = p[:i]
	}
	if p == "" {
		p = "/"
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	if pu, err := url.Parse(clean); err == nil {
		u.Path, u.RawPath = pu.Path, pu.RawPath
	}
	if u.RawQuery != "" {
		q := strings.Split(u.RawQuery, "&")
		q = slices.DeleteFunc(q, func(kv string) bool {
			k, _, _ := strings.Cut(kv, "=")
			return kv == "" || slices.Contains(sessionParams, strings.ToLower(k))
		})
		slices.Sort(q)
		u.RawQuery = strings.Join(q, "&")
	}
	u.ForceQuery = false
	out := u.String()
	if len(out) > MaxURLLength {
		return "", false
	}
	return out, true
}

// resolve is href (a link on the page at base) as an absolute,
// normalised URL; ok is false for what is no page to fetch (mailto:,
// javascript:, a fragment of the same page is the page itself).
func resolve(base *url.URL, href string) (string, bool) {
	href = strings.TrimSpace(href)
	if href == "" || strings.HasPrefix(href, "#") {
		return "", false
	}
	ref, err := url.Parse(href)
	if err != nil {
		return "", false
	}
	return Normalize(base.ResolveReference(ref).String())
}

// site is a host without "www.": example.com and www.example.com are one site.
func site(host string) string { return strings.TrimPrefix(strings.ToLower(host), "www.") }

// sameSite says whether u is on the site of the source's URL (the same
// host, with or without "www.", and the same port).
func sameSite(src, u *url.URL) bool {
	return site(src.Hostname()) == site(u.Hostname()) && src.Port() == u.Port()
}

// matchPath reports whether p matches pattern, where * is any run of
// characters, "/" included ("/docs/*" matches "/docs/a/b"), and every
// other character is itself. A pattern with no * matches p's prefix
// ("/blog" matches "/blog/2024/post").
func matchPath(pattern, p string) bool {
	if !strings.Contains(pattern, "*") {
		return strings.HasPrefix(p, pattern)
	}
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(p, parts[0]) {
		return false
	}
	p = p[len(parts[0]):]
	last := len(parts) - 1
	for _, part := range parts[1:last] {
		i := strings.Index(p, part)
		if i < 0 {
			return false
		}
		p = p[i+len(part):]
	}
	return strings.HasSuffix(p, parts[last])
}

// allowedURL says why the source does not take u ("" when it does): off
// its site (for a website; a sitemap's or a single URL's pages are taken
// wherever the address policy allows), excluded, or not included.
func (s Source) allowedURL(u *url.URL) string {
	src, err := url.Parse(s.URL)
	if err != nil {
		return "the source's URL does not parse"
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "not http or https"
	}
	if s.Type == TypeWebsite && !sameSite(src, u) {
		return "another site"
	}
	p := u.EscapedPath()
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	for _, x := range s.Exclude {
		if matchPath(x, p) {
			return "excluded by " + x
		}
	}
	if len(s.Include) > 0 && !slices.ContainsFunc(s.Include, func(in string) bool { return matchPath(in, p) }) {
		return "not included"
	}
	return ""
}

// checkFetchable says why a URL may not be fetched under the address
// policy ("" when it may), before any name is resolved.
func checkFetchable(u *url.URL, allowPrivate bool) string {
	if allowPrivate {
		return ""
	}
	return outbound.CheckHost(u.Hostname())
}
