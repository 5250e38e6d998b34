package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ragd/ragd/extract"
	"github.com/ragd/ragd/extract/sandbox"
)

// The share of extraction slots: while other tenants wait, no tenant holds
// more than its share of this process's extraction slots, max(1, slots /
// tenants holding one or waiting), so that with two slots a tenant's slow
// documents hold one and another tenant's upload gets the other. A tenant
// within its share is never stopped, so none starves.
//
// A tenant over its share while another waits gives way: its most
// recently started extraction is stopped (the child is killed, its work
// lost) and its job comes back later (giveWayFor), without spending an
// attempt; the document is queued again meanwhile. A document about to
// take a slot its tenant has no share of gives way before it starts.
// Waiting means an extraction of this process waiting for a slot, or an
// ingest job of any process waiting for a worker (Jobs that can say so:
// tenantsWaiting). The check runs at the start of every extraction and
// every shareEvery during it, and asks the database only when the tenant
// holds more than one slot and no slot is free; the answer is shared by
// the process's extractions for shareEvery.

// shareEvery is how often a running extraction checks its tenant's share.
const shareEvery = 300 * time.Millisecond

// giveWayFor is how long a job that gave way waits before it runs again:
// longer than River's scheduler interval (5 s), so that the job is
// scheduled rather than available meanwhile, and the dispatcher, which
// keeps a few jobs available per worker, has room to release the waiting
// tenant's job (a job snoozed for less stays available and fills that
// room, and the tenant over its share would take the freed worker again).
const giveWayFor = 6 * time.Second

// tenantsWaiting is what the pipeline's Jobs may also tell (jobs.Queue
// does): the tenants with an ingest job waiting to run, in any process.
type tenantsWaiting interface {
	WaitingTenants(ctx context.Context) ([]uuid.UUID, error)
}

// gaveWay is the error of a run that gave its tenant's extraction slot to
// another tenant's waiting document: not the document's failure, and not
// an attempt spent (RetryAfter makes the job snooze).
type gaveWay struct{ held, share int }

func (e *gaveWay) Error() string {
	return fmt.Sprintf("gave way to another tenant's document: the tenant held %d extraction slots, its share while others wait is %d", e.held, e.share)
}

// RetryAfter is when the job comes back.
func (e *gaveWay) RetryAfter() time.Duration { return giveWayFor }

// shareKeeper keeps each tenant within its share of a pool's slots.
type shareKeeper struct {
	pool    *sandbox.Pool
	waiting tenantsWaiting // nil: only this process's waiting extractions count
	log     *slog.Logger

	mu       sync.Mutex
	readAt   time.Time
	read     map[string]bool // the tenants waiting, as last read
	lastStop map[string]time.Time
	// mine counts this pipeline's extractions by tenant: a pool may serve
	// several pipelines (tests' servers share one), and a tenant gives
	// way to this pipeline's tenants only (in a server, all of them).
	mine map[string]int
}

func newShareKeeper(pool *sandbox.Pool, jobs Jobs, log *slog.Logger) *shareKeeper {
	k := &shareKeeper{pool: pool, log: log, lastStop: map[string]time.Time{}, mine: map[string]int{}}
	k.waiting, _ = jobs.(tenantsWaiting)
	return k
}

// extractInTurn extracts doc in the sandbox as its tenant's, keeping the
// tenant within its share. When it gives way, the document shows queued
// again and the error is a *gaveWay.
func (p *Pipeline) extractInTurn(ctx context.Context, rep *progress, doc Document, open sandbox.Opener, password string) (extract.Extracted, error) {
	owner := doc.TenantID.String()
	defer p.share.begin(owner)()
	err := p.share.over(ctx, owner, 1)
	var ext extract.Extracted
	if err == nil {
		ctx = sandbox.WithOwner(ctx, owner)
		stop := p.share.watch(ctx, owner)
		lim := p.limits.Limits
		doc.applyOCR(&lim)
		ext, err = p.sandbox.ExtractWithPassword(ctx, doc.Type, open, password, lim)
		stop()
	}
	var gave *gaveWay
	if !errors.As(err, &gave) {
		return ext, err
	}
	rep.close()
	if qerr := p.store.showQueued(context.WithoutCancel(ctx), doc); qerr != nil && !errors.Is(qerr, errStale) {
		p.log.WarnContext(ctx, "show the document queued again", "err", qerr, "tenant_id", doc.TenantID, "document_id", doc.ID)
	}
	p.log.InfoContext(ctx, "extraction gave way to another tenant", "tenant_id", doc.TenantID, "document_id", doc.ID,
		"held", gave.held, "share", gave.share, "back_in", giveWayFor)
	return extract.Extracted{}, err
}

