// Package sandbox runs extraction in child processes limited in memory,
// CPU and wall-clock time (see Pool), so that a hostile file costs one
// child, never the server. The child is the program itself, started
// again: programs that run a Pool call ServeIfChild first thing in main
// or TestMain.
package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/ragd/ragd/chunker"
	"github.com/ragd/ragd/extract"
)

// sandboxEnv marks a process as an extraction child; its value is
// "memory:cpu:parent": the memory limit in bytes, the per-document CPU
// limit in seconds and the server's pid. A program that runs a Pool
// calls ServeIfChild first thing in main.
const sandboxEnv = "RAGD_SANDBOX_CHILD"

// Pool runs the extractors in child processes: the same program
// started again (see ServeIfChild), which never sees the server's
// environment (database URL, API keys). Each child limits its own data
// segment to Limits.Memory before it reads a byte of a document; the
// Pool kills its process group when a document takes more than
// Limits.CPU of processor time or Limits.Timeout of wall-clock time, or
// when the caller gives up. The bytes go to the child's stdin and the
// result comes back on its stdout, size-bounded and checked. Go's fatal
// errors (out of memory, stack overflow) and parsers that never return
// then cost one child, never the server.
//
// Starting a child costs about half a second of CPU (package
// initialisation: go-trafilatura's date parser builds its tables), so a
// child that finished a document cleanly serves the next one: it is kept
// only when its parser returned, no goroutine of it is left, its heap is
// back to small, and it has served fewer than MaxUses documents. A child
// that failed, timed out, crashed or hit a limit is never reused.
//
// The zero Pool starts this program (os.Executable). It is safe for
// concurrent use; Close kills the idle children.
type Pool struct {
	// Path of the program to start; default os.Executable().
	Path string
	// Observe, when set, is told about every document a child extracted
	// or died on.
	Observe func(Run)
	// MaxChildren bounds the children extracting at once (0: no bound);
	// an extraction beyond it waits for one to finish, and a freed slot
	// goes to the waiting extraction whose owner (WithOwner) holds the
	// fewest. With Limits.Memory it bounds the memory extraction can take.
	MaxChildren int
	// MaxIdle children are kept warm between documents (default 2;
	// negative: none). Idle ones exit after IdleTimeout (default 2m).
	MaxIdle     int
	IdleTimeout time.Duration
	// MaxUses documents per child (default 10,000; 1: a new child for
	// every document). The checks before each reuse (no goroutine left,
	// live heap small, CPU budget left) are what keep a child fit; this
	// bounds what they cannot see.
	MaxUses int

	mu     sync.Mutex
	idle   []*sandboxChild
	closed bool
	slots  slotTable // see slots.go
}

// Run is what one child did with one document.
type Run struct {
	Type extract.Type
	// Outcome is "ok", "failed" (the parser refused the file with a code),
	// or, for a child that did not answer, "too_complex", "timeout" or
	// "extract_crashed"; "cancelled" when the caller gave up.
	Outcome string
	// Wall and CPU time the document took in the child, and the child's
	// peak resident memory while it worked on it.
	Wall, CPU time.Duration
	PeakRSS   int64
	// Attempt counts from 1: a crashed child is retried once, in a new one.
	Attempt int
	// Reused: the child had served documents before this one.
	Reused bool
	// PID of the child.
	PID int
}

// Opener opens a document's bytes; the sandbox may open them twice (a
// crashed child is retried once). size is the number of bytes to read.
type Opener func(ctx context.Context) (r io.ReadCloser, size int64, err error)

// BytesOpener opens data.
func BytesOpener(data []byte) Opener {
	return func(context.Context) (io.ReadCloser, int64, error) {
		return io.NopCloser(bytes.NewReader(data)), int64(len(data)), nil
	}
}

// sandboxRequest is the line the parent writes before a document's bytes.
type sandboxRequest struct {
	Type   extract.Type   `json:"type"`
	Size   int64          `json:"size"`
	Limits extract.Limits `json:"limits"`
	// Password opens a protected document, for this extraction only.
	Password string `json:"password,omitempty"`
}

