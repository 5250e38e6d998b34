// Command uploadrss measures how much memory ragd needs for concurrent
// large uploads. It starts a real `ragd serve` on a fresh database, sends N
// concurrent uploads of a generated file each, samples the server's
// VmRSS from /proc/<pid>/status while they run (and, with workers, until
// every document is ready or failed), and prints the peak with VmHWM.
//
//	go run ./scripts/uploadrss                      # 8 × 49 MiB PDFs, workers off
//	go run ./scripts/uploadrss -workers 2           # the same with the worker processing them
//	go run ./scripts/uploadrss -bin /tmp/old-ragd -build=false   # measure another build
//
// It builds ./cmd/ragd into -bin first unless -build=false, and takes the
// Postgres server from DATABASE_URL or scripts/postgres-up.sh. Linux only
// (/proc). A 503 from the upload budget is retried after its Retry-After,
// as a client should; the retries are counted in the output.
package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ragd/ragd/scripts/internal/harness"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "uploadrss:", err)
		os.Exit(1)
	}
}

type options struct {
	bin, addr, kind, budget, dbURL string
	build                          bool
	n, workers                     int
	size                           int64
}

func run() error {
	var o options
	flag.StringVar(&o.bin, "bin", "/tmp/ragd-uploads/ragd", "the ragd binary")
	flag.BoolVar(&o.build, "build", true, "build ./cmd/ragd into -bin first")
	flag.StringVar(&o.addr, "addr", ":18090", "RAGD_ADDR for the server")
	flag.StringVar(&o.kind, "kind", "pdf", "generated file: pdf (a page of text and a large image) or text")
	flag.StringVar(&o.budget, "budget", "", "RAGD_MAX_INFLIGHT_UPLOAD_BYTES (empty: the server's default)")
	flag.IntVar(&o.n, "n", 8, "concurrent uploads")
	flag.IntVar(&o.workers, "workers", 0, "RAGD_WORKERS")
	sizeMiB := flag.Float64("size-mib", 49, "size of each file in MiB")
	flag.Parse()
	o.size = int64(*sizeMiB * (1 << 20))
	if o.kind != "pdf" && o.kind != "text" {
		return fmt.Errorf("-kind must be pdf or text")
	}
	ctx := context.Background()

	dbURL, drop, err := harness.Prepare(ctx, "uploadrss", o.bin, o.build)
	if err != nil {
		return err
	}
	defer drop()
	o.dbURL = dbURL

	tmp, err := os.MkdirTemp("", "uploadrss-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	files := make([]string, o.n)
	for i := range files {
		files[i] = filepath.Join(tmp, fmt.Sprintf("upload-%d.%s", i, map[string]string{"pdf": "pdf", "text": "txt"}[o.kind]))
		if err := writeFile(files[i], o.kind, o.size, uint64(i)); err != nil {
			return err
		}
	}
	return measure(ctx, o, tmp, files)
}

func measure(ctx context.Context, o options, tmp string, files []string) error {
	const token = "uploadrss-admin-token-0123456789"
	env := []string{"RAGD_WORKERS=" + strconv.Itoa(o.workers), "RAGD_MAX_UPLOAD_BYTES=50MiB"}
	if o.budget != "" {
		env = append(env, "RAGD_MAX_INFLIGHT_UPLOAD_BYTES="+o.budget)
	}
	srv, err := harness.Start(harness.Config{Bin: o.bin, Addr: o.addr, Dir: tmp, DatabaseURL: o.dbURL, AdminToken: token, Env: env})
	if err != nil {
		return err
	}
	defer srv.Stop()
	pid := srv.Pid()

	c := &harness.Client{Base: srv.URL, Token: token}
	if err := c.UseNewTenant("RSS", "rss"); err != nil {
		return err
	}

	idle, _ := procStatus(pid, "VmRSS")
	var peak atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			if v, err := procStatus(pid, "VmRSS"); err == nil && v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()

	start := time.Now()
	var retries atomic.Int64
	ids := make([]string, len(files))
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	for i, f := range files {
		wg.Go(func() { ids[i], errs[i] = upload(c, f, &retries) })
	}
	wg.Wait()
	uploaded := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		close(stop)
		return fmt.Errorf("upload: %w (log: %s)", err, srv.Tail())
	}
	statuses := map[string]int{}
	if o.workers > 0 {
		deadline := time.Now().Add(15 * time.Minute)
		for _, id := range ids {
			for {
				var d struct{ Status string }
				if err := c.JSON("GET", "/v1/documents/"+id, nil, &d); err != nil {
					close(stop)
					return err
				}
				if d.Status == "ready" || d.Status == "failed" || time.Now().After(deadline) {
					statuses[d.Status]++
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
	}
	total := time.Since(start)
	close(stop)
	<-sampled
	hwm, err := procStatus(pid, "VmHWM")
	if err != nil {
		return err
	}
	mib := func(kib int64) string { return fmt.Sprintf("%.0f MiB", float64(kib)/1024) }
	fmt.Printf("uploads: %d × %.1f MiB %s, workers %d, budget %s\n", len(files), float64(o.size)/(1<<20), o.kind, o.workers, cmp.Or(o.budget, "default"))
	fmt.Printf("idle RSS before uploads: %s\n", mib(idle))
	fmt.Printf("peak RSS (sampled VmRSS every 10 ms): %s\n", mib(peak.Load()))
	fmt.Printf("VmHWM (kernel's peak RSS of the process): %s\n", mib(hwm))
	fmt.Printf("(peak - idle) / uploads: %s\n", mib((peak.Load()-idle)/int64(len(files))))
	fmt.Printf("uploads took %s; 503 retries: %d\n", uploaded.Round(time.Millisecond), retries.Load())
	if o.workers > 0 {
		fmt.Printf("all documents finished after %s: %v\n", total.Round(time.Millisecond), statuses)
	}
	return nil
}

// procStatus reads a kB field of /proc/<pid>/status.
func procStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// upload sends the file as multipart with a Content-Length, as curl -F
// does, retrying after a 503's Retry-After.
func upload(c *harness.Client, path string, retries *atomic.Int64) (string, error) {
	for {
		f, err := os.Open(path)
		if err != nil {
			return "", err
		}
		st, _ := f.Stat()
		var head, foot bytes.Buffer
		mw := multipart.NewWriter(&head)
		if _, err := mw.CreateFormFile("file", filepath.Base(path)); err != nil {
			return "", err
		}
		prefix := head.Len()
		mw.Close()
		foot.Write(head.Bytes()[prefix:])
		head.Truncate(prefix)
		req, err := c.NewRequest("POST", "/v1/documents?duplicate=allow", io.MultiReader(&head, f, &foot))
		if err != nil {
			return "", err
		}
		req.ContentLength = int64(head.Len()) + st.Size() + int64(foot.Len())
		req.Header.Set("Content-Type", mw.FormDataContentType())
		resp, err := http.DefaultClient.Do(req)
		f.Close()
		if err != nil {
			return "", err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			retries.Add(1)
			secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			time.Sleep(time.Duration(max(secs, 1)) * time.Second)
			continue
		}
		if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("upload %s: %d %s", path, resp.StatusCode, b)
		}
		var d struct{ ID string }
		if err := json.Unmarshal(b, &d); err != nil {
			return "", err
		}
		return d.ID, nil
	}
}

// writeFile writes a file of about size bytes: a PDF with a page of text
// and an uncompressed image that takes the rest (a scan's shape), or text
// of pseudo-random words in paragraphs. seed makes each file different.
func writeFile(path, kind string, size int64, seed uint64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	rng := mrand.New(mrand.NewPCG(seed, 0x9e3779b97f4a7c15))
	if kind == "text" {
		words := strings.Fields("the of and to in ingest document tenant search vector chunk token memory upload stream part budget server worker extract page heading paragraph retrieval embedding postgres river queue")
		var b bytes.Buffer
		for n := int64(0); n < size; {
			b.Reset()
			for range 60 + rng.IntN(60) {
				b.WriteString(words[rng.IntN(len(words))])
				b.WriteByte(' ')
			}
			b.WriteString(".\n\n")
			if n+int64(b.Len()) > size {
				b.Truncate(int(size - n))
			}
			m, err := f.Write(b.Bytes())
			if err != nil {
				return err
			}
			n += int64(m)
		}
		return f.Close()
	}
	// A one-page PDF: the text, then a square RGB image filling the rest.
	side := int(math.Sqrt(float64(size-4096) / 3))
	img := int64(side * side * 3)
	text := fmt.Sprintf("BT /F1 12 Tf 72 720 Td (Upload memory test document %d: a page of text above a large image.) Tj ET\nq 400 0 0 400 100 200 cm /Im1 Do Q\n", seed)
	var offs []int64
	var pos int64
	w := func(s string) error {
		n, err := io.WriteString(f, s)
		pos += int64(n)
		return err
	}
	obj := func(s string) error { offs = append(offs, pos); return w(s) }
	steps := []func() error{
		func() error { return w("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n") },
		func() error { return obj("1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n") },
		func() error { return obj("2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n") },
		func() error {
			return obj("3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> /XObject << /Im1 6 0 R >> >> >>\nendobj\n")
		},
		func() error {
			return obj(fmt.Sprintf("4 0 obj\n<< /Length %d >>\nstream\n%sendstream\nendobj\n", len(text), text))
		},
		func() error {
			return obj("5 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>\nendobj\n")
		},
		func() error {
			if err := obj(fmt.Sprintf("6 0 obj\n<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB /BitsPerComponent 8 /Length %d >>\nstream\n", side, side, img)); err != nil {
				return err
			}
			buf := make([]byte, 1<<20)
			for left := img; left > 0; {
				n := min(left, int64(len(buf)))
				for i := range buf[:n] {
					buf[i] = byte(rng.Uint32())
				}
				if _, err := f.Write(buf[:n]); err != nil {
					return err
				}
				pos += n
				left -= n
			}
			return w("\nendstream\nendobj\n")
		},
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	xref := pos
	var b strings.Builder
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, xref)
	if err := w(b.String()); err != nil {
		return err
	}
	return f.Close()
}
