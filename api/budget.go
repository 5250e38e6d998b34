package api

import (
	"errors"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"
)

// DefaultMaxInflightUploadBytes is the upload budget when Deps leaves it zero.
const DefaultMaxInflightUploadBytes = 256 << 20

// DefaultUploadMinRate and DefaultUploadGrace are the send-rate floor of
// an upload's body when Deps leaves them zero: 4 KiB a second (32 kbit/s,
// under what a GPRS or EDGE uplink gives), after 20 seconds (longer than
// TCP's retransmissions take to get through a 15 s outage).
const (
	DefaultUploadMinRate = 4 << 10
	DefaultUploadGrace   = 20 * time.Second
)

// uploadRetryAfter is what a refused upload is told to wait: about the
// time a large upload takes to arrive, so that one in flight has likely
// finished.
const uploadRetryAfter = 5 * time.Second

// uploadBudget bounds the bytes of all uploads in flight in this process,
// and each tenant's part of them. An upload reserves its declared size
// before its body is read and gives it back when its request ends. An
// upload the budget cannot cover is refused at once rather than queued: a
// waiting upload would still hold a connection and a body in the kernel's
// buffers, and the client can retry here or at another node.
//
// A reservation cannot be taken back once granted, so a tenant's share is
// enforced when it asks, not later: a tenant that holds some of the budget
// may take more only up to share(k), k being the tenants holding some
// (itself included). A tenant's first upload is never refused for its
// share, only when the budget is full.
type uploadBudget struct {
	// limit is the whole budget; largest is the largest one upload may
	// reserve (the upload limit).
	limit, largest int64

	mu       sync.Mutex
	used     int64
	byTenant map[uuid.UUID]int64 // tenants holding more than nothing
}

func newUploadBudget(limit, largest int64) *uploadBudget {
	return &uploadBudget{limit: limit, largest: largest, byTenant: map[uuid.UUID]int64{}}
}

// share is the most one tenant may hold while k tenants hold some of the
// budget: the budget less room for one largest upload, which is kept for
// a tenant that holds none, split equally between the k; never less than
// one largest upload. With the defaults (256 MiB, 50 MiB) a tenant alone
// may hold 206 MiB, four uploads without a Content-Length (ragctl's four
// at a time); two tenants 103 MiB each; three 68 MiB; five or more 50 MiB.
func (b *uploadBudget) share(k int) int64 {
	return max(b.largest, (b.limit-b.largest)/int64(max(k, 1)))
}

// budgetRefusal says why the budget refused a reservation: it is full
// (Full), or the tenant would pass its share (Share, while Tenants hold
// some). Own is what the tenant holds already.
type budgetRefusal struct {
	Full         bool
	Own, Share   int64
	Tenants      int
	Limit, Asked int64
}

// reserve takes n bytes of the budget for tenant. When it may not, it
// says why; otherwise release gives them back (calling it again is
// harmless). A full budget is reported before a share passed: with no
// room left, waiting is the answer whoever holds it.
func (b *uploadBudget) reserve(tenant uuid.UUID, n int64) (release func(), refused *budgetRefusal) {
	b.mu.Lock()
	defer b.mu.Unlock()
	own := b.byTenant[tenant]
	k := len(b.byTenant)
	if own == 0 {
		k++
	}
	if b.used+n > b.limit {
		return nil, &budgetRefusal{Full: true, Own: own, Limit: b.limit, Asked: n}
	}
	if s := b.share(k); own+n > s {
		return nil, &budgetRefusal{Own: own, Share: s, Tenants: k, Limit: b.limit, Asked: n}
	}
	b.used += n
	if n > 0 {
		b.byTenant[tenant] = own + n
	}
	return sync.OnceFunc(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.used -= n
		if n == 0 {
			return
		}
		if left := b.byTenant[tenant] - n; left > 0 {
			b.byTenant[tenant] = left
		} else {
			delete(b.byTenant, tenant)
		}
	}), nil
}

// sendFloor is the slowest an upload's body may arrive: rate bytes a
// second on average, with a credit of at most grace seconds. The body has
// grace to start; each byte then buys 1/rate seconds more, but never more
// than grace beyond the time it arrived. So a client that sends nothing is
// cut after grace, one silent for longer than grace at any point is cut,
// and one that averages r < rate is cut after grace / (1 - r/rate) (twice
// grace at half the rate); at rate or faster it never is. rate <= 0: no
// floor.
type sendFloor struct {
	rate  int64
	grace time.Duration
}

