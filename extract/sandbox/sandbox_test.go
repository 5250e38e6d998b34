package sandbox

import (
	"context"
	"errors"
	"os"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ragd/ragd/chunker"
	"github.com/ragd/ragd/extract"
	"github.com/ragd/ragd/extract/extracttest"
)

// Parsers that die the ways a hostile file makes a real one die. They are
// registered in the test binary, which is also the sandbox's child, so
// the child runs them for real.
const (
	typeOOM     extract.Type = "test-oom"
	typeStack   extract.Type = "test-stack"
	typeSpin    extract.Type = "test-spin"
	typeHang    extract.Type = "test-hang"
	typeCrash   extract.Type = "test-crash"
	typeGarbage extract.Type = "test-garbage"
	typeLeak    extract.Type = "test-leak"
	typeEcho    extract.Type = "test-echo"
	typeEnv     extract.Type = "test-env"
	typeBusy    extract.Type = "test-busy"
	typeSleep   extract.Type = "test-sleep"
)

var sink [][]byte

// testExtractors are the builtin extractors and the dying parsers.
func testExtractors() extract.Extractors {
	extractors := extract.Builtin()
	extractors[typeOOM] = func(context.Context, []byte, string, extract.Limits) (extract.Extracted, error) {
		for {
			b := make([]byte, 16<<20)
			for i := range b {
				b[i] = 1
			}
			sink = append(sink, b)
		}
	}
	extractors[typeStack] = func(context.Context, []byte, string, extract.Limits) (extract.Extracted, error) {
		var nest func(int) int
		nest = func(n int) int { return nest(n+1) + 1 }
		return extract.Extracted{}, errors.New(string(rune(nest(0))))
	}
	extractors[typeSpin] = func(context.Context, []byte, string, extract.Limits) (extract.Extracted, error) {
		x := 0
		for {
			x++
		}
	}
	extractors[typeHang] = func(context.Context, []byte, string, extract.Limits) (extract.Extracted, error) {
		select {} // no CPU, never returns, ignores ctx
	}
	extractors[typeCrash] = func(context.Context, []byte, string, extract.Limits) (extract.Extracted, error) {
		// A panic on another goroutine: no recover in the parser's reach.
		done := make(chan struct{})
		go func() { panic("parser bug on a goroutine of its own") }()
		<-done
		return extract.Extracted{}, nil
	}
	extractors[typeGarbage] = func(context.Context, []byte, string, extract.Limits) (extract.Extracted, error) {
		os.Stdout.WriteString("this is not an answer")
		os.Exit(0)
		return extract.Extracted{}, nil
	}
	extractors[typeLeak] = func(_ context.Context, data []byte, _ string, _ extract.Limits) (extract.Extracted, error) {
		go func() { select {} }()
		return extract.Extracted{Document: docOf(string(data))}, nil
	}
	extractors[typeEnv] = func(context.Context, []byte, string, extract.Limits) (extract.Extracted, error) {
		return extract.Extracted{Document: docOf(strings.Join(os.Environ(), "\n"))}, nil
	}
	// Busy on lim.Parallel threads for the duration the document names,
	// as a long PDF read in parallel is.
	extractors[typeBusy] = func(ctx context.Context, data []byte, _ string, lim extract.Limits) (extract.Extracted, error) {
		d, err := time.ParseDuration(string(data))
		if err != nil {
			return extract.Extracted{}, err
		}
		var wg sync.WaitGroup
		for range lim.Parallel {
			wg.Go(func() {
				for start := time.Now(); time.Since(start) < d && ctx.Err() == nil; {
				}
			})
		}
		wg.Wait()
		return extract.Extracted{Document: docOf("busy")}, nil
	}
	extractors[typeSleep] = func(_ context.Context, data []byte, _ string, _ extract.Limits) (extract.Extracted, error) {
		d, err := time.ParseDuration(string(data))
		if err != nil {
			return extract.Extracted{}, err
		}
		time.Sleep(d)
		return extract.Extracted{Document: docOf("slept")}, nil
	}
	extractors[typeEcho] = func(_ context.Context, data []byte, _ string, _ extract.Limits) (extract.Extracted, error) {
		return extract.Extracted{Document: docOf(string(data)), Title: "echo"}, nil
	}
	return extractors
}

type sandboxBundle struct {
	sb   *Pool
	mu   sync.Mutex
	runs []Run
}

func setupSandbox(t *testing.T) *sandboxBundle {
	t.Helper()
	b := &sandboxBundle{}
	b.sb = &Pool{Observe: func(r Run) {
		b.mu.Lock()
		b.runs = append(b.runs, r)
		b.mu.Unlock()
	}}
	t.Cleanup(b.sb.Close)
	return b
}

func (b *sandboxBundle) lastRuns() []Run {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Run(nil), b.runs...)
}

