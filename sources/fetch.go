package sources

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/temoto/robotstxt"

	"github.com/ragd/ragd/outbound"
)

// Config is the operator's choice of how sources are fetched. Its zero
// value is safe: public addresses only, the defaults below.
type Config struct {
	// AllowPrivate lets sources be (or resolve to) loopback, private,
	// link-local and other non-public addresses
	// (RAGD_SOURCES_ALLOW_PRIVATE; default false).
	AllowPrivate bool
	// UserAgent is the product token robots.txt rules are matched
	// against, and the start of the User-Agent header
	// (RAGD_SOURCES_USER_AGENT; default "ragd").
	UserAgent string
	// ContactURL, when set, goes into the User-Agent header, so that a
	// site's operator can reach whoever runs the crawler
	// (RAGD_SOURCES_CONTACT_URL).
	ContactURL string
	// MaxBytes bounds a response's body (default 20 MiB, at most the
	// upload limit): a larger page or file fails, and is not stored.
	MaxBytes int64
	// Timeout bounds a request, from dialling to the body's last byte
	// (default 30 s): a slow page fails.
	Timeout time.Duration
	// Delay is the least time between the starts of two requests to one
	// host (default 250 ms); a robots.txt Crawl-delay that is longer
	// wins, up to MaxCrawlDelay.
	Delay time.Duration
	// PerHost bounds the requests in flight to one host, across every
	// source and tenant of the process (default 2).
	PerHost int
	// MaxRedirects bounds the redirects followed for one URL (default 5);
	// each is checked against the source's rules and the address policy.
	MaxRedirects int
	// Slice is how long one job of a run fetches before it gives its
	// worker to the next run in the queue (default 20 s).
	Slice time.Duration
}

// MaxCrawlDelay caps a robots.txt Crawl-delay: a site asking for more
// is crawled at this pace.
const MaxCrawlDelay = 30 * time.Second

func (c Config) withDefaults() Config {
	if c.UserAgent == "" {
		c.UserAgent = "ragd"
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 20 << 20
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.Delay <= 0 {
		c.Delay = 250 * time.Millisecond
	}
	if c.PerHost <= 0 {
		c.PerHost = 2
	}
	if c.MaxRedirects <= 0 {
		c.MaxRedirects = 5
	}
	if c.Slice <= 0 {
		c.Slice = 20 * time.Second
	}
	return c
}

// userAgentHeader is the User-Agent ragd sends.
func (c Config) userAgentHeader() string {
	ua := c.UserAgent + "/1.0 (website source of a ragd knowledge base"
	if c.ContactURL != "" {
		ua += "; +" + c.ContactURL
	}
	return ua + ")"
}

// fetcher makes a process's requests for every source: through the
// address policy's dialer, with no environment proxy (a proxy would be
// dialled instead of the site, unchecked), politely per host.
type fetcher struct {
	cfg       Config
	transport *http.Transport
	hosts     hostLimiter
	robotsMu  sync.Mutex
	robots    map[string]robotsEntry // by tenant and scheme://host
}

type robotsEntry struct {
	data *robotstxt.RobotsData
	at   time.Time
}

// robotsTTL is how long a host's robots.txt is kept.
const robotsTTL = time.Hour

// maxRobotsBytes bounds a robots.txt (Google reads 500 KiB).
const maxRobotsBytes = 512 << 10

func newFetcher(cfg Config) *fetcher {
	dialer := outbound.Dialer(10*time.Second, cfg.AllowPrivate)
	t := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: cfg.Timeout,
		MaxIdleConnsPerHost:   cfg.PerHost,
		IdleConnTimeout:       time.Minute,
		ForceAttemptHTTP2:     true,
	}
	return &fetcher{cfg: cfg, transport: t, hosts: hostLimiter{perHost: cfg.PerHost, hosts: map[string]*hostState{}}, robots: map[string]robotsEntry{}}
}

// response is what a fetch came to.
type response struct {
	status      int
	final       string // the normalised URL answered, after redirects
	body        []byte
	contentType string
	etag        string
	modified    string
}

// fetchError is a fetch that failed, with a reason a person can act on.
type fetchError struct{ reason string }

func (e *fetchError) Error() string { return e.reason }

func failf(format string, args ...any) error {
	return &fetchError{reason: fmt.Sprintf(format, args...)}
}

// get fetches rawURL for source s: conditionally when etag or modified
// is given, following at most MaxRedirects redirects that stay within s's
// rules, reading at most MaxBytes, within Timeout.
func (f *fetcher) get(ctx context.Context, s Source, rawURL, etag, modified string) (response, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return response{}, failf("bad URL: %v", err)
	}
	if why := checkFetchable(u, f.cfg.AllowPrivate); why != "" {
		return response{}, failf("refused: %s", why)
	}
	client := &http.Client{
		Transport: f.transport,
		Timeout:   f.cfg.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > f.cfg.MaxRedirects {
				return failf("more than %d redirects (a loop?)", f.cfg.MaxRedirects)
			}
			if req.URL.User != nil {
				return failf("redirected to a URL with credentials")
			}
			if why := s.allowedURL(req.URL); why != "" {
				return failf("redirected to %s: %s", req.URL.Redacted(), why)
			}
			if why := checkFetchable(req.URL, f.cfg.AllowPrivate); why != "" {
				return failf("redirected to %s: refused: %s", req.URL.Redacted(), why)
			}
			return nil
		},
	}
	release, err := f.hosts.wait(ctx, u.Host, f.delay(ctx, s.TenantID.String(), u))
	if err != nil {
		return response{}, err
	}
	defer release()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return response{}, failf("bad URL: %v", err)
	}
	req.Header.Set("User-Agent", f.cfg.userAgentHeader())
	req.Header.Set("Accept", "text/html,application/xhtml+xml,application/pdf,*/*;q=0.8")
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	if modified != "" {
		req.Header.Set("If-Modified-Since", modified)
	}
	resp, err := client.Do(req)
	if err != nil {
		return response{}, describe(err)
	}
	defer resp.Body.Close()
	out := response{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"),
		etag: resp.Header.Get("ETag"), modified: resp.Header.Get("Last-Modified")}
	out.final, _ = Normalize(resp.Request.URL.String())
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return out, nil
	}
	if resp.ContentLength > f.cfg.MaxBytes {
		return out, failf("larger than %d bytes (Content-Length %d)", f.cfg.MaxBytes, resp.ContentLength)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.cfg.MaxBytes+1))
	if err != nil {
		return out, describe(err)
	}
	if int64(len(body)) > f.cfg.MaxBytes {
		return out, failf("larger than %d bytes", f.cfg.MaxBytes)
	}
	out.body = body
	return out, nil
}

