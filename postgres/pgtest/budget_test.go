package pgtest

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// Two openings of one folder stand for two test processes: flock's locks
// belong to an open file, so they exclude each other as processes do.
func TestSharedBudgetAcrossProcesses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, err := openShared(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	b, err := openShared(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	giveA, err := a.take(t.Context(), 2)
	if err != nil {
		t.Fatal(err)
	}
	short := func() context.Context {
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		t.Cleanup(cancel)
		return ctx
	}
	// Two places are the other process's: two at once must wait, and
	// taking none while waiting, leave the third free.
	if _, err := b.take(short(), 2); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("two places while the other process holds two of three: %v, want a wait that times out", err)
	}
	giveB, err := b.take(short(), 1)
	if err != nil {
		t.Fatalf("the third place: %v", err)
	}
	if _, err := a.take(short(), 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a fourth place of three: %v", err)
	}
	// A waiter gets its places when the other process gives them back.
	got := make(chan error, 1)
	go func() {
		give, err := b.take(t.Context(), 2)
		if err == nil {
			give()
		}
		got <- err
	}()
	giveA()
	giveA() // giving twice gives once
	if err := <-got; err != nil {
		t.Fatalf("waiting for the places given back: %v", err)
	}
	giveB()
	if _, err := a.take(t.Context(), 4); err == nil {
		t.Fatal("four places of a budget of three: no error")
	}
	all, err := a.take(t.Context(), 3)
	if err != nil {
		t.Fatalf("every place once all are back: %v", err)
	}
	all()
}

func TestReservedPlacesWait(t *testing.T) {
	t.Parallel()
	r := &reserved{size: 2, freed: make(chan struct{})}
	give1, _ := r.take(t.Context(), 1)
	give2, _ := r.take(t.Context(), 1)
	got := make(chan error, 1)
	go func() {
		give, err := r.take(t.Context(), 1)
		if err == nil {
			give()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("a third place of two: %v, want a wait", err)
	case <-time.After(50 * time.Millisecond):
	}
	give1()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	give2()
	if r.held != 0 {
		t.Fatalf("%d places held after every give", r.held)
	}
}

// A connection holds its place until it is closed.
func TestDialerHoldsAPlacePerConnection(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	r := &reserved{size: 1, freed: make(chan struct{})}
	dial := dialer(r)
	c, err := dial(t.Context(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := dial(ctx, "tcp", ln.Addr().String()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a second connection on one place: %v, want a wait", err)
	}
	c.Close()
	c.Close()
	c2, err := dial(t.Context(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("after the first closed: %v", err)
	}
	c2.Close()
	if r.held != 0 {
		t.Fatalf("%d places held after every close", r.held)
	}
}
