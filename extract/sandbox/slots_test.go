package sandbox

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ragd/ragd/extract"
)

// TestSandboxSlotsGoToFewestHeld: with both slots held by one owner and
// that owner's third document waiting before another owner's first, the
// slot freed next goes to the other owner, who holds none.
func TestSandboxSlotsGoToFewestHeld(t *testing.T) {
	t.Parallel()
	b := setupSandbox(t)
	b.sb.MaxChildren, b.sb.MaxIdle = 2, 2
	hCtx, oCtx := WithOwner(t.Context(), "h"), WithOwner(t.Context(), "other")
	run := func(ctx context.Context, d string) error {
		_, err := b.sb.Extract(ctx, typeSleep, BytesOpener([]byte(d)), extract.Limits{})
		return err
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var order []string
	done := func(who string) {
		mu.Lock()
		order = append(order, who)
		mu.Unlock()
	}
	for _, d := range []string{"300ms", "1500ms"} {
		wg.Go(func() {
			if err := run(hCtx, d); err != nil {
				t.Error(err)
			}
		})
	}
	waitFor(t, func(st SlotState) bool { return st.Held["h"] == 2 }, b.sb)
	wg.Go(func() {
		if err := run(hCtx, "400ms"); err != nil {
			t.Error(err)
		}
		done("h")
	})
	waitFor(t, func(st SlotState) bool { return st.Waiting["h"] == 1 }, b.sb)
	wg.Go(func() {
		if err := run(oCtx, "1ms"); err != nil {
			t.Error(err)
		}
		done("other")
	})
	waitFor(t, func(st SlotState) bool { return st.Waiting["other"] == 1 }, b.sb)
	wg.Wait()
	if len(order) != 2 || order[0] != "other" {
		t.Fatalf("finished in the order %v: the owner holding no slot did not get the next one", order)
	}
}

// TestSandboxStopNewest: StopNewest ends the owner's most recently started
// extraction, whose child is killed and whose Extract returns the cause;
// the owner's older extraction and others' go on.
func TestSandboxStopNewest(t *testing.T) {
	t.Parallel()
	b := setupSandbox(t)
	hCtx := WithOwner(t.Context(), "h")
	errs := make(chan error, 2)
	older := make(chan error, 1)
	go func() {
		_, err := b.sb.Extract(hCtx, typeSleep, BytesOpener([]byte("1500ms")), extract.Limits{})
		older <- err
	}()
	waitFor(t, func(st SlotState) bool { return st.Held["h"] == 1 }, b.sb)
	time.Sleep(10 * time.Millisecond) // a later start
	go func() {
		_, err := b.sb.Extract(hCtx, typeHang, BytesOpener([]byte("x")), extract.Limits{Timeout: time.Minute})
		errs <- err
	}()
	waitFor(t, func(st SlotState) bool { return st.Held["h"] == 2 }, b.sb)
	if b.sb.StopNewest("other", errGaveWay) {
		t.Fatal("stopped an extraction of an owner that has none")
	}
	time.Sleep(200 * time.Millisecond) // the hanging one is at work
	if !b.sb.StopNewest("h", errGaveWay) {
		t.Fatal("found nothing of h's to stop")
	}
	select {
	case err := <-errs:
		if !errors.Is(err, errGaveWay) {
			t.Fatalf("the stopped extraction returned %v, want its cause", err)
		}
		if _, ok := extract.AsError(err); ok {
			t.Fatal("a stopped extraction was blamed on the file")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stopped extraction did not return")
	}
	if err := <-older; err != nil {
		t.Fatalf("the older extraction: %v", err)
	}
	if st := b.sb.Slots(); len(st.Held) != 0 && st.Held["h"] != 0 {
		t.Fatalf("slots still held: %v", st.Held)
	}
	assertGone(t, b.lastRuns())
}

var errGaveWay = errors.New("gave way")

// waitFor waits until the pool's slots are as ok wants.
func waitFor(t *testing.T, ok func(SlotState) bool, p *Pool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !ok(p.Slots()); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("slots never became as wanted: %+v", p.Slots())
		}
	}
}
