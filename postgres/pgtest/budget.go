package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// The connection budget: every connection a test process makes to the
// test server (pools, the template's and the databases' set-up) holds a
// place until it is closed, so that the test processes `go test ./...`
// runs at once stay within the server's max_connections together instead
// of failing with "too many clients" (SQLSTATE 53300). A connection that
// finds no place waits for one; a test that waits budgetWait fails and
// says what holds the places.
//
// The size is RAGD_TEST_DB_CONNS when set, else the server's
// max_connections less its reserved connections and a margin, shared
// among the test processes `go test` runs at once (-p, whose default is
// the number of CPUs).
type budget struct {
	mu    sync.Mutex
	size  int
	held  int
	freed chan struct{} // closed and replaced whenever a place is freed
}

// budgetWait is how long a connection waits for a place before its test
// fails: far longer than any test holds a connection it does not use
// (test pools close idle connections within seconds).
const budgetWait = 2 * time.Minute

// budgetMargin is left to the test processes' own ragd children and to
// people: psql, a server being watched.
const budgetMargin = 10

var (
	budgetOnce sync.Once
	conns      *budget
	budgetErr  error
)

// theBudget sizes the budget from the server at url, once per process.
func theBudget(url string) (*budget, error) {
	budgetOnce.Do(func() {
		size, err := budgetSize(url)
		conns, budgetErr = &budget{size: size, freed: make(chan struct{})}, err
	})
	return conns, budgetErr
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
	return max(4, (server-reserved-budgetMargin)/max(1, runtime.NumCPU())), nil
}

// take waits for n places at once (a caller holding some while it waits
// for more could wait on another doing the same), or ctx, or budgetWait.
func (b *budget) take(ctx context.Context, n int) error {
	if n > b.size {
		return fmt.Errorf("pgtest: %d connections asked for at once, beyond this test process's budget of %d (RAGD_TEST_DB_CONNS)", n, b.size)
	}
	timer := time.NewTimer(budgetWait)
	defer timer.Stop()
	for {
		b.mu.Lock()
		if b.held+n <= b.size {
			b.held += n
			b.mu.Unlock()
			return nil
		}
		freed := b.freed
		b.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return fmt.Errorf("pgtest: all %d connections of this test process's budget stayed in use for %s (set RAGD_TEST_DB_CONNS, or hold fewer test servers at once)", b.size, budgetWait)
		}
	}
}

func (b *budget) give(n int) {
	b.mu.Lock()
	b.held -= n
	close(b.freed)
	b.freed = make(chan struct{})
	b.mu.Unlock()
}

// dial is a pgconn DialFunc that holds a place of the budget for as long
// as the connection is open.
func (b *budget) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if err := b.take(ctx, 1); err != nil {
		return nil, err
	}
	c, err := (&net.Dialer{KeepAlive: 5 * time.Minute}).DialContext(ctx, network, addr)
	if err != nil {
		b.give(1)
		return nil, err
	}
	return &budgetConn{Conn: c, b: b}, nil
}

type budgetConn struct {
	net.Conn
	b    *budget
	once sync.Once
}

func (c *budgetConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.b.give(1) })
	return err
}