// sandboxResult heads a child's answer; the text follows it.
type sandboxResult struct {
	Code      string             `json:"code,omitempty"`
	Message   string             `json:"message,omitempty"`
	Detail    string             `json:"detail,omitempty"` // for logs only
	Title     string             `json:"title,omitempty"`
	PageCount int                `json:"page_count,omitempty"`
	Sections  []chunker.Section  `json:"sections,omitempty"`
	Pages     []chunker.Page     `json:"pages,omitempty"`
	OCR       *extract.OCRReport `json:"ocr,omitempty"`
	TextLen   int                `json:"text_len"`
	// What the child measured of itself, and whether it may serve again.
	PeakRSS  int64 `json:"peak_rss"`
	CPUNanos int64 `json:"cpu_ns"`
	Reusable bool  `json:"reusable"`
}

// frameMagic starts every answer, so that anything else a broken child
// writes is recognised as garbage, not parsed.
const frameMagic = "RGX1"

// Extract extracts a document of type typ in a child process. Failures of
// the file are *Error: the parser's own codes, too_complex (a limit was
// hit), timeout, and extract_crashed (a child died twice). Other errors
// (ctx done, the program cannot be started) are not the file's fault.
func (s *Pool) Extract(ctx context.Context, typ extract.Type, open Opener, lim extract.Limits) (extract.Extracted, error) {
	return s.ExtractWithPassword(ctx, typ, open, "", lim)
}

// ExtractWithPassword is Extract for a document that may be protected
// with a password (see the package's ExtractWithPassword). The password
// goes to the child in its request, on its stdin, for this document only;
// it is not in any error or Run.
func (s *Pool) ExtractWithPassword(ctx context.Context, typ extract.Type, open Opener, password string, lim extract.Limits) (extract.Extracted, error) {
	lim = lim.WithDefaults()
	for attempt := 1; ; attempt++ {
		ext, run, err := s.extractOnce(ctx, typ, open, password, lim)
		run.Type, run.Attempt = typ, attempt
		if s.Observe != nil {
			s.Observe(run)
		}
		if e, ok := extract.AsError(err); ok && e.Code == extract.CodeExtractCrashed && attempt < 2 {
			continue // perhaps the machine, not the file: once more, in a new child
		}
		return ext, err
	}
}

// Close kills the idle children; children at work finish their document
// and are not kept.
func (s *Pool) Close() {
	s.mu.Lock()
	idle := s.idle
	s.idle, s.closed = nil, true
	s.mu.Unlock()
	for _, c := range idle {
		c.kill()
	}
}

func (s *Pool) maxIdle() int {
	switch {
	case s.MaxIdle < 0:
		return 0
	case s.MaxIdle == 0:
		return 2
	}
	return s.MaxIdle
}

// sandboxChild is one running child.
type sandboxChild struct {
	cmd    *exec.Cmd
	pid    int
	key    childKey
	stdin  *os.File
	stdout *bufio.Reader
	outF   *os.File
	stderr *headTail
	uses   int
	exited chan struct{} // closed when the child has been reaped
	idleAt time.Time
}

func (c *sandboxChild) kill() {
	_ = syscall.Kill(-c.pid, syscall.SIGKILL)
	<-c.exited
}

// childKey is what a child was started with: only documents with the
// same limits go to it.
type childKey struct {
	memory int64
	cpu    time.Duration
}

func keyOf(lim extract.Limits) childKey { return childKey{lim.Memory, lim.CPU} }

// acquire returns an idle child started with k, or a new one.
func (s *Pool) acquire(k childKey) (*sandboxChild, error) {
	s.mu.Lock()
	for i := len(s.idle) - 1; i >= 0; i-- {
		c := s.idle[i]
		if c.key != k {
			continue
		}
		s.idle = append(s.idle[:i], s.idle[i+1:]...)
		s.mu.Unlock()
		select {
		case <-c.exited: // died while idle: start another
			return s.start(k)
		default:
			return c, nil
		}
	}
	s.mu.Unlock()
	return s.start(k)
}