func TestSandboxMatchesInProcess(t *testing.T) {
	t.Parallel()
	b := setupSandbox(t)
	docs := map[extract.Type][]byte{
		extract.TypePDF:      extracttest.ReportPDF(),
		extract.TypeDOCX:     extracttest.MakeDOCX(extracttest.WPara("Berschrift1", "Title") + extracttest.WPara("", "Body text.")),
		extract.TypeHTML:     []byte("<html><head><title>T</title></head><body><h1>Heading</h1><p>Para one.</p></body></html>"),
		extract.TypeMarkdown: []byte("# Head\n\nSome *text*.\n\n## Sub\n\nMore."),
		extract.TypeText:     []byte("plain text\n\nin two paragraphs"),
	}
	for typ, data := range docs {
		want := mustExtract(t, typ, data)
		got, err := b.sb.Extract(t.Context(), typ, BytesOpener(data), extract.Limits{})
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: sandbox gave %+v, in process %+v", typ, got, want)
		}
	}
	runs := b.lastRuns()
	if len(runs) != len(docs) {
		t.Fatalf("%d runs observed, want %d", len(runs), len(docs))
	}
	reused := 0
	for _, r := range runs {
		if r.Outcome != "ok" || r.PeakRSS <= 0 || r.Wall <= 0 {
			t.Errorf("run %+v", r)
		}
		if r.Reused {
			reused++
		}
	}
	if reused != len(docs)-1 {
		t.Errorf("%d of %d documents went to a warm child, want all but the first", reused, len(docs))
	}
}

func TestSandboxPassesParserFailures(t *testing.T) {
	t.Parallel()
	b := setupSandbox(t)
	_, err := b.sb.Extract(t.Context(), extract.TypePDF, BytesOpener([]byte("%PDF-1.4\nnot really")), extract.Limits{})
	wantCode(t, err, extract.CodePDFMalformed)
	_, err = b.sb.Extract(t.Context(), extract.Type("exe"), BytesOpener([]byte("MZ")), extract.Limits{})
	wantCode(t, err, extract.CodeUnsupportedType)
	// A refused file does not cost the child.
	if _, err := b.sb.Extract(t.Context(), typeEcho, BytesOpener([]byte("next")), extract.Limits{}); err != nil {
		t.Fatal(err)
	}
	runs := b.lastRuns()
	if runs[0].Outcome != "failed" || !runs[len(runs)-1].Reused {
		t.Errorf("runs %+v: want a parser failure, then the same child again", runs)
	}
}

// TestSandboxContainsFatalParsers: each way a parser can take a process
// down ends one child, with the code that says why, and leaves no process.
func TestSandboxContainsFatalParsers(t *testing.T) {
	t.Parallel()
	cases := []struct {
		typ      extract.Type
		lim      extract.Limits
		code     string
		attempts int
	}{
		// The memory and stack limits, not a 3-byte file's budget (the race
		// detector makes filling 256 MiB take longer than its clock).
		{typeOOM, extract.Limits{Memory: 256 << 20, CPUPerMiB: -1}, extract.CodeTooComplex, 1},
		{typeStack, extract.Limits{CPUPerMiB: -1}, extract.CodeTooComplex, 1},
		// too_complex, not timeout: the CPU limit acts, long before the clock.
		{typeSpin, extract.Limits{Timeout: 30 * time.Second, CPU: 1 * time.Second}, extract.CodeTooComplex, 1},
		{typeHang, extract.Limits{Timeout: 1 * time.Second}, extract.CodeTimeout, 1},
		{typeCrash, extract.Limits{}, extract.CodeExtractCrashed, 2},
		{typeGarbage, extract.Limits{}, extract.CodeExtractCrashed, 2},
	}
	for _, tc := range cases {
		if raceEnabled && tc.lim.Memory != 0 {
			tc.lim.Memory = 2 << 30 // room for the detector to start the child
		}
		t.Run(string(tc.typ), func(t *testing.T) {
			t.Parallel()
			b := setupSandbox(t)
			start := time.Now()
			_, err := b.sb.Extract(t.Context(), tc.typ, BytesOpener([]byte("x")), tc.lim)
			wantCode(t, err, tc.code)
			runs := b.lastRuns()
			if len(runs) != tc.attempts {
				t.Fatalf("%d attempts, want %d: %+v", len(runs), tc.attempts, runs)
			}
			t.Logf("%s in %s, child peak RSS %d MiB", err, time.Since(start).Round(time.Millisecond), runs[0].PeakRSS>>20)
			assertGone(t, runs)
			// The next document gets a healthy child.
			got, err := b.sb.Extract(t.Context(), typeEcho, BytesOpener([]byte("after")), extract.Limits{})
			if err != nil || got.Text != "after" {
				t.Fatalf("next document: %q, %v", got.Text, err)
			}
		})
	}
}

