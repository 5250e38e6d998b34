package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
)

// uploadItem is one file and what became of it.
type uploadItem struct {
	path string
	size int64
	doc  document
	err  error
}

// uploadOptions are upload's flags.
type uploadOptions struct {
	include, exclude, tags []string
	concurrency            int
	noWait, duplicate      bool
	// passwordEnv names the variable holding the password that opens
	// protected PDFs, so that it stays off the command line.
	passwordEnv string
	// noOCR and ocrLanguages are every document's OCR settings.
	noOCR        bool
	ocrLanguages string
}

// fileFields are the form fields sent with each file.
type fileFields struct {
	tags     []string
	password string // with PDFs only; "" for none
	noOCR    bool
	ocrLangs string
}

func (e *env) uploadCommand() *cobra.Command {
	var o uploadOptions
	cmd := &cobra.Command{
		Use:   "upload PATH...",
		Short: "upload files and folders; waits until each is ready or failed",
		Long: `upload sends files, and folders recursively (hidden files and folders
skipped), several at a time, then follows each document until it is ready
or failed. On a terminal it shows a bar for the bytes sent and one for the
documents processed, otherwise a line per file. It ends with a table of
the files that failed and why, and exits 1 if any did.`,
		Args: minArgs(1),
		RunE: e.action(func(ctx context.Context, _ *cobra.Command, args []string) error {
			return e.upload(ctx, args, o)
		}),
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.include, "include", nil, "only files whose name matches this glob (repeatable)")
	f.StringArrayVar(&o.exclude, "exclude", nil, "skip files whose name matches this glob (repeatable)")
	f.StringArrayVar(&o.tags, "tag", nil, "tag every document (repeatable)")
	f.IntVar(&o.concurrency, "concurrency", 4, "files sent at once (1 to 64)")
	f.BoolVar(&o.noWait, "no-wait", false, "do not wait for the documents to be processed")
	f.BoolVar(&o.duplicate, "duplicate", false, "store files the tenant already has again")
	f.StringVar(&o.passwordEnv, "password-env", "", "open protected PDFs with the password in this environment variable (kept off the command line)")
	f.BoolVar(&o.noOCR, "no-ocr", false, "do not read scanned pages by OCR (images cannot then be uploaded)")
	f.StringVar(&o.ocrLanguages, "ocr-languages", "", "tesseract languages for scans and images, '+'-joined (eng+deu); default: the server's")
	return cmd
}

func (e *env) upload(ctx context.Context, paths []string, o uploadOptions) error {
	if o.concurrency < 1 || o.concurrency > 64 {
		return usageErr("--concurrency must be between 1 and 64")
	}
	for _, g := range append(o.include, o.exclude...) {
		if _, err := filepath.Match(g, ""); err != nil {
			return usageErr("bad glob %q", g)
		}
	}
	var password string
	if o.passwordEnv != "" {
		if password = e.getenv(o.passwordEnv); password == "" {
			return usageErr("--password-env: %s is not set or empty", o.passwordEnv)
		}
	}
	items, err := collect(paths, o.include, o.exclude)
	if err != nil {
		return err
	}
	if len(items) == 0 {
		return usageErr("no files to upload")
	}
	var total int64
	for _, it := range items {
		total += it.size
	}

	// Send: one bar for bytes.
	sent := e.bar(total, "uploading", true)
	query := ""
	if o.duplicate {
		query = "?duplicate=allow"
	}
	work := make(chan *uploadItem)
	var wg sync.WaitGroup
	for range o.concurrency {
		wg.Go(func() {
			for it := range work {
				it.doc, it.err = e.sendFile(ctx, it.path, query, fileFields{tags: o.tags, password: password, noOCR: o.noOCR, ocrLangs: o.ocrLanguages}, sent)
				if !e.terminal {
					if it.err != nil {
						fmt.Fprintf(e.errOut, "upload failed: %s: %v\n", it.path, it.err)
					} else {
						fmt.Fprintf(e.errOut, "uploaded %s -> %s (%s)\n", it.path, it.doc.ID, it.doc.Status)
					}
				}
			}
		})
	}
	for _, it := range items {
		work <- it
	}
	close(work)
	wg.Wait()
	sent.Finish()

	// Wait: one bar for documents finished, fed by each document's events.
	if !o.noWait {
		done := e.bar(int64(len(items)), "processing", false)
		waiting := newInFlight(done)
		sem := make(chan struct{}, 16)
		for _, it := range items {
			if it.err != nil {
				done.Add(1)
				continue
			}
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				waiting.set(it.path, it.doc)
				it.doc, it.err = e.follow(ctx, it.doc, func(d document) { waiting.set(it.path, d) })
				waiting.done(it.path)
				done.Add(1)
				if !e.terminal && it.err == nil {
					fmt.Fprintf(e.errOut, "%s %s\n", it.doc.Status, it.path)
				}
			}()
		}
		wg.Wait()
		done.Finish()
	}
	return e.summary(items, o.noWait)
}