// release keeps c for the next document, or ends it.
func (s *Pool) release(c *sandboxChild) {
	maxUses := s.MaxUses
	if maxUses == 0 {
		maxUses = 10_000
	}
	s.mu.Lock()
	if s.closed || c.uses >= maxUses || len(s.idle) >= s.maxIdle() {
		s.mu.Unlock()
		c.kill()
		return
	}
	c.idleAt = time.Now()
	// Read under the lock: once c is idle another extraction may take it,
	// and its release writes idleAt again.
	at := c.idleAt
	s.idle = append(s.idle, c)
	s.mu.Unlock()
	timeout := s.IdleTimeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	time.AfterFunc(timeout, func() {
		s.mu.Lock()
		for i, ic := range s.idle {
			if ic == c && ic.idleAt.Equal(at) {
				s.idle = append(s.idle[:i], s.idle[i+1:]...)
				s.mu.Unlock()
				c.kill()
				return
			}
		}
		s.mu.Unlock()
	})
}

// start starts a child with the limits of k.
func (s *Pool) start(k childKey) (*sandboxChild, error) {
	prog := s.Path
	if prog == "" {
		var err error
		if prog, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("extraction sandbox: find this program: %w", err)
		}
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	cmd := exec.Command(prog)
	// Nothing of the server's environment reaches the parser: a child
	// that a file took over has no credentials to read.
	cmd.Env = []string{fmt.Sprintf("%s=%d:%d:%d", sandboxEnv, k.memory, max(1, int64(math.Ceil(k.cpu.Seconds()))), os.Getpid()),
		"GOTRACEBACK=single"}
	cmd.SysProcAttr = sandboxProcAttr()
	cmd.Stdin, cmd.Stdout = inR, outW
	stderr := &headTail{max: 8 << 10}
	cmd.Stderr = stderr
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("extraction sandbox: start child: %w", err)
	}
	c := &sandboxChild{cmd: cmd, pid: cmd.Process.Pid, key: k, stdin: inW,
		stdout: bufio.NewReaderSize(outR, 64<<10), outF: outR, stderr: stderr, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		inW.Close()
		outR.Close()
		close(c.exited)
	}()
	// Wait until it has initialised, so that its start is not counted in
	// the first document's CPU time and a child that cannot start is
	// known now.
	_ = outR.SetReadDeadline(time.Now().Add(childStartTimeout))
	var ready [len(readyMagic)]byte
	_, err = io.ReadFull(c.stdout, ready[:])
	_ = outR.SetReadDeadline(time.Time{})
	if err != nil || string(ready[:]) != readyMagic {
		c.kill()
		return nil, fmt.Errorf("extraction sandbox: child did not start: %v; stderr: %s", err, summarize(stderr.String()))
	}
	return c, nil
}

// readyMagic is what a child writes once it is ready for documents.
const readyMagic = "RGX0"

// childStartTimeout bounds a child's start (package initialisation).
const childStartTimeout = 2 * time.Minute