// describe makes a client error a reason: the refusal, the timeout, or
// the error itself.
func describe(err error) error {
	var fe *fetchError
	if errors.As(err, &fe) {
		return fe
	}
	if why, ok := outbound.Reason(err); ok {
		return &fetchError{reason: why}
	}
	if errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "Client.Timeout") {
		return &fetchError{reason: "timed out"}
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return &fetchError{reason: err.Error()}
}

// delay is the pause between requests to u's host: the configured one,
// or the robots.txt Crawl-delay when longer (at most MaxCrawlDelay).
func (f *fetcher) delay(ctx context.Context, tenant string, u *url.URL) time.Duration {
	d := f.cfg.Delay
	if g := f.robotsFor(ctx, tenant, u).FindGroup(f.cfg.UserAgent); g != nil && g.CrawlDelay > d {
		d = min(g.CrawlDelay, MaxCrawlDelay)
	}
	return d
}

// allowed says whether robots.txt lets ragd fetch u.
func (f *fetcher) allowed(ctx context.Context, tenant string, u *url.URL) bool {
	p := u.EscapedPath()
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	return f.robotsFor(ctx, tenant, u).TestAgent(p, f.cfg.UserAgent)
}

// robotsFor returns u's host's robots.txt, fetched at most once an hour
// per tenant (a tenant's crawl never depends on what another's fetched).
// A robots.txt that answers 4xx allows everything; one that cannot be
// fetched or answers 5xx disallows everything for now, as Google does.
func (f *fetcher) robotsFor(ctx context.Context, tenant string, u *url.URL) *robotstxt.RobotsData {
	key := tenant + " " + u.Scheme + "://" + u.Host
	f.robotsMu.Lock()
	e, ok := f.robots[key]
	f.robotsMu.Unlock()
	if ok && time.Since(e.at) < robotsTTL {
		return e.data
	}
	data := f.fetchRobots(ctx, u)
	f.robotsMu.Lock()
	if len(f.robots) > 10000 { // bounded: forget all, rather than grow
		clear(f.robots)
	}
	f.robots[key] = robotsEntry{data: data, at: time.Now()}
	f.robotsMu.Unlock()
	return data
}

func (f *fetcher) fetchRobots(ctx context.Context, u *url.URL) *robotstxt.RobotsData {
	disallow, _ := robotstxt.FromStatusAndBytes(http.StatusServiceUnavailable, nil)
	ru := &url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/robots.txt"}
	if checkFetchable(ru, f.cfg.AllowPrivate) != "" {
		return disallow
	}
	client := &http.Client{Transport: f.transport, Timeout: f.cfg.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > f.cfg.MaxRedirects {
				return errors.New("too many redirects")
			}
			return nil
		}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ru.String(), nil)
	if err != nil {
		return disallow
	}
	req.Header.Set("User-Agent", f.cfg.userAgentHeader())
	resp, err := client.Do(req)
	if err != nil {
		return disallow
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxRobotsBytes))
	if err != nil {
		return disallow
	}
	data, err := robotstxt.FromStatusAndBytes(resp.StatusCode, body)
	if err != nil {
		return disallow
	}
	return data
}

// hostLimiter keeps at most PerHost requests in flight to a host, and
// starts them at least a delay apart.
type hostLimiter struct {
	perHost int
	mu      sync.Mutex
	hosts   map[string]*hostState
}

type hostState struct {
	slots chan struct{}
	next  time.Time // when the next request may start
	users int
}

// wait blocks until a request to host may start; release ends it.
func (l *hostLimiter) wait(ctx context.Context, host string, delay time.Duration) (release func(), err error) {
	l.mu.Lock()
	h := l.hosts[host]
	if h == nil {
		h = &hostState{slots: make(chan struct{}, l.perHost)}
		l.hosts[host] = h
	}
	h.users++
	l.mu.Unlock()
	done := func() {
		l.mu.Lock()
		if h.users--; h.users == 0 {
			delete(l.hosts, host)
		}
		l.mu.Unlock()
	}
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		done()
		return nil, ctx.Err()
	}
	l.mu.Lock()
	start := time.Now()
	if h.next.After(start) {
		start = h.next
	}
	h.next = start.Add(delay)
	l.mu.Unlock()
	if d := time.Until(start); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			<-h.slots
			done()
			return nil, ctx.Err()
		}
	}
	return func() { <-h.slots; done() }, nil
}

// gunzipped is b, gunzipped when it is gzip (a sitemap.xml.gz), at most
// limit bytes.
func gunzipped(b []byte, limit int64) ([]byte, error) {
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		return b, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, failf("bad gzip: %v", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, limit+1))
	if err != nil {
		return nil, failf("bad gzip: %v", err)
	}
	if int64(len(out)) > limit {
		return nil, failf("larger than %d bytes unzipped", limit)
	}
	return out, nil
}
