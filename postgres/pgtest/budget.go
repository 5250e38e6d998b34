package pgtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// The connection budget: every connection the test processes of one
// machine make to the test server (pools, the template's and the
// databases' set-up, the ragd servers they start) holds a place until it
// is closed, so that `go test ./...`, however many packages it runs at
// once, stays within the server's max_connections instead of failing with
// "too many clients" (SQLSTATE 53300). A connection that finds no place
// waits for one; a test that waits budgetWait fails and says so.
//
// The places are lock files (flock) in a folder of the temporary
// directory named by the server: a process that dies frees its places
// with its descriptors. The size is RAGD_TEST_DB_CONNS when set, else the
// server's max_connections less its reserved connections and a margin.
//
// A test pool takes a place a connection; a ragd server under test
// (ReserveConns, NewServerPool) takes every place its pool may hold at
// once before it starts, so that servers holding LISTEN connections for
// their whole life never wait on each other for the rest of their places.

// budgetWait is how long a connection or a server waits for places before
// its test fails: far longer than a test holds a connection it does not
// use (test pools close idle connections within seconds), long enough for
// a queue of servers on a machine of many cores.
const budgetWait = 5 * time.Minute

// budgetMargin is left to people: psql, a server being watched.
const budgetMargin = 10

// placer hands out places: take waits for n at once (a caller holding
// some while it waits for more could wait on another doing the same) and
// returns what gives them back.
type placer interface {
	take(ctx context.Context, n int) (give func(), err error)
}

var (
	budgetOnce sync.Once
	machine    *shared
	budgetErr  error
)

// theBudget opens the machine's budget for the server at url, once per
// process.
func theBudget(url string) (*shared, error) {
	budgetOnce.Do(func() {
		size, err := budgetSize(url)
		if err != nil {
			budgetErr = err
			return
		}
		machine, budgetErr = openShared(budgetDir(url), size)
	})
	return machine, budgetErr
}

func budgetSize(url string) (int, error) {
	if v := os.Getenv("RAGD_TEST_DB_CONNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 4 {
			return 0, fmt.Errorf("RAGD_TEST_DB_CONNS=%q: want a number of connections, at least 4", v)
		}
		return n, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, fmt.Errorf("connect to test server: %w", err)
	}
	defer conn.Close(context.Background())
	var server, reserved int
	if err := conn.QueryRow(ctx, `SELECT current_setting('max_connections')::int,
		current_setting('superuser_reserved_connections')::int`).Scan(&server, &reserved); err != nil {
		return 0, fmt.Errorf("read max_connections: %w", err)
	}
	return max(4, server-reserved-budgetMargin), nil
}

// budgetDir names the folder of the places of the server at raw (its host
// and port: the processes testing against one server share them).
func budgetDir(raw string) string {
	key := raw
	if cfg, err := pgx.ParseConfig(raw); err == nil {
		key = cfg.Host + ":" + strconv.Itoa(int(cfg.Port))
	} else if u, err := url.Parse(raw); err == nil {
		key = u.Host
	}
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(os.TempDir(), "ragd-pgtest-"+hex.EncodeToString(sum[:6]))
}

// shared is the machine's budget: size places, each a lock file that a
// process holds a lock on while one of its connections uses the place. A
// gate file, locked while a process looks for places, makes taking n
// places at once all or nothing.
type shared struct {
	size  int
	gate  *os.File
	slots []*os.File
	mu    sync.Mutex
	held  []bool        // by this process (a lock is the process's, not a goroutine's)
	freed chan struct{} // closed and replaced whenever this process frees a place
}

func openShared(dir string, size int) (*shared, error) {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, fmt.Errorf("pgtest: the connection budget's folder: %w", err)
	}
	os.Chmod(dir, 0o777) // another user's tests share it (best effort: umask)
	open := func(name string) (*os.File, error) {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_RDWR|os.O_CREATE, 0o666)
		if err != nil {
			return nil, fmt.Errorf("pgtest: the connection budget: %w", err)
		}
		return f, nil
	}
	s := &shared{size: size, held: make([]bool, size), freed: make(chan struct{})}
	var err error
	if s.gate, err = open("gate"); err != nil {
		return nil, err
	}
	for i := range size {
		f, err := open(fmt.Sprintf("place-%04d", i))
		if err != nil {
			return nil, err
		}
		s.slots = append(s.slots, f)
	}
	return s, nil
}