// extractOnce gives the document to one child.
func (s *Pool) extractOnce(ctx context.Context, typ extract.Type, open Opener, password string, lim extract.Limits) (extract.Extracted, Run, error) {
	run := Run{Outcome: "cancelled"}
	src, size, err := open(ctx)
	if err != nil {
		return extract.Extracted{}, run, fmt.Errorf("open document bytes: %w", err)
	}
	defer src.Close()
	ctx, stopExtraction := context.WithCancelCause(ctx)
	defer stopExtraction(nil)
	slot, err := s.take(ctx, stopExtraction)
	if err != nil {
		return extract.Extracted{}, run, err
	}
	defer s.give(slot)
	// Children are started with the configured limits (their lifetime
	// backstop); each document is held to its size's budget.
	c, err := s.acquire(keyOf(lim))
	if err != nil {
		return extract.Extracted{}, run, err
	}
	lim = lim.ForSize(size, typ)
	run.Reused, run.PID = c.uses > 0, c.pid
	c.uses++
	start := time.Now()
	cpu0, cpuErr := processCPU(c.pid)

	// The watchdog kills the child's group when the document takes too
	// long on the clock or the processor, or ctx is done. The child
	// enforces lim.Timeout itself and answers "timeout"; the clock here
	// allows a grace period after it.
	const (
		none = iota
		byClock
		byCPU
		byCaller
	)
	var killedBy int
	var mu sync.Mutex
	stop := make(chan struct{})
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		clock := time.NewTimer(lim.Timeout + 2*time.Second)
		defer clock.Stop()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		reason := none
		for reason == none {
			select {
			case <-stop:
				return
			case <-c.exited:
				return
			case <-clock.C:
				reason = byClock
			case <-ctx.Done():
				reason = byCaller
			case <-tick.C:
				if cpuErr == nil {
					if t, err := processCPU(c.pid); err == nil && t-cpu0 > lim.CPU {
						reason = byCPU
					}
				}
			}
		}
		mu.Lock()
		killedBy = reason
		mu.Unlock()
		_ = syscall.Kill(-c.pid, syscall.SIGKILL)
	}()

	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		req, _ := json.Marshal(sandboxRequest{Type: typ, Size: size, Limits: lim, Password: password})
		if _, err := c.stdin.Write(append(req, '\n')); err != nil {
			return
		}
		// A child that died early makes this fail; its exit status says why.
		_, _ = io.CopyN(c.stdin, src, size)
	}()

	ans, perr := readSandboxResult(c.stdout, lim)
	close(stop)
	<-watchDone
	if perr != nil {
		c.kill() // unblocks the writer
	}
	<-wrote
	run.Wall = time.Since(start)
	mu.Lock()
	reason := killedBy
	mu.Unlock()

	if perr == nil && reason == none {
		run.PeakRSS, run.CPU = ans.peakRSS, ans.cpu
		if ans.reusable {
			s.release(c)
		} else {
			c.kill()
		}
		if e, ok := extract.AsError(ans.err); ok {
			run.Outcome = "failed"
			if e.Code == extract.CodeTimeout {
				run.Outcome = extract.CodeTimeout
			}
			return extract.Extracted{}, run, e
		}
		run.Outcome = "ok"
		return ans.Extracted, run, nil
	}

	// No (usable) answer: end the child and find out why.
	c.kill()
	ps := c.cmd.ProcessState
	if ps != nil {
		run.CPU = ps.UserTime() + ps.SystemTime()
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			run.PeakRSS = ru.Maxrss * 1024
		}
	}
	switch reason {
	case byCaller:
		return extract.Extracted{}, run, context.Cause(ctx) // StopNewest's cause, or ctx's error
	case byClock:
		run.Outcome = extract.CodeTimeout
		return extract.Extracted{}, run, extract.TimedOut(lim)
	case byCPU:
		run.Outcome = extract.CodeTooComplex
		return extract.Extracted{}, run, extract.TooMuchCPU(lim)
	}
	e := classifyChildDeath(ps, run.CPU, c.stderr.String(), lim, c.key.cpu, perr)
	run.Outcome = e.Code
	return extract.Extracted{}, run, e
}

// classifyChildDeath says why a child ended without an answer; started is
// the per-document CPU limit the child was started with (its lifetime
// backstop's base).
func classifyChildDeath(ps *os.ProcessState, cpu time.Duration, stderr string, lim extract.Limits, started time.Duration, cause error) *extract.Error {
	detail := fmt.Errorf("%w (%v); child stderr: %s", cause, ps, summarize(stderr))
	var sig syscall.Signal
	if ps != nil {
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			sig = ws.Signal()
		}
	}
	switch {
	case sig == syscall.SIGXCPU || (sig == syscall.SIGKILL && cpu >= lifetimeCPU(started)*9/10):
		// The lifetime backstop (RLIMIT_CPU), should the watchdog miss.
		e := extract.TooMuchCPU(lim)
		e.Err = detail
		return e
	case strings.Contains(stderr, "out of memory") || strings.Contains(stderr, "failed to allocate") ||
		strings.Contains(stderr, "cannot allocate memory"):
		return &extract.Error{Code: extract.CodeTooComplex, Err: detail,
			Message: fmt.Sprintf("reading the file needed more than %s of memory; it is damaged or built to exhaust the reader", byteSize(lim.Memory))}
	case strings.Contains(stderr, "stack exceeds") || strings.Contains(stderr, "stack overflow"):
		return &extract.Error{Code: extract.CodeTooComplex, Err: detail,
			Message: "the file nests its contents too deeply to be read; it is damaged or built to exhaust the reader"}
	}
	return &extract.Error{Code: extract.CodeExtractCrashed, Err: detail,
		Message: "the reader for this kind of file crashed on it, twice; the file is probably damaged"}
}

