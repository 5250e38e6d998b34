package api

import (
	"sync"
	"time"
)

// DefaultMaxInflightUploadBytes is the upload budget when Deps leaves it zero.
const DefaultMaxInflightUploadBytes = 256 << 20

// uploadRetryAfter is what a refused upload is told to wait: about the
// time a large upload takes to arrive, so that one in flight has likely
// finished.
const uploadRetryAfter = 5 * time.Second

// uploadBudget bounds the bytes of all uploads in flight in this process.
// An upload reserves its declared size before its body is read and gives
// it back when its request ends. An upload the budget cannot cover is
// refused at once rather than queued: a waiting upload would still hold a
// connection and a body in the kernel's buffers, and the client can retry
// here or at another node.
type uploadBudget struct {
	mu          sync.Mutex
	limit, used int64
}

// reserve takes n bytes of the budget. When they are not left it returns
// false; otherwise release gives them back (calling it again is harmless).
func (b *uploadBudget) reserve(n int64) (release func(), ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.limit {
		return nil, false
	}
	b.used += n
	return sync.OnceFunc(func() {
		b.mu.Lock()
		b.used -= n
		b.mu.Unlock()
	}), true
}
