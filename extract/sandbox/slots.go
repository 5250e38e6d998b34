package sandbox

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Owners: each extraction may be marked as someone's (a tenant's) with
// WithOwner. The pool then gives a freed slot to the waiting extraction
// whose owner holds the fewest, rather than to the first in line, and
// tells its caller who holds and who waits (Slots), so that the caller
// can stop an owner's extraction (StopNewest) when that owner holds more
// than its share while others wait. Extractions without an owner count
// as the owner "".

type ownerKey struct{}

// WithOwner returns ctx marking the extractions run with it as owner's.
func WithOwner(ctx context.Context, owner string) context.Context {
	return context.WithValue(ctx, ownerKey{}, owner)
}

func ownerOf(ctx context.Context) string {
	o, _ := ctx.Value(ownerKey{}).(string)
	return o
}

// SlotState is who holds a Pool's slots and who waits for one.
type SlotState struct {
	// Max is MaxChildren (0: no bound).
	Max int
	// Held and Waiting count extractions by owner: those extracting, and
	// those waiting for a slot.
	Held, Waiting map[string]int
}

// Slots says who holds the pool's slots and who waits for one.
func (s *Pool) Slots() SlotState {
	s.slots.mu.Lock()
	defer s.slots.mu.Unlock()
	st := SlotState{Max: max(s.MaxChildren, 0), Held: map[string]int{}, Waiting: map[string]int{}}
	for _, h := range s.slots.held {
		st.Held[h.owner]++
	}
	for _, w := range s.slots.waiting {
		st.Waiting[w.owner]++
	}
	return st
}

// StopNewest stops owner's most recently started extraction: its child is
// killed (its work is lost) and its Extract returns cause. It reports
// whether owner had an extraction to stop.
func (s *Pool) StopNewest(owner string, cause error) bool {
	s.slots.mu.Lock()
	var newest *slotHold
	for _, h := range s.slots.held {
		if h.owner == owner && !h.stopped && (newest == nil || h.at.After(newest.at)) {
			newest = h
		}
	}
	if newest != nil {
		newest.stopped = true
	}
	s.slots.mu.Unlock()
	if newest == nil {
		return false
	}
	newest.stop(cause)
	return true
}

// slotTable is a Pool's slots: the extractions holding one, in the order
// they took it, and those waiting.
type slotTable struct {
	mu      sync.Mutex
	held    []*slotHold
	waiting []*slotWaiter
}

type slotHold struct {
	owner   string
	at      time.Time
	stop    context.CancelCauseFunc
	stopped bool
}

type slotWaiter struct {
	owner string
	hold  *slotHold
	given chan struct{} // closed when hold holds a slot
}

// take waits for one of MaxChildren slots, or ctx, and records that the
// extraction holds it; stop ends the extraction (StopNewest).
func (s *Pool) take(ctx context.Context, stop context.CancelCauseFunc) (*slotHold, error) {
	h := &slotHold{owner: ownerOf(ctx), stop: stop}
	t := &s.slots
	t.mu.Lock()
	if s.MaxChildren <= 0 || (len(t.held) < s.MaxChildren && len(t.waiting) == 0) {
		h.at = time.Now()
		t.held = append(t.held, h)
		t.mu.Unlock()
		return h, nil
	}
	w := &slotWaiter{owner: h.owner, hold: h, given: make(chan struct{})}
	t.waiting = append(t.waiting, w)
	t.mu.Unlock()
	select {
	case <-w.given:
		return h, nil
	case <-ctx.Done():
	}
	t.mu.Lock()
	if i := slices.Index(t.waiting, w); i >= 0 {
		t.waiting = slices.Delete(t.waiting, i, i+1)
		t.mu.Unlock()
		return nil, ctx.Err()
	}
	t.mu.Unlock()
	s.give(h) // given meanwhile: pass it on
	return nil, ctx.Err()
}

// give returns the slot h holds, to the waiting extraction whose owner
// holds the fewest slots (the longest waiting of those).
func (s *Pool) give(h *slotHold) {
	t := &s.slots
	t.mu.Lock()
	defer t.mu.Unlock()
	if i := slices.Index(t.held, h); i >= 0 {
		t.held = slices.Delete(t.held, i, i+1)
	}
	if len(t.waiting) == 0 || (s.MaxChildren > 0 && len(t.held) >= s.MaxChildren) {
		return
	}
	held := map[string]int{}
	for _, o := range t.held {
		held[o.owner]++
	}
	next := 0
	for i, w := range t.waiting {
		if held[w.owner] < held[t.waiting[next].owner] {
			next = i
		}
	}
	w := t.waiting[next]
	t.waiting = slices.Delete(t.waiting, next, next+1)
	w.hold.at = time.Now()
	t.held = append(t.held, w.hold)
	close(w.given)
}