// bar is a progress bar on a terminal, and a silent one otherwise.
func (e *env) bar(max int64, what string, bytes bool) *progressbar.ProgressBar {
	if !e.terminal {
		return progressbar.DefaultSilent(max)
	}
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(e.errOut), progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(), progressbar.OptionOnCompletion(func() { fmt.Fprintln(e.errOut) }),
		progressbar.OptionSetWidth(30), progressbar.OptionThrottle(100_000_000),
	}
	if bytes {
		opts = append(opts, progressbar.OptionShowBytes(true))
	}
	return progressbar.NewOptions64(max, opts...)
}

// collect walks the paths: files as given, folders recursively, hidden
// files and folders skipped, include/exclude globs matched on file names.
func collect(paths, include, exclude []string) ([]*uploadItem, error) {
	var out []*uploadItem
	keep := func(name string) bool {
		for _, g := range exclude {
			if ok, _ := filepath.Match(g, name); ok {
				return false
			}
		}
		if len(include) == 0 {
			return true
		}
		for _, g := range include {
			if ok, _ := filepath.Match(g, name); ok {
				return true
			}
		}
		return false
	}
	for _, root := range paths {
		st, err := os.Stat(root)
		if err != nil {
			return nil, usageErr("%v", err)
		}
		if !st.IsDir() {
			out = append(out, &uploadItem{path: root, size: st.Size()})
			continue
		}
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p != root && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.Type().IsRegular() && keep(d.Name()) {
				info, err := d.Info()
				if err != nil {
					return err
				}
				out = append(out, &uploadItem{path: p, size: info.Size()})
			}
			return nil
		})
		if err != nil {
			return nil, usageErr("%v", err)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out, nil
}

// sendFile uploads the file at path with its fields, counting bytes on
// bar; when ragd asks to come back later (its upload budget is full, or
// the tenant's share of it), the file is sent again after the wait, up to
// maxWaits times.
func (e *env) sendFile(ctx context.Context, path, query string, fields fileFields, bar *progressbar.ProgressBar) (document, error) {
	for tries := 1; ; tries++ {
		d, err := e.sendFileOnce(ctx, path, query, fields, bar)
		var w *waitError
		if !errors.As(err, &w) || tries > maxWaits {
			return d, err
		}
		if err := e.c.wait(ctx, w); err != nil {
			return d, err
		}
		if bar != nil {
			bar.Reset()
		}
	}
}