// childAnswer is a decoded answer: a result or the parser's *Error, and
// what the child said of itself.
type childAnswer struct {
	extract.Extracted
	err      error
	peakRSS  int64
	cpu      time.Duration
	reusable bool
}

// readSandboxResult reads and checks a child's answer: the magic, a
// length-prefixed JSON header, then the text. Nothing in it is trusted:
// lengths are bounded and offsets checked before the chunker sees them.
func readSandboxResult(br *bufio.Reader, lim extract.Limits) (childAnswer, error) {
	var pre [len(frameMagic) + 4]byte
	if _, err := io.ReadFull(br, pre[:]); err != nil {
		return childAnswer{}, fmt.Errorf("child answer: %w", err)
	}
	if string(pre[:len(frameMagic)]) != frameMagic {
		return childAnswer{}, errors.New("child answer: bad magic")
	}
	n := binary.BigEndian.Uint32(pre[len(frameMagic):])
	if int64(n) > int64(lim.MaxTextBytes)+64<<20 {
		return childAnswer{}, fmt.Errorf("child answer: header of %d bytes", n)
	}
	hdr := make([]byte, n)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return childAnswer{}, fmt.Errorf("child answer header: %w", err)
	}
	var res sandboxResult
	if err := json.Unmarshal(hdr, &res); err != nil {
		return childAnswer{}, fmt.Errorf("child answer header: %w", err)
	}
	ans := childAnswer{peakRSS: res.PeakRSS, cpu: time.Duration(res.CPUNanos), reusable: res.Reusable}
	if res.Code != "" {
		// The code and message are stored and shown: a code is a known
		// word, a message valid text without NULs, both bounded.
		if !validCode(res.Code) {
			return childAnswer{}, fmt.Errorf("child answer: bad code %q", res.Code)
		}
		e := &extract.Error{Code: res.Code, Message: cleanText(res.Message, 1000)}
		if res.Detail != "" {
			e.Err = errors.New(cleanText(res.Detail, 4000))
		}
		ans.err = e
		return ans, nil
	}
	if res.TextLen < 0 || res.TextLen > lim.MaxTextBytes+1<<20 {
		return childAnswer{}, fmt.Errorf("child answer: %d bytes of text", res.TextLen)
	}
	text := make([]byte, res.TextLen)
	if _, err := io.ReadFull(br, text); err != nil {
		return childAnswer{}, fmt.Errorf("child answer text: %w", err)
	}
	if !utf8.Valid(text) {
		return childAnswer{}, errors.New("child answer: text is not UTF-8")
	}
	for _, s := range res.Sections {
		if s.Start < 0 || s.Start > s.End || s.End > len(text) {
			return childAnswer{}, fmt.Errorf("child answer: section %d-%d outside the text", s.Start, s.End)
		}
	}
	for _, p := range res.Pages {
		if p.Start < 0 || p.Start > p.End || p.End > len(text) {
			return childAnswer{}, fmt.Errorf("child answer: page %d-%d outside the text", p.Start, p.End)
		}
	}
	ans.Extracted = extract.Extracted{
		Document: chunker.Document{Text: string(text), Sections: res.Sections, Pages: res.Pages},
		Title:    res.Title, PageCount: res.PageCount, OCR: res.OCR,
	}
	return ans, nil
}

func validCode(c string) bool {
	if len(c) == 0 || len(c) > 40 {
		return false
	}
	for _, r := range c {
		if (r < 'a' || r > 'z') && r != '_' {
			return false
		}
	}
	return true
}

// cleanText is s as valid UTF-8 without NULs, at most max bytes.
func cleanText(s string, max int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "")
	}
	return s
}

// ServeIfChild turns this process into an extraction child, and exits
// when the child is done, if a Pool started it; otherwise it returns at
// once. Programs that run a Pool (ragd, and the test binaries of packages
// that ingest documents) call it first thing in main or TestMain, before
// anything else runs: the child is this program. The child extracts with
// extract.Builtin().
func ServeIfChild() { ServeIfChildWith(extract.Builtin()) }