// begin counts an extraction of owner's as this pipeline's until the
// returned end is called.
func (k *shareKeeper) begin(owner string) (end func()) {
	k.mu.Lock()
	k.mine[owner]++
	k.mu.Unlock()
	return func() {
		k.mu.Lock()
		if k.mine[owner]--; k.mine[owner] == 0 {
			delete(k.mine, owner)
		}
		k.mu.Unlock()
	}
}

// watch checks owner's share every shareEvery until the returned stop is
// called (before the extraction returns) or ctx is done, stopping owner's
// newest extraction when owner holds more than its share while others
// wait (at most one a period, so that a waiting tenant frees one slot,
// not all of them).
func (k *shareKeeper) watch(ctx context.Context, owner string) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(shareEvery)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			var gave *gaveWay
			if !errors.As(k.over(ctx, owner, 0), &gave) {
				continue
			}
			k.mu.Lock()
			recent := time.Since(k.lastStop[owner]) < shareEvery
			if !recent {
				k.lastStop[owner] = time.Now()
			}
			k.mu.Unlock()
			if !recent && k.pool.StopNewest(owner, gave) {
				k.log.DebugContext(ctx, "stopped an extraction over its tenant's share", "tenant", owner, "held", gave.held, "share", gave.share)
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// over returns a *gaveWay when owner, holding extra slots more than it
// does, would hold more than its share of the pool's while another
// tenant waits and no slot is free; nil otherwise (and when the database
// cannot say: the share is then not kept, rather than the work stopped).
func (k *shareKeeper) over(ctx context.Context, owner string, extra int) error {
	st := k.pool.Slots()
	held, total := st.Held[owner]+extra, extra
	for _, n := range st.Held {
		total += n
	}
	if st.Max <= 0 || held <= 1 || total < st.Max {
		return nil // within any share, or a slot is left for whoever waits
	}
	tenants, others := map[string]bool{owner: true}, false
	k.mu.Lock()
	for o := range st.Held {
		if k.mine[o] > 0 {
			tenants[o] = true
		}
	}
	for o := range st.Waiting {
		if k.mine[o] > 0 {
			tenants[o] = true
			others = others || o != owner
		}
	}
	k.mu.Unlock()
	waiting, err := k.waitingTenants(ctx)
	if err != nil {
		if ctx.Err() == nil {
			k.log.WarnContext(ctx, "extraction share: tenants waiting", "err", err)
		}
		return nil
	}
	for t := range waiting {
		tenants[t] = true
		others = others || t != owner
	}
	share := max(1, st.Max/len(tenants))
	if !others || held <= share {
		return nil
	}
	return &gaveWay{held: held, share: share}
}

// waitingTenants is what Jobs says, read at most every shareEvery.
func (k *shareKeeper) waitingTenants(ctx context.Context) (map[string]bool, error) {
	if k.waiting == nil {
		return nil, nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.read != nil && time.Since(k.readAt) < shareEvery {
		return k.read, nil
	}
	ids, err := k.waiting.WaitingTenants(ctx)
	if err != nil {
		return nil, err
	}
	k.read, k.readAt = make(map[string]bool, len(ids)), time.Now()
	for _, id := range ids {
		k.read[id.String()] = true
	}
	return k.read, nil
}

// showQueued shows the document's version queued again, as a run that gave
// way leaves it; errStale when it is no longer processing (done, deleted,
// superseded, or never shown as processing: nothing to undo).
func (s *Documents) showQueued(ctx context.Context, d Document) error {
	tag, err := s.pool.Exec(ctx, `UPDATE documents SET status = 'queued', stage = NULL, progress = 0, started_at = NULL, updated_at = now()
		WHERE tenant_id = $1 AND id = $2 AND content_version = $3 AND status = 'processing'`,
		d.TenantID, d.ID, d.ContentVersion)
	if err != nil {
		return fmt.Errorf("queue again: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return errStale
	}
	s.announce(ctx, d.ID)
	return nil
}
