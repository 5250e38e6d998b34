package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/postgres/pgtest"
	"github.com/ragd/ragd/search"
	"github.com/ragd/ragd/search/qdranttest"
	"github.com/ragd/ragd/secret"
)

// asRagdEnv makes this test binary run ragd's main instead of the tests,
// so that tests can start, and kill, real ragd processes.
const asRagdEnv = "RAGD_TEST_RUN_AS_RAGD"

// ragdProcess is a ragd started as a separate process.
type ragdProcess struct {
	cmd  *exec.Cmd
	addr chan string
	done chan struct{}
	logs *bytes.Buffer
	mu   *sync.Mutex
}

// startProcess runs `ragd args...` as a child process with env.
func startProcess(t *testing.T, env map[string]string, args ...string) *ragdProcess {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	release := reserveConns(t, env)
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), asRagdEnv+"=1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &ragdProcess{cmd: cmd, addr: make(chan string, 1), done: make(chan struct{}), logs: &bytes.Buffer{}, mu: &sync.Mutex{}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.logs.Write(append(sc.Bytes(), '\n'))
			p.mu.Unlock()
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && (line.Msg == "ragd serving" || line.Msg == "ragd worker running") {
				select {
				case p.addr <- line.Addr:
				default:
				}
			}
		}
		_ = cmd.Wait()
		release()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			p.mu.Lock()
			t.Logf("ragd %s log:\n%s", args[0], lastN(p.logs.String(), 40))
			p.mu.Unlock()
		}
	})
	select {
	case a := <-p.addr:
		p.addr <- a
	case <-p.done:
		t.Fatalf("ragd %s exited at start:\n%s", args[0], p.logs.String())
	case <-time.After(90 * time.Second):
		t.Fatalf("ragd %s did not start", args[0])
	}
	return p
}

func (p *ragdProcess) url() string {
	a := <-p.addr
	p.addr <- a
	return "http://" + a
}

// kill9 kills the process as the kernel's OOM killer or a power cut would.
func (p *ragdProcess) kill9(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
}

