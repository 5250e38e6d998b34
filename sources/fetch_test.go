package sources

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestRobots: robots.txt groups are matched against the user agent,
// Crawl-delay is honoured up to MaxCrawlDelay, a robots.txt answering 404
// allows everything and one answering 500 nothing.
func TestRobots(t *testing.T) {
	t.Parallel()
	var status atomic.Int32
	status.Store(200)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/robots.txt" {
			return
		}
		w.WriteHeader(int(status.Load()))
		fmt.Fprint(w, "User-agent: ragd\nDisallow: /no/\nCrawl-delay: 2\n\nUser-agent: mybot\nCrawl-delay: 300\n\nUser-agent: *\nDisallow: /\n")
	}))
	defer srv.Close()
	u := func(p string) *url.URL { x, _ := url.Parse(srv.URL + p); return x }
	f := newFetcher(Config{AllowPrivate: true}.withDefaults())
	ctx := context.Background()
	if !f.allowed(ctx, "t1", u("/yes")) || f.allowed(ctx, "t1", u("/no/x")) {
		t.Error("the ragd group's rules were not applied")
	}
	if d := f.delay(ctx, "t1", u("/")); d != 2*time.Second {
		t.Errorf("Crawl-delay 2: delay %v", d)
	}
	other := newFetcher(Config{AllowPrivate: true, UserAgent: "mybot"}.withDefaults())
	if d := other.delay(ctx, "t1", u("/")); d != MaxCrawlDelay {
		t.Errorf("Crawl-delay 300: delay %v, want the cap %v", d, MaxCrawlDelay)
	}
	stranger := newFetcher(Config{AllowPrivate: true, UserAgent: "somebot"}.withDefaults())
	if stranger.allowed(ctx, "t1", u("/yes")) {
		t.Error("the * group disallows everything, yet /yes was allowed")
	}
	status.Store(404)
	if !newFetcher(Config{AllowPrivate: true, UserAgent: "somebot"}.withDefaults()).allowed(ctx, "t1", u("/anything")) {
		t.Error("robots.txt 404: not everything allowed")
	}
	status.Store(503)
	if newFetcher(Config{AllowPrivate: true}.withDefaults()).allowed(ctx, "t1", u("/yes")) {
		t.Error("robots.txt 503: something allowed")
	}
	// Kept an hour per tenant: the first fetcher still has the 200's rules.
	if !f.allowed(ctx, "t1", u("/yes")) {
		t.Error("the cached robots.txt was forgotten")
	}
}

// TestHostLimiter: at most PerHost requests in flight to a host, started
// at least the delay apart; other hosts do not wait.
func TestHostLimiter(t *testing.T) {
	t.Parallel()
	l := hostLimiter{perHost: 2, hosts: map[string]*hostState{}}
	var inFlight, most atomic.Int32
	var mu sync.Mutex
	var starts []time.Time
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			release, err := l.wait(context.Background(), "a.example", 20*time.Millisecond)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			starts = append(starts, time.Now())
			mu.Unlock()
			n := inFlight.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(30 * time.Millisecond)
			inFlight.Add(-1)
			release()
		}()
	}
	wg.Wait()
	if most.Load() > 2 {
		t.Errorf("%d requests in flight to one host, want at most 2", most.Load())
	}
	if first, last := starts[0], starts[len(starts)-1]; last.Sub(first) < 5*20*time.Millisecond-5*time.Millisecond {
		t.Errorf("6 starts spread over %v, want at least 5 delays of 20ms", last.Sub(first))
	}
	start := time.Now()
	release, _ := l.wait(context.Background(), "b.example", time.Hour)
	release()
	if time.Since(start) > 100*time.Millisecond || len(l.hosts) != 0 {
		t.Errorf("another host waited %v; %d hosts left in the map", time.Since(start), len(l.hosts))
	}
	// A wait for a host whose slots are taken ends when its context does.
	r1, _ := l.wait(context.Background(), "d.example", 0)
	r2, _ := l.wait(context.Background(), "d.example", 0)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := l.wait(ctx, "d.example", 0); err == nil {
		t.Error("a wait for a full host returned a slot")
	}
	r1()
	r2()
}

// TestFetchCaps: a fetch is refused for a private address unless
// allowed, bounded in size and time, and redirects are checked against
// the source's rules.
func TestFetchCaps(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(strings.Repeat("x", 2048))) })
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://other.invalid/x", http.StatusFound)
	})
	mux.HandleFunc("/excluded", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/private/x", http.StatusFound) })
	mux.HandleFunc("/sleep", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	src := Source{ID: uuid.New(), TenantID: uuid.New(), Type: TypeWebsite, URL: srv.URL + "/", Exclude: []string{"/private"}}
	ctx := context.Background()
	refusing := newFetcher(Config{}.withDefaults())
	if _, err := refusing.get(ctx, src, srv.URL+"/big", "", ""); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("a loopback fetch without AllowPrivate: %v", err)
	}
	f := newFetcher(Config{AllowPrivate: true, MaxBytes: 1024, Timeout: 300 * time.Millisecond, Delay: time.Millisecond}.withDefaults())
	for path, want := range map[string]string{"/big": "larger than 1024", "/away": "another site", "/excluded": "excluded by /private", "/sleep": "timed out"} {
		if _, err := f.get(ctx, src, srv.URL+path, "", ""); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", path, err, want)
		}
	}
}