func (s *shared) take(ctx context.Context, n int) (func(), error) {
	if n > s.size {
		return nil, fmt.Errorf("pgtest: %d connections asked for at once, beyond the budget of %d (RAGD_TEST_DB_CONNS, or the server's max_connections)", n, s.size)
	}
	timer := time.NewTimer(budgetWait)
	defer timer.Stop()
	for {
		got, err := s.try(n)
		if err != nil {
			return nil, err
		}
		if got != nil {
			var once sync.Once
			return func() { once.Do(func() { s.give(got) }) }, nil
		}
		s.mu.Lock()
		freed := s.freed
		s.mu.Unlock()
		select {
		case <-freed: // a place of this process
		case <-time.After(20 * time.Millisecond): // another process's
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timer.C:
			return nil, fmt.Errorf("pgtest: all %d connections of the budget stayed in use for %s (set RAGD_TEST_DB_CONNS, raise the server's max_connections, or run fewer tests at once)", s.size, budgetWait)
		}
	}
}

// try takes n free places, or none (nil).
func (s *shared) try(n int) ([]int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := syscall.Flock(int(s.gate.Fd()), syscall.LOCK_EX); err != nil {
		return nil, fmt.Errorf("pgtest: lock the connection budget: %w", err)
	}
	defer syscall.Flock(int(s.gate.Fd()), syscall.LOCK_UN)
	got := make([]int, 0, n)
	for i, f := range s.slots {
		if len(got) == n {
			break
		}
		if !s.held[i] && syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			got = append(got, i)
		}
	}
	if len(got) < n {
		for _, i := range got {
			syscall.Flock(int(s.slots[i].Fd()), syscall.LOCK_UN)
		}
		return nil, nil
	}
	for _, i := range got {
		s.held[i] = true
	}
	return got, nil
}

func (s *shared) give(places []int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, i := range places {
		syscall.Flock(int(s.slots[i].Fd()), syscall.LOCK_UN)
		s.held[i] = false
	}
	close(s.freed)
	s.freed = make(chan struct{})
}

// reserved is a server's places, taken at once: its pool's connections
// come from them, never from the machine's budget.
type reserved struct {
	mu    sync.Mutex
	size  int
	held  int
	freed chan struct{}
}

func (r *reserved) take(ctx context.Context, n int) (func(), error) {
	timer := time.NewTimer(budgetWait)
	defer timer.Stop()
	for {
		r.mu.Lock()
		if r.held+n <= r.size {
			r.held += n
			r.mu.Unlock()
			var once sync.Once
			return func() { once.Do(func() { r.give(n) }) }, nil
		}
		freed := r.freed
		r.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timer.C:
			return nil, fmt.Errorf("pgtest: all %d connections reserved for this server stayed in use for %s", r.size, budgetWait)
		}
	}
}

func (r *reserved) give(n int) {
	r.mu.Lock()
	r.held -= n
	close(r.freed)
	r.freed = make(chan struct{})
	r.mu.Unlock()
}

// dialer is a pgconn DialFunc that holds a place of p for as long as the
// connection is open.
func dialer(p placer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		give, err := p.take(ctx, 1)
		if err != nil {
			return nil, err
		}
		c, err := (&net.Dialer{KeepAlive: 5 * time.Minute}).DialContext(ctx, network, addr)
		if err != nil {
			give()
			return nil, err
		}
		return &budgetConn{Conn: c, give: give}, nil
	}
}

type budgetConn struct {
	net.Conn
	give func()
}

func (c *budgetConn) Close() error {
	err := c.Conn.Close()
	c.give()
	return err
}