func lastN(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestCrashRecovery kills real ragd processes with SIGKILL in the middle of
// ingestion, twice: the API-and-workers process (serve) while a separate
// worker lives, then that worker while a new serve lives. After each kill
// every document reaches ready within 60 seconds, with exactly its chunks
// in Postgres and its points in the vector store, documents that were
// ready before the kill are not processed again, and the killed process's
// extraction children die with it.
func TestCrashRecovery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	key := secret.NewKey()
	env := map[string]string{
		"DATABASE_URL":              pgtest.NewDatabaseURL(t),
		"QDRANT_URL":                qdranttest.Start(t),
		"RAGD_ADDR":                 "127.0.0.1:0",
		"RAGD_LOG_FORMAT":           "json",
		"RAGD_ENCRYPTION_KEY":       base64.StdEncoding.EncodeToString(key),
		"RAGD_ADMIN_TOKEN":          "admin-token-for-crash-test",
		"RAGD_EMBEDDING_DIMENSIONS": "64",
		"RAGD_WORKERS":              "2",
	}
	pool := pgtest.OpenPool(t, env["DATABASE_URL"])
	box, _ := secret.NewBox(key)
	tenant, err := agents.NewControlPlane(pool, box, nil).CreateTenant(ctx, agents.TenantPatch{Name: ragd.Some("T")})
	if err != nil {
		t.Fatal(err)
	}
	_, apiKey, err := agents.NewControlPlane(pool, box, nil).CreateKey(ctx, tenant.ID, agents.KeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	vectors, err := search.OpenQdrant(search.QdrantConfig{URL: env["QDRANT_URL"]})
	if err != nil {
		t.Fatal(err)
	}
	defer vectors.Close()

	withDir := func(dir string) map[string]string {
		m := map[string]string{"RAGD_DATA_DIR": dir}
		for k, v := range env {
			m[k] = v
		}
		return m
	}
	serve := startProcess(t, withDir(t.TempDir()), "serve")
	worker := startProcess(t, withDir(t.TempDir()), "worker")

	round := func(name string, victim, api *ragdProcess) {
		t.Helper()
		docs := uploadBatch(t, api.url(), apiKey, name, 12)
		victimPID := victim.cmd.Process.Pid
		waitFor(t, 90*time.Second, "the victim at work after two documents are ready", func() bool {
			return countStatus(t, pool, docs, "ready") >= 2 && runningUnder(t, pool, victimPID) > 0
		})
		readyBefore := finishedAt(t, pool, docs)
		victim.kill9(t)
		killed := time.Now()
		waitFor(t, 60*time.Second, "every document ready after the kill", func() bool {
			return countStatus(t, pool, docs, "ready") == len(docs)
		})
		t.Logf("%s: killed with %d of %d documents ready; all ready %s later",
			name, len(readyBefore), len(docs), time.Since(killed).Round(100*time.Millisecond))
		checkExact(t, pool, vectors, tenant.ID, docs)
		for id, at := range readyBefore {
			if now := finishedAt(t, pool, []uuid.UUID{id})[id]; !now.Equal(at) {
				t.Errorf("%s: document %s was ready at %s before the kill and processed again (finished %s)", name, id, at, now)
			}
		}
		if pids := sandboxChildrenOf(victimPID); len(pids) > 0 {
			t.Errorf("%s: extraction children %v outlived their killed parent %d", name, pids, victimPID)
		}
	}

	// Round 1: the serve process dies; the separate worker rescues its
	// jobs. A new serve comes up for the next round.
	round("kill serve", serve, serve)
	serve2 := startProcess(t, withDir(t.TempDir()), "serve")
	// Round 2: the worker dies; serve's workers rescue its jobs.
	round("kill worker", worker, serve2)
}

// uploadBatch uploads n text documents big enough to take a while each.
func uploadBatch(t *testing.T, base, key, name string, n int) []uuid.UUID {
	t.Helper()
	var ids []uuid.UUID
	for i := range n {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		fw, _ := mw.CreateFormFile("file", fmt.Sprintf("%s-%d.txt", strings.ReplaceAll(name, " ", "-"), i))
		for p := range 400 {
			fmt.Fprintf(fw, "Paragraph %d of document %d in %s: tenants upload documents, and the workers extract, chunk, embed and index them so that search finds every passage.\n\n", p, i, name)
		}
		mw.Close()
		req, _ := http.NewRequest(http.MethodPost, base+"/v1/documents", &body)
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var d struct{ ID uuid.UUID }
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted || json.Unmarshal(b, &d) != nil {
			t.Fatalf("upload: %d %s", resp.StatusCode, b)
		}
		ids = append(ids, d.ID)
	}
	return ids
}

// runningUnder counts the jobs running in the process with pid on
// documents not yet ready (queued until a run has taken 200 ms, then
// processing).
func runningUnder(t *testing.T, pool *pgxpool.Pool, pid int) int {
	t.Helper()
	var n int
	err := pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job j
		JOIN ragd_workers w ON w.client_id = j.attempted_by[array_upper(j.attempted_by, 1)]
		JOIN documents d ON d.id = (j.args->>'document_id')::uuid
		WHERE j.state = 'running' AND w.pid = $1 AND d.status IN ('queued', 'processing')`, pid).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func waitFor(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func countStatus(t *testing.T, pool *pgxpool.Pool, ids []uuid.UUID, status string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM documents WHERE id = ANY($1) AND status = $2", ids, status).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// finishedAt maps the ready documents among ids to when they finished.
func finishedAt(t *testing.T, pool *pgxpool.Pool, ids []uuid.UUID) map[uuid.UUID]time.Time {
	t.Helper()
	rows, err := pool.Query(context.Background(), "SELECT id, finished_at FROM documents WHERE id = ANY($1) AND status = 'ready'", ids)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[uuid.UUID]time.Time{}
	for rows.Next() {
		var id uuid.UUID
		var at time.Time
		if err := rows.Scan(&id, &at); err != nil {
			t.Fatal(err)
		}
		out[id] = at
	}
	return out
}

// checkExact compares each document's chunk count with its chunks in
// Postgres and its points in the vector store.
func checkExact(t *testing.T, pool *pgxpool.Pool, vectors search.VectorStore, tenant uuid.UUID, ids []uuid.UUID) {
	t.Helper()
	for _, id := range ids {
		var want, rows int
		err := pool.QueryRow(context.Background(), `SELECT d.chunk_count, (SELECT count(*) FROM chunks c WHERE c.document_id = d.id)
			FROM documents d WHERE d.id = $1`, id).Scan(&want, &rows)
		if err != nil {
			t.Fatal(err)
		}
		points, err := vectors.Count(context.Background(), tenant, search.Filter{DocumentIDs: []uuid.UUID{id}})
		if err != nil {
			t.Fatal(err)
		}
		if want == 0 || rows != want || points != want {
			t.Errorf("document %s: chunk_count %d, %d chunk rows, %d points", id, want, rows, points)
		}
	}
}

// sandboxChildrenOf lists running extraction children started by pid
// (their environment names their parent).
func sandboxChildrenOf(pid int) []int {
	deadline := time.Now().Add(3 * time.Second)
	for {
		var out []int
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			var p int
			if _, err := fmt.Sscan(e.Name(), &p); err != nil {
				continue
			}
			env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
			if err != nil {
				continue
			}
			for _, kv := range bytes.Split(env, []byte{0}) {
				if v, ok := bytes.CutPrefix(kv, []byte("RAGD_SANDBOX_CHILD=")); ok && bytes.HasSuffix(v, fmt.Appendf(nil, ":%d", pid)) {
					out = append(out, p)
				}
			}
		}
		if len(out) == 0 || time.Now().After(deadline) {
			return out
		}
		time.Sleep(100 * time.Millisecond)
	}
}