// ServeIfChildWith is ServeIfChild for a child that extracts with xs (the
// sandbox's tests give theirs parsers that die the ways hostile files make
// real ones die).
func ServeIfChildWith(xs extract.Extractors) {
	if os.Getenv(sandboxEnv) != "" {
		os.Exit(runSandboxChild(xs, os.Stdin, os.Stdout))
	}
}

// runSandboxChild is a child's whole life: limit itself, then, until its
// stdin ends or a document leaves it unfit, read a request and the bytes,
// extract, answer. It returns the exit code.
func runSandboxChild(xs extract.Extractors, stdin io.Reader, stdout io.Writer) int {
	var memory, cpuSeconds int64
	var parent int
	if _, err := fmt.Sscanf(os.Getenv(sandboxEnv), "%d:%d:%d", &memory, &cpuSeconds, &parent); err != nil || memory <= 0 || cpuSeconds <= 0 {
		fmt.Fprintln(os.Stderr, "sandbox child: bad settings:", os.Getenv(sandboxEnv))
		return 3
	}
	cpuLimit := time.Duration(cpuSeconds) * time.Second
	if err := limitSelf(memory, cpuLimit); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox child: set limits:", err)
		return 3
	}
	if os.Getppid() != parent {
		return 3 // the server died before the kernel could tie us to it
	}
	// Package initialisation leaves garbage; drop it before the first
	// document so an idle child holds little.
	debug.FreeOSMemory()
	baseGoroutines := runtime.NumGoroutine()
	br := bufio.NewReaderSize(stdin, 64<<10)
	bw := bufio.NewWriterSize(stdout, 64<<10)
	bw.WriteString(readyMagic)
	if err := bw.Flush(); err != nil {
		return 3
	}
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, io.EOF) && len(line) == 0 {
			return 0 // the parent closed the pipe: done
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "sandbox child: read request:", err)
			return 3
		}
		var req sandboxRequest
		if err := json.Unmarshal(line, &req); err != nil || req.Size < 0 {
			fmt.Fprintln(os.Stderr, "sandbox child: bad request:", err)
			return 3
		}
		resetPeakRSS()
		cpu0 := selfCPU()
		res, text := serveOne(xs, br, req)
		res.PeakRSS = peakRSS()
		res.CPUNanos = int64(selfCPU() - cpu0)
		// Serve again only when nothing of this document is left running
		// or held (the live heap at the last collection), and a whole
		// document's CPU budget is left before the lifetime limit
		// (limitSelf). No collection is forced: it would cost more than a
		// small document's extraction.
		res.Reusable = res.Code == "" || (res.Code != extract.CodeTimeout && res.Code != extract.CodeInternal)
		res.Reusable = res.Reusable && goroutinesBackTo(baseGoroutines) &&
			liveHeap() < memory/4 && selfCPU() < lifetimeCPU(cpuLimit)/2
		if err := writeAnswer(bw, res, text); err != nil {
			fmt.Fprintln(os.Stderr, "sandbox child: write answer:", err)
			return 3
		}
		if !res.Reusable {
			return 0
		}
		// After a big document, give the memory back while idle, so that
		// an idle child stays small.
		if res.PeakRSS > idleRSS {
			debug.FreeOSMemory()
		}
	}
}

// goroutinesBackTo reports whether the goroutines are back to n, allowing
// a few milliseconds for ones that are returning (the extractor's own
// goroutine sends its result and then exits).
func goroutinesBackTo(n int) bool {
	for range 50 {
		if runtime.NumGoroutine() <= n {
			return true
		}
		time.Sleep(time.Millisecond)
	}
	return false
}

// idleRSS is the resident memory above which a child returns its free
// memory to the system between documents.
const idleRSS = 160 << 20

// liveHeap is the heap that was live at the end of the last collection.
func liveHeap() int64 {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(sample[0].Value.Uint64())
}

