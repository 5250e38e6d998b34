// Command smalldocs measures ingestion of many short documents: it starts
// a real `ragd serve` (local embedder, embedded store) on a fresh
// database, has N clients upload short texts (JSON text uploads, as a
// platform syncing a knowledge base would), and reports how long until
// every document is ready; then it uploads single documents one at a time
// and reports the time from each 202 to ready, as seen on the document's
// events stream.
//
//	go run ./scripts/smalldocs                          # 5,000 texts, 8 clients, 20 single uploads
//	go run ./scripts/smalldocs -docs 1000 -clients 4
//
// The texts are real: paragraphs of the Go distribution's own
// documentation comments (GOROOT/src), 200 to 1,500 bytes each. It
// builds ./cmd/ragd into -bin first unless -build=false, and takes the
// Postgres server from DATABASE_URL or scripts/postgres-up.sh.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ragd/ragd/scripts/internal/harness"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "smalldocs:", err)
		os.Exit(1)
	}
}

type options struct {
	bin, addr             string
	build                 bool
	docs, clients, single int
	workers               int
}

func run() error {
	var o options
	flag.StringVar(&o.bin, "bin", "/tmp/ragd-smalldocs/ragd", "the ragd binary")
	flag.BoolVar(&o.build, "build", true, "build ./cmd/ragd into -bin first")
	flag.StringVar(&o.addr, "addr", ":18091", "RAGD_ADDR for the server")
	flag.IntVar(&o.docs, "docs", 5000, "short documents in the bulk run")
	flag.IntVar(&o.clients, "clients", 8, "concurrent uploading clients")
	flag.IntVar(&o.single, "single", 20, "single uploads timed from 202 to ready")
	flag.IntVar(&o.workers, "workers", 0, "RAGD_WORKERS (0: the server's default)")
	flag.Parse()
	ctx := context.Background()

	texts, err := corpus(o.docs + o.single)
	if err != nil {
		return err
	}
	dbURL, drop, err := harness.Prepare(ctx, "smalldocs", o.bin, o.build)
	if err != nil {
		return err
	}
	defer drop()

	tmp, err := os.MkdirTemp("", "smalldocs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	const token = "smalldocs-admin-token-0123456789"
	env := []string{"RAGD_LOG_LEVEL=warn"}
	if o.workers > 0 {
		env = append(env, "RAGD_WORKERS="+strconv.Itoa(o.workers))
	}
	srv, err := harness.Start(harness.Config{Bin: o.bin, Addr: o.addr, Dir: tmp, DatabaseURL: dbURL, AdminToken: token, Env: env})
	if err != nil {
		return err
	}
	defer srv.Stop()
	c := &harness.Client{Base: srv.URL, Token: token}
	if err := c.UseNewTenant("Small", "small"); err != nil {
		return err
	}

	// Single uploads on an idle server: 202 to ready on the events stream.
	var lat []time.Duration
	for i := range o.single {
		d, err := timeToReady(c, texts[o.docs+i])
		if err != nil {
			return fmt.Errorf("single upload: %w (log: %s)", err, srv.Tail())
		}
		lat = append(lat, d)
	}

	// Bulk: N clients, then wait until none is queued or processing.
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, o.clients)
	for w := range o.clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= o.docs {
					return
				}
				var d struct{ ID string }
				if err := c.JSON("POST", "/v1/documents?duplicate=allow", map[string]any{"text": texts[i], "title": fmt.Sprintf("doc %d", i)}, &d); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	uploaded := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("upload: %w (log: %s)", err, srv.Tail())
	}
	var usage struct {
		Documents map[string]int `json:"documents_by_status"`
	}
	deadline := time.Now().Add(30 * time.Minute)
	for {
		var u map[string]any
		if err := c.JSON("GET", "/v1/usage", nil, &u); err != nil {
			return err
		}
		b, _ := json.Marshal(u)
		usage.Documents = nil // Unmarshal would merge into the last poll's map
		_ = json.Unmarshal(b, &usage)
		if usage.Documents["queued"]+usage.Documents["processing"] == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	total := time.Since(start)

	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	workers := "default"
	if o.workers != 0 {
		workers = strconv.Itoa(o.workers)
	}
	fmt.Printf("machine: %d CPUs (GOMAXPROCS), server workers %s\n", runtime.NumCPU(), workers)
	if len(lat) > 0 {
		fmt.Printf("single upload, 202 to ready (events stream), %d uploads: p50 %s, p90 %s, max %s\n", len(lat),
			pct(0.5).Round(time.Millisecond), pct(0.9).Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	}
	fmt.Printf("bulk: %d short texts by %d clients: uploaded in %s (%.0f/s), all finished in %s (%.0f documents/s): %v\n",
		o.docs, o.clients, uploaded.Round(time.Millisecond), float64(o.docs)/uploaded.Seconds(),
		total.Round(time.Millisecond), float64(o.docs)/total.Seconds(), usage.Documents)
	return nil
}

// corpus returns n texts: paragraphs of Go's documentation comments.
func corpus(n int) ([]string, error) {
	root := filepath.Join(runtime.GOROOT(), "src")
	var files []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") && !strings.Contains(p, "testdata") {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	var out []string
	seen := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var para strings.Builder
		flush := func() {
			t := strings.TrimSpace(para.String())
			para.Reset()
			if len(t) >= 200 && len(t) <= 1500 && !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if rest, ok := strings.CutPrefix(line, "//"); ok && !strings.HasPrefix(rest, "go:") {
				para.WriteString(strings.TrimSpace(rest) + "\n")
				continue
			}
			flush()
		}
		flush()
		if len(out) >= n {
			return out[:n], nil
		}
	}
	return nil, fmt.Errorf("only %d paragraphs in %s, want %d", len(out), root, n)
}

// timeToReady uploads text and follows its events until ready: the time
// from the 202 to the ready event.
func timeToReady(c *harness.Client, text string) (time.Duration, error) {
	var d struct{ ID string }
	if err := c.JSON("POST", "/v1/documents?duplicate=allow", map[string]any{"text": text}, &d); err != nil {
		return 0, err
	}
	accepted := time.Now()
	req, _ := c.NewRequest("GET", "/v1/documents/"+d.ID+"/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			var ev struct{ Status string }
			if json.Unmarshal([]byte(data), &ev) == nil && (ev.Status == "ready" || ev.Status == "failed") {
				if ev.Status == "failed" {
					return 0, fmt.Errorf("document %s failed: %s", d.ID, data)
				}
				return time.Since(accepted), nil
			}
		}
	}
	return 0, fmt.Errorf("events of %s ended before ready: %v", d.ID, sc.Err())
}