func (e *env) sendFileOnce(ctx context.Context, path, query string, fields fileFields, bar *progressbar.ProgressBar) (document, error) {
	f, err := os.Open(path)
	if err != nil {
		return document{}, err
	}
	defer f.Close()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		part, err := mw.CreateFormFile("file", filepath.Base(path))
		if err == nil {
			_, err = io.Copy(part, io.TeeReader(f, bar))
		}
		var kv []string
		for _, t := range fields.tags {
			kv = append(kv, "tags", t)
		}
		if fields.password != "" && strings.EqualFold(filepath.Ext(path), ".pdf") {
			kv = append(kv, "password", fields.password)
		}
		if fields.noOCR {
			kv = append(kv, "ocr", "false")
		}
		if fields.ocrLangs != "" {
			kv = append(kv, "ocr_languages", fields.ocrLangs)
		}
		for i := 0; i+1 < len(kv) && err == nil; i += 2 {
			err = mw.WriteField(kv[i], kv[i+1])
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := e.c.request(ctx, "POST", "/v1/documents"+query, pr, mw.FormDataContentType())
	if err != nil {
		return document{}, err
	}
	var d document
	err = e.c.send(req, &d)
	return d, err
}

// follow reads the document's events until it is ready or failed,
// telling seen (when not nil) of each state it passes through.
func (e *env) follow(ctx context.Context, d document, seen ...func(document)) (document, error) {
	if d.Status == "ready" || d.Status == "failed" {
		return d, nil
	}
	req, err := e.c.request(ctx, "GET", "/v1/documents/"+url.PathEscape(d.ID)+"/events", nil, "")
	if err != nil {
		return d, err
	}
	resp, err := e.c.http.Do(req)
	if err != nil {
		return d, unreachable(e.c.base, err)
	}
	defer resp.Body.Close()
	if err := decodeAnswer(resp, nil); err != nil {
		return d, err
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var next document
		if json.Unmarshal([]byte(line), &next) == nil && next.ID != "" {
			d = next
			for _, f := range seen {
				f(d)
			}
			if d.Status == "ready" || d.Status == "failed" {
				return d, nil
			}
		}
	}
	if d.Status != "ready" && d.Status != "failed" {
		return d, fmt.Errorf("the event stream ended while the document was %s", d.Status)
	}
	return d, nil
}

// summary prints what failed and says whether the whole upload succeeded.
func (e *env) summary(items []*uploadItem, noWait bool) error {
	var failed []*uploadItem
	ready := 0
	for _, it := range items {
		switch {
		case it.err != nil, it.doc.Status == "failed":
			failed = append(failed, it)
		case it.doc.Status == "ready":
			ready++
		}
	}
	if e.json {
		type row struct {
			Path, ID, Status, Code, Message string
		}
		var rows []row
		for _, it := range items {
			r := row{Path: it.path, ID: it.doc.ID, Status: it.doc.Status}
			if it.err != nil {
				r.Status, r.Message = "error", it.err.Error()
			} else if it.doc.Error != nil {
				r.Code, r.Message = it.doc.Error.Code, it.doc.Error.Message
			}
			rows = append(rows, r)
		}
		e.printJSON(rows)
	} else {
		if noWait {
			fmt.Fprintf(e.out, "%d uploaded, %d not\n", len(items)-len(failed), len(failed))
		} else {
			fmt.Fprintf(e.out, "%d ready, %d failed\n", ready, len(failed))
		}
		if len(failed) > 0 {
			tw := e.table()
			fmt.Fprintln(tw, "FILE\tCODE\tMESSAGE")
			for _, it := range failed {
				code, msg := "error", ""
				if it.err != nil {
					msg = strings.SplitN(it.err.Error(), "\n", 2)[0]
				} else if it.doc.Error != nil {
					code, msg = it.doc.Error.Code, it.doc.Error.Message
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", it.path, code, msg)
			}
			tw.Flush()
		}
	}
	if len(failed) > 0 {
		return &exitError{exitFailed, fmt.Sprintf("%d of %d files failed", len(failed), len(items))}
	}
	return nil
}

// inFlight names, in the processing bar's description, the files still
// being processed and the stage of the one waited on longest: "processing
// report.pdf (embedding) +2" rather than a bar that sits at 50% with no
// sign of what it waits for.
type inFlight struct {
	mu    sync.Mutex
	bar   *progressbar.ProgressBar
	order []string          // paths, oldest first
	stage map[string]string // path: its document's status or stage
}

func newInFlight(bar *progressbar.ProgressBar) *inFlight {
	return &inFlight{bar: bar, stage: map[string]string{}}
}

func (f *inFlight) set(path string, d document) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.stage[path]; !ok {
		f.order = append(f.order, path)
	}
	f.stage[path] = cmp.Or(d.Stage, d.Status)
	f.describe()
}

func (f *inFlight) done(path string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.stage, path)
	f.order = slices.DeleteFunc(f.order, func(p string) bool { return p == path })
	f.describe()
}

// describe sets the bar's description; f.mu is held.
func (f *inFlight) describe() { f.bar.Describe(f.text()) }

// description is what the bar says now.
func (f *inFlight) description() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.text()
}

// text is the description; f.mu is held.
func (f *inFlight) text() string {
	if len(f.order) == 0 {
		return "processing"
	}
	first := f.order[0]
	d := fmt.Sprintf("processing %s (%s)", filepath.Base(first), f.stage[first])
	if n := len(f.order) - 1; n > 0 {
		d += fmt.Sprintf(" +%d", n)
	}
	return d
}
