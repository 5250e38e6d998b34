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
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
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
	if o.build {
		if err := os.MkdirAll(filepath.Dir(o.bin), 0o755); err != nil {
			return err
		}
		cmd := exec.Command("go", "build", "-o", o.bin, "./cmd/ragd")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build ragd: %w", err)
		}
	}
	base := os.Getenv("DATABASE_URL")
	if base == "" {
		out, err := exec.Command("scripts/postgres-up.sh").Output()
		if err != nil {
			return fmt.Errorf("scripts/postgres-up.sh: %w", err)
		}
		base = strings.TrimSpace(string(out))
	}
	dbURL, drop, err := freshDatabase(ctx, base)
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
	logPath := filepath.Join(tmp, "ragd.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(o.bin, "serve")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "RAGD_ADDR="+o.addr, "RAGD_DATA_DIR="+filepath.Join(tmp, "data"),
		"RAGD_ADMIN_TOKEN="+token, "RAGD_LOG_FORMAT=json", "RAGD_LOG_LEVEL=warn")
	if o.workers > 0 {
		cmd.Env = append(cmd.Env, "RAGD_WORKERS="+strconv.Itoa(o.workers))
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start ragd: %w", err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
		}
	}()
	srv := "http://localhost" + o.addr
	if err := waitHealthy(srv, 60*time.Second); err != nil {
		return fmt.Errorf("%w (log: %s)", err, tail(logPath))
	}
	c := &client{base: srv, token: token}
	var tenant struct{ ID string }
	if err := c.json("POST", "/v1/tenants", map[string]any{"name": "Small", "slug": "small"}, &tenant); err != nil {
		return err
	}
	var key struct{ Key string }
	if err := c.json("POST", "/v1/tenants/"+tenant.ID+"/api-keys", map[string]any{"name": "small"}, &key); err != nil {
		return err
	}
	c.token = key.Key

	// Single uploads on an idle server: 202 to ready on the events stream.
	var lat []time.Duration
	for i := range o.single {
		d, err := c.timeToReady(texts[o.docs+i])
		if err != nil {
			return fmt.Errorf("single upload: %w (log: %s)", err, tail(logPath))
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
				if err := c.json("POST", "/v1/documents?duplicate=allow", map[string]any{"text": texts[i], "title": fmt.Sprintf("doc %d", i)}, &d); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	uploaded := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("upload: %w (log: %s)", err, tail(logPath))
	}
	var usage struct {
		Documents map[string]int `json:"documents_by_status"`
	}
	deadline := time.Now().Add(30 * time.Minute)
	for {
		var u map[string]any
		if err := c.json("GET", "/v1/usage", nil, &u); err != nil {
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
	fmt.Printf("machine: %d CPUs (GOMAXPROCS), server workers %s\n", runtime.NumCPU(), cmpOr(strconv.Itoa(o.workers), "default"))
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
func (c *client) timeToReady(text string) (time.Duration, error) {
	var d struct{ ID string }
	if err := c.json("POST", "/v1/documents?duplicate=allow", map[string]any{"text": text}, &d); err != nil {
		return 0, err
	}
	accepted := time.Now()
	req, _ := http.NewRequest("GET", c.base+"/v1/documents/"+d.ID+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
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

func freshDatabase(ctx context.Context, base string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, fmt.Errorf("connect to postgres: %w", err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "ragd_smalldocs_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("create database: %w", err)
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() {
		c, err := pgx.Connect(ctx, base)
		if err == nil {
			defer c.Close(ctx)
			_, err = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "smalldocs: drop database %s: %v\n", name, err)
		}
	}
	return u.String(), drop, nil
}

func cmpOr(s, def string) string {
	if s == "" || s == "0" {
		return def
	}
	return s
}

func waitHealthy(base string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("ragd did not become healthy")
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

type client struct {
	base, token string
}

func (c *client) json(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return json.Unmarshal(b, out)
}