// serveOne reads one document and extracts it.
func serveOne(xs extract.Extractors, br *bufio.Reader, req sandboxRequest) (sandboxResult, string) {
	data := make([]byte, req.Size)
	if _, err := io.ReadFull(br, data); err != nil {
		return sandboxResult{Code: extract.CodeInternal, Message: "the document could not be read", Detail: "read document: " + err.Error()}, ""
	}
	ext, err := xs.Extract(context.Background(), req.Type, data, req.Password, req.Limits)
	if err != nil {
		e, ok := extract.AsError(err)
		if !ok {
			e = &extract.Error{Code: extract.CodeInternal, Message: "the document could not be read", Err: err}
		}
		res := sandboxResult{Code: e.Code, Message: e.Message}
		if e.Err != nil {
			res.Detail = e.Err.Error()
		}
		return res, ""
	}
	return sandboxResult{Title: ext.Title, PageCount: ext.PageCount, Sections: ext.Sections, Pages: ext.Pages, OCR: ext.OCR, TextLen: len(ext.Text)}, ext.Text
}

func writeAnswer(bw *bufio.Writer, res sandboxResult, text string) error {
	hdr, err := json.Marshal(res)
	if err != nil {
		return err
	}
	if len(hdr) > math.MaxUint32 {
		return errors.New("answer header too large")
	}
	var pre [len(frameMagic) + 4]byte
	copy(pre[:], frameMagic)
	binary.BigEndian.PutUint32(pre[len(frameMagic):], uint32(len(hdr)))
	bw.Write(pre[:])
	bw.Write(hdr)
	bw.WriteString(text)
	return bw.Flush()
}

// lifetimeCPU is a child's whole CPU budget (RLIMIT_CPU): a child serves
// again only while half of it is left, so a document always has twice its
// own limit before the backstop, and the parent's watchdog acts first.
func lifetimeCPU(perDocument time.Duration) time.Duration { return 4 * perDocument }

// limitSelf limits this process's data segment (the Go heap and every
// other private writable mapping; RLIMIT_AS would count the runtime's
// address-space reservations and fail at start) to memory bytes, sets a
// soft heap goal under it so the collector works hard before the limit,
// and caps the Go stack (a stack overflow is then a quick fatal error
// instead of a gigabyte of stack). The per-document CPU limit is the
// parent's watchdog; RLIMIT_CPU is a lifetime backstop above it.
func limitSelf(memory int64, cpu time.Duration) error {
	mem := uint64(memory)
	if err := syscall.Setrlimit(syscall.RLIMIT_DATA, &syscall.Rlimit{Cur: mem, Max: mem}); err != nil {
		return fmt.Errorf("RLIMIT_DATA: %w", err)
	}
	secs := uint64(lifetimeCPU(cpu).Seconds())
	if err := syscall.Setrlimit(syscall.RLIMIT_CPU, &syscall.Rlimit{Cur: secs, Max: secs}); err != nil {
		return fmt.Errorf("RLIMIT_CPU: %w", err)
	}
	debug.SetMemoryLimit(memory / 10 * 8)
	debug.SetMaxStack(64 << 20)
	return nil
}

// headTail keeps the first and the last max bytes written to it: a Go
// crash says what happened first, then prints stacks.
type headTail struct {
	mu         sync.Mutex
	max        int
	head, tail []byte
	cut        bool
}

func (t *headTail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if room := t.max - len(t.head); room > 0 {
		k := min(room, len(p))
		t.head = append(t.head, p[:k]...)
		p = p[k:]
	}
	t.tail = append(t.tail, p...)
	if over := len(t.tail) - t.max; over > 0 {
		t.tail = append(t.tail[:0], t.tail[over:]...)
		t.cut = true
	}
	return n, nil
}

func (t *headTail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cut {
		return string(t.head) + "\n...\n" + string(t.tail)
	}
	return string(t.head) + string(t.tail)
}

// summarize keeps the lines of a child's stderr that say what happened
// (a Go crash's "fatal error" and "runtime:" lines, a panic's first
// line) and the last few, for a log line.
func summarize(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	var keep []string
	for _, l := range lines {
		if strings.HasPrefix(l, "fatal error") || strings.HasPrefix(l, "runtime: ") || strings.HasPrefix(l, "panic") ||
			strings.HasPrefix(l, "sandbox child") || strings.Contains(l, "ERROR: ThreadSanitizer") {
			keep = append(keep, l)
		}
		if len(keep) == 4 {
			break
		}
	}
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	return strings.Join(append(keep, lines...), " | ")
}

// selfCPU is the processor time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
