package ingest

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// notifyChannel is where document changes are announced with the
// document's id: by Store.announce after each commit that changes a
// document, and by a trigger when a row is deleted (migrations 0011 and
// 0015).
const notifyChannel = "ragd_documents"

// Watcher tells subscribers when a document changes. One connection per
// process listens for Postgres's notifications, so a client waiting on a
// document costs no query while nothing changes. While that connection is
// down, and once it is back, every subscriber is told to look again: a
// change is never missed, at worst looked at for nothing. (A process that
// dies between a run's last commit and its announcement leaves the job
// unfinished in River; the job is run again, finds the version ended, and
// announces it then.)
type Watcher struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	// Retry is how long to wait before listening again after a failure,
	// and how often subscribers look again meanwhile. Default 2s.
	Retry time.Duration

	mu        sync.Mutex
	subs      map[uuid.UUID]map[chan struct{}]struct{}
	listening chan struct{}
	once      sync.Once
}

// NewWatcher returns a Watcher on pool; Run makes it listen.
func NewWatcher(pool *pgxpool.Pool, log *slog.Logger) *Watcher {
	return &Watcher{pool: pool, log: log, Retry: 2 * time.Second, subs: map[uuid.UUID]map[chan struct{}]struct{}{},
		listening: make(chan struct{})}
}

// Listening is closed once the Watcher first listens (tests wait on it).
func (w *Watcher) Listening() <-chan struct{} { return w.listening }

// Subscribe returns a channel that receives (at most one pending value)
// when the document with id may have changed, and a function that ends
// the subscription. Read the document after subscribing, not before, or a
// change in between is missed.
func (w *Watcher) Subscribe(id uuid.UUID) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	if w.subs[id] == nil {
		w.subs[id] = map[chan struct{}]struct{}{}
	}
	w.subs[id][ch] = struct{}{}
	w.mu.Unlock()
	return ch, func() {
		w.mu.Lock()
		delete(w.subs[id], ch)
		if len(w.subs[id]) == 0 {
			delete(w.subs, id)
		}
		w.mu.Unlock()
	}
}

// Subscribers counts the open subscriptions.
func (w *Watcher) Subscribers() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, s := range w.subs {
		n += len(s)
	}
	return n
}

func (w *Watcher) tell(id uuid.UUID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ch := range w.subs[id] {
		poke(ch)
	}
}

func (w *Watcher) tellAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.subs {
		for ch := range s {
			poke(ch)
		}
	}
}

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default: // one is pending already
	}
}

// Run listens until ctx is done, reconnecting after failures.
func (w *Watcher) Run(ctx context.Context) {
	for ctx.Err() == nil {
		err := w.listen(ctx)
		if ctx.Err() != nil {
			return
		}
		w.log.Warn("document notifications: listening failed; subscribers look again until it is back", "err", err, "retry", w.Retry.String())
		w.tellAll()
		t := time.NewTimer(w.Retry)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// listen holds one connection on LISTEN and hands out what arrives.
func (w *Watcher) listen(ctx context.Context) error {
	pooled, err := w.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// The connection will hold a LISTEN: it never goes back to the pool.
	conn := pooled.Hijack()
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return err
	}
	// Changes made while not listening were not announced. (Told before
	// Listening is closed: a subscriber that waited for it, as the tests
	// do, hears only announcements made after.)
	w.tellAll()
	w.once.Do(func() { close(w.listening) })
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if id, err := uuid.Parse(n.Payload); err == nil {
			w.tell(id)
		}
	}
}