// TestSandboxCPULimitCountsThreads: the processor time allowed by
// default is the timeout times the threads that read a document, so a
// document that keeps them all busy for most of its time is stopped by
// neither limit (with a limit of the timeout alone, two busy threads
// would use it up in half the time).
func TestSandboxCPULimitCountsThreads(t *testing.T) {
	t.Parallel()
	// 2.4 s on two threads: 4.8 s of processor time, over a limit of the
	// timeout alone (4 s) and under twice it; 1.6 s inside the clock,
	// against a loaded machine's delays.
	lim := extract.Limits{Timeout: 4 * time.Second, Parallel: 2, CPUPerMiB: -1} // not cut to a 6-byte file's budget
	if cpu := lim.WithDefaults().CPU; cpu != 8*time.Second {
		t.Fatalf("default CPU limit %s, want 8s", cpu)
	}
	if cpu := (extract.Limits{Timeout: 3 * time.Second, Parallel: 2, CPU: time.Second}).WithDefaults().CPU; cpu != time.Second {
		t.Fatalf("a CPU limit given became %s", cpu)
	}
	b := setupSandbox(t)
	got, err := b.sb.Extract(t.Context(), typeBusy, BytesOpener([]byte("2400ms")), lim)
	if err != nil || got.Text != "busy" {
		t.Fatalf("busy document: %q, %v", got.Text, err)
	}
	t.Logf("2.4s on 2 threads: %s of processor time", b.lastRuns()[0].CPU)
}

func TestSandboxRetiresUnfitChildren(t *testing.T) {
	t.Parallel()
	b := setupSandbox(t)
	for range 2 {
		if _, err := b.sb.Extract(t.Context(), typeLeak, BytesOpener([]byte("leak")), extract.Limits{}); err != nil {
			t.Fatal(err)
		}
	}
	if runs := b.lastRuns(); runs[1].Reused {
		t.Fatal("a child that left a goroutine running served again")
	}
	b.sb.MaxUses = 1
	for range 2 {
		if _, err := b.sb.Extract(t.Context(), typeEcho, BytesOpener([]byte("x")), extract.Limits{}); err != nil {
			t.Fatal(err)
		}
	}
	if runs := b.lastRuns(); runs[3].Reused {
		t.Fatal("MaxUses 1 reused a child")
	}
}

func TestSandboxCancel(t *testing.T) {
	t.Parallel()
	b := setupSandbox(t)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(300*time.Millisecond, cancel)
	_, err := b.sb.Extract(ctx, typeHang, BytesOpener([]byte("x")), extract.Limits{Timeout: time.Minute})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled (not the file's fault)", err)
	}
	if _, ok := extract.AsError(err); ok {
		t.Fatal("a cancellation was blamed on the file")
	}
	assertGone(t, b.lastRuns())
}

// TestSandboxBoundsChildren: with MaxChildren 2, three documents at once
// are extracted two at a time, and a caller that gives up while both
// slots are taken gets its context's error.
func TestSandboxBoundsChildren(t *testing.T) {
	t.Parallel()
	b := setupSandbox(t)
	b.sb.MaxChildren, b.sb.MaxIdle = 2, 4
	extract := func(ctx context.Context, d string) error {
		_, err := b.sb.Extract(ctx, typeSleep, BytesOpener([]byte(d)), extract.Limits{})
		return err
	}
	// Two children first, so that the timed part does not include their
	// start (a child the sandbox does not keep is started again: the
	// bound on the time allows for one).
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if err := extract(t.Context(), "1ms"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	start := time.Now()
	for range 3 {
		wg.Go(func() {
			if err := extract(t.Context(), "400ms"); err != nil {
				t.Error(err)
			}
		})
	}
	for taken := 0; taken < 2; {
		time.Sleep(time.Millisecond)
		taken = b.sb.Slots().Held[""]
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := extract(ctx, "1ms"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a caller that gave up waiting for a child: %v", err)
	}
	wg.Wait()
	if d := time.Since(start); d < 800*time.Millisecond {
		t.Fatalf("three 400ms documents, two at a time, took %s", d)
	}
}

func TestSandboxHidesServerEnvironment(t *testing.T) {
	t.Setenv("RAGD_TEST_SECRET", "postgres://secret@db/ragd")
	b := setupSandbox(t)
	got, err := b.sb.Extract(t.Context(), typeEnv, BytesOpener([]byte("x")), extract.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(got.Text, "secret") || !strings.Contains(got.Text, sandboxEnv) {
		t.Fatalf("the child's environment: %q", got.Text)
	}
}

func docOf(text string) chunker.Document { return chunker.Document{Text: text} }

// assertGone fails when a child that the sandbox gave up on still exists
// (running, or unreaped).
func assertGone(t *testing.T, runs []Run) {
	t.Helper()
	for _, r := range runs {
		if r.Outcome == "ok" || r.Outcome == "failed" {
			continue
		}
		if err := syscall.Kill(r.PID, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("child %d (%s) still exists after its document: %v", r.PID, r.Outcome, err)
		}
	}
}

// mustExtract extracts data in this process, the baseline the sandbox's
// answers are compared with.
func mustExtract(t *testing.T, typ extract.Type, data []byte) extract.Extracted {
	t.Helper()
	ext, err := extract.Extract(t.Context(), typ, data, extract.Limits{})
	if err != nil {
		t.Fatalf("Extract(%s): %v", typ, err)
	}
	return ext
}

// wantCode fails unless err is a document failure with code and a message
// for people.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if e, ok := extract.AsError(err); !ok || e.Code != code || e.Message == "" {
		t.Fatalf("err = %v, want code %s with a message", err, code)
	}
}
