package api

import (
	"sync"
	"time"

	"github.com/google/uuid"
)

// DefaultMaxInflightUploadBytes is the upload budget when Deps leaves it zero.
const DefaultMaxInflightUploadBytes = 256 << 20

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