// pacedBody enforces a sendFloor on a request body: it keeps the
// connection's read deadline (http.ResponseController) at the time the
// floor allows the next byte, so that a silent client is cut without a
// byte arriving. The deadline never passes the server's own for the
// whole request (http.Server.ReadTimeout), which stays the ceiling.
type pacedBody struct {
	body     io.ReadCloser
	rc       *http.ResponseController
	floor    sendFloor
	ceiling  time.Time // the server's deadline for the request; zero: none
	deadline time.Time // when the floor cuts the body if no byte arrives
	set      time.Time // the deadline last given to the connection
	done     bool      // the body was read: the deadline is the ceiling again
	cut      error     // why the body was cut, once it was
}

// pace wraps r.Body in a pacedBody from now on; the caller calls finish
// once the body is read.
func pace(w http.ResponseWriter, r *http.Request, f sendFloor) *pacedBody {
	now := time.Now()
	p := &pacedBody{body: r.Body, rc: http.NewResponseController(w), floor: f}
	if srv, ok := r.Context().Value(http.ServerContextKey).(*http.Server); ok && srv.ReadTimeout > 0 {
		p.ceiling = now.Add(srv.ReadTimeout)
	}
	if f.rate <= 0 {
		p.done = true
		return p
	}
	p.deadline = p.cap(now.Add(f.grace))
	r.Body = p
	return p
}

// cap keeps t at or before the ceiling.
func (p *pacedBody) cap(t time.Time) time.Time {
	if !p.ceiling.IsZero() && t.After(p.ceiling) {
		return p.ceiling
	}
	return t
}

// errTooSlow and errReadTimeout tell the two deadlines apart.
var (
	errTooSlow     = errors.New("the upload arrived slower than the floor rate")
	errReadTimeout = errors.New("the upload did not arrive within the read timeout")
)

func (p *pacedBody) Read(b []byte) (int, error) {
	if p.cut != nil {
		return 0, p.cut
	}
	if p.done {
		return p.body.Read(b)
	}
	if !p.deadline.Equal(p.set) {
		// ErrNotSupported (a writer that does not unwrap to the
		// connection's) leaves the check below, on each byte's arrival.
		_ = p.rc.SetReadDeadline(p.deadline)
		p.set = p.deadline
	}
	n, err := p.body.Read(b)
	now := time.Now()
	if (err != nil && !errors.Is(err, io.EOF) && (errors.Is(err, os.ErrDeadlineExceeded) || !now.Before(p.deadline))) ||
		(n > 0 && now.After(p.deadline)) {
		p.cut = errTooSlow
		if p.deadline.Equal(p.ceiling) {
			p.cut = errReadTimeout
		}
		return 0, p.cut
	}
	if n > 0 {
		credit := time.Duration(float64(n) / float64(p.floor.rate) * float64(time.Second))
		next := p.deadline.Add(credit)
		if most := now.Add(p.floor.grace); next.After(most) {
			next = most
		}
		p.deadline = p.cap(next)
	}
	if errors.Is(err, io.EOF) {
		// The server reads on, in the background, from here (to notice a
		// client going away): the floor's deadline must not cut that.
		p.finish()
	}
	return n, err
}

func (p *pacedBody) Close() error { return p.body.Close() }

// finish gives the connection back the server's own deadline, once the
// body has been read whole: what follows (storing the upload) is not the
// client's to hurry. It is not called after a cut, whose connection
// should end.
func (p *pacedBody) finish() {
	if p.done || p.cut != nil {
		return
	}
	p.done = true
	_ = p.rc.SetReadDeadline(p.ceiling)
}

// tooSlow is the answer to a body the floor cut, or nil.
func (p *pacedBody) tooSlow() error {
	switch p.cut {
	case nil:
		return nil
	case errReadTimeout:
		return &httpError{status: http.StatusRequestTimeout, code: codeUploadTooSlow,
			detail: "the upload did not arrive whole within the server's read timeout; send it over a faster link, or in smaller files"}
	}
	return &httpError{status: http.StatusRequestTimeout, code: codeUploadTooSlow,
		detail: "the upload arrived slower than " + byteSize(p.floor.rate) + " a second, after the first " + p.floor.grace.String() +
			" (or paused for longer than that); the server cut it to keep its upload budget for uploads that arrive"}
}
