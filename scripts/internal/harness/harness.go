// Package harness holds what the measurement commands under scripts/ share
// to run a real `ragd serve`: building the binary, finding a Postgres
// server and making a fresh database on it, starting the server with its
// output in a log file and waiting until it is healthy, stopping it, and a
// small client for its JSON API.
//
// The commands run from the repository root: Build and PostgresURL name
// ./cmd/ragd and scripts/postgres-up.sh relative to the working directory.
package harness

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Prepare does what comes before Start: it builds ./cmd/ragd into bin
// unless build is false (Build), finds the Postgres server (PostgresURL)
// and creates a fresh database on it (FreshDatabase, named after name). It
// returns the database's URL and a function that drops it.
func Prepare(ctx context.Context, name, bin string, build bool) (string, func(), error) {
	if build {
		if err := Build(bin); err != nil {
			return "", nil, err
		}
	}
	base, err := PostgresURL()
	if err != nil {
		return "", nil, err
	}
	return FreshDatabase(ctx, base, name)
}

// Build builds ./cmd/ragd into bin, creating bin's directory, with the
// compiler's output on stderr.
func Build(bin string) error {
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/ragd")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build ragd: %w", err)
	}
	return nil
}

// PostgresURL returns DATABASE_URL, or when it is empty the URL printed by
// scripts/postgres-up.sh (which starts a server if need be).
func PostgresURL() (string, error) {
	if base := os.Getenv("DATABASE_URL"); base != "" {
		return base, nil
	}
	out, err := exec.Command("scripts/postgres-up.sh").Output()
	if err != nil {
		return "", fmt.Errorf("scripts/postgres-up.sh: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// FreshDatabase creates an empty database named ragd_<name>_<random hex>
// on the server of base and returns its URL and a function that drops it.
// The drop function reports a failure on stderr, prefixed with name, as
// it runs deferred when nothing can be returned any more.
func FreshDatabase(ctx context.Context, base, name string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, fmt.Errorf("connect to postgres: %w", err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	db := "ragd_" + name + "_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		return "", nil, fmt.Errorf("create database: %w", err)
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + db
	drop := func() {
		c, err := pgx.Connect(ctx, base)
		if err == nil {
			defer c.Close(ctx)
			_, err = c.Exec(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)")
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: drop database %s: %v\n", name, db, err)
		}
	}
	return u.String(), drop, nil
}

// Config says how Start runs `ragd serve`.
type Config struct {
	Bin         string   // the ragd binary
	Addr        string   // RAGD_ADDR, such as ":18091"; the server is reached at http://localhost<Addr>
	Dir         string   // holds the server's data directory (data) and its log (ragd.log)
	DatabaseURL string   // DATABASE_URL
	AdminToken  string   // RAGD_ADMIN_TOKEN
	Env         []string // more KEY=value settings, after (and so over) the ones above
}

// Server is a running `ragd serve` started by Start. Stop it with Stop.
type Server struct {
	URL     string // the server's base URL, http://localhost<Addr>
	cmd     *exec.Cmd
	logPath string
	logFile *os.File
}

// Start runs `ragd serve` as cfg says, with this process's environment,
// RAGD_LOG_FORMAT=json and its stdout and stderr in Dir/ragd.log, and
// waits up to a minute for /healthz to answer 200. If the server does not
// become healthy Start stops it and the error ends with the log's tail.
func Start(cfg Config) (*Server, error) {
	s := &Server{URL: "http://localhost" + cfg.Addr, logPath: filepath.Join(cfg.Dir, "ragd.log")}
	var err error
	if s.logFile, err = os.Create(s.logPath); err != nil {
		return nil, err
	}
	s.cmd = exec.Command(cfg.Bin, "serve")
	s.cmd.Env = append(os.Environ(), "DATABASE_URL="+cfg.DatabaseURL, "RAGD_ADDR="+cfg.Addr,
		"RAGD_DATA_DIR="+filepath.Join(cfg.Dir, "data"), "RAGD_ADMIN_TOKEN="+cfg.AdminToken, "RAGD_LOG_FORMAT=json")
	s.cmd.Env = append(s.cmd.Env, cfg.Env...)
	s.cmd.Stdout, s.cmd.Stderr = s.logFile, s.logFile
	if err := s.cmd.Start(); err != nil {
		s.logFile.Close()
		return nil, fmt.Errorf("start ragd: %w", err)
	}
	if err := waitHealthy(s.URL, 60*time.Second); err != nil {
		err = fmt.Errorf("%w (log: %s)", err, s.Tail())
		s.Stop()
		return nil, err
	}
	return s, nil
}

// Pid is the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Tail returns the last 2,000 bytes of the server's log, to put in an
// error.
func (s *Server) Tail() string {
	b, _ := os.ReadFile(s.logPath)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// Stop sends the server SIGTERM, kills it if it has not exited 30 seconds
// later, and closes its log.
func (s *Server) Stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
	}
	s.logFile.Close()
}

// waitHealthy polls base's /healthz every 100 ms until it answers 200 or
// d has passed.
func waitHealthy(base string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("ragd did not become healthy")
}

// Client calls ragd's API at Base with Token as its bearer token.
type Client struct {
	Base, Token string
}

// NewRequest returns a request for Base+path that carries the bearer
// token.
func (c *Client) NewRequest(method, path string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequest(method, c.Base+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	return req, nil
}

// JSON sends in (none if nil) as JSON and decodes the answer into out; a
// status of 300 or more is an error that quotes the answer's body.
func (c *Client) JSON(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := c.NewRequest(method, path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return json.Unmarshal(b, out)
}

// UseNewTenant creates a tenant (with the admin token the client holds)
// and an API key for it named slug, and makes that key the client's token.
func (c *Client) UseNewTenant(name, slug string) error {
	var tenant struct{ ID string }
	if err := c.JSON("POST", "/v1/tenants", map[string]any{"name": name, "slug": slug}, &tenant); err != nil {
		return err
	}
	var key struct{ Key string }
	if err := c.JSON("POST", "/v1/tenants/"+tenant.ID+"/api-keys", map[string]any{"name": slug}, &key); err != nil {
		return err
	}
	c.Token = key.Key
	return nil
}
