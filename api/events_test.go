package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ragd/ragd/api/apitest"
)

// readEvents reads a Server-Sent Events stream until it ends.
func readEvents(t *testing.T, b *testBundle, path, key string) []struct {
	Event string
	Data  map[string]any
} {
	t.Helper()
	req, _ := http.NewRequest("GET", b.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	client := &http.Client{Timeout: 60 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var out []struct {
		Event string
		Data  map[string]any
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var event string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			var d map[string]any
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &d); err != nil {
				t.Fatalf("bad event data %q", line)
			}
			out = append(out, struct {
				Event string
				Data  map[string]any
			}{event, d})
		}
	}
	return out
}

func TestDocumentEvents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, key := b.TenantWithKey("acme")
	_, keyB := b.TenantWithKey("other")
	id := b.Must(202, "POST", "/v1/documents", key, map[string]any{"text": strings.Repeat("Events follow a document through its stages. ", 200)}).JSON(t)["id"].(string)

	events := readEvents(t, b, "/v1/documents/"+id+"/events", key)
	if len(events) == 0 {
		t.Fatal("no events")
	}
	last := events[len(events)-1]
	if last.Event != "document" || last.Data["status"] != "ready" || last.Data["progress"] != 1.0 {
		t.Fatalf("the stream did not end with the ready document: %+v", last)
	}
	for i := 1; i < len(events); i++ {
		if events[i].Data["progress"].(float64) < events[i-1].Data["progress"].(float64) {
			t.Fatalf("progress went backwards: %v", events)
		}
		// Each event says something new (the stage was once compared by
		// its pointer, and every read sent the same stage again).
		state := func(d map[string]any) string {
			return fmt.Sprint(d["status"], d["stage"], d["progress"], d["content_version"])
		}
		if state(events[i].Data) == state(events[i-1].Data) {
			t.Fatalf("events %d and %d report the same state: %v", i-1, i, events)
		}
	}
	// A finished document answers with one event and ends.
	if again := readEvents(t, b, "/v1/documents/"+id+"/events", key); len(again) != 1 || again[0].Data["status"] != "ready" {
		t.Fatalf("events of a ready document: %+v", again)
	}
	// Another tenant's document is not found; no stream starts.
	b.Must(404, "GET", "/v1/documents/"+id+"/events", keyB, nil)
}

// documentQueries counts the queries of the server's pool that name the
// documents table.
type documentQueries struct{ n atomic.Int64 }

func (q *documentQueries) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if strings.Contains(data.SQL, "documents") {
		q.n.Add(1)
	}
	return ctx
}

func (q *documentQueries) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TestDocumentEventsCostNothingWhileIdle: a thousand open streams on a
// document that does not change make no query of the documents table;
// when it changes, every stream hears of it, and a deleted document ends
// them all.
func TestDocumentEventsCostNothingWhileIdle(t *testing.T) {
	t.Parallel()
	queries := &documentQueries{}
	b := setupWith(t, apitest.Options{ConfigurePool: func(c *pgxpool.Config) { c.ConnConfig.Tracer = queries }})
	tenant, key := b.TenantWithKey("idle")
	// A document that stays processing: no job will touch it.
	var id string
	err := b.pool.QueryRow(t.Context(), `INSERT INTO documents (id, tenant_id, title, type, size_bytes, sha256, status, stage)
		VALUES (gen_random_uuid(), $1, 'idle', 'text', 1, sha256('x'), 'processing', 'embedding') RETURNING id::text`, tenant).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	const streams = 1000
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: streams}}
	type stream struct {
		events chan string
	}
	all := make([]stream, streams)
	for i := range all {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", b.url+"/v1/documents/"+id+"/events", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := client.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("stream %d: %v", i, err)
		}
		s := stream{events: make(chan string, 16)}
		go func() {
			defer resp.Body.Close()
			defer close(s.events)
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				if e, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
					s.events <- e
				}
			}
		}()
		all[i] = s
	}
	for i, s := range all {
		if e := <-s.events; e != "document" {
			t.Fatalf("stream %d began with %q", i, e)
		}
	}
	// Every stream has read the document once; count the queries of the
	// documents table three idle seconds cost. (Polling streams would
	// cost thousands.)
	before := queries.n.Load()
	if before < streams {
		t.Fatalf("%d queries of documents seen for %d streams' first reads: the tracer does not watch the server's pool", before, streams)
	}
	time.Sleep(3 * time.Second)
	after := queries.n.Load()
	t.Logf("%d open streams, 3 s idle: %d queries of documents", streams, after-before)
	if after != before {
		t.Fatalf("%d queries of the documents table while nothing changed (%d streams)", after-before, streams)
	}

	// A change, announced after its commit as ingest.Documents does.
	if _, err := b.pool.Exec(t.Context(), "UPDATE documents SET progress = 0.9 WHERE id = $1", id); err != nil {
		t.Fatal(err)
	}
	if _, err := b.pool.Exec(t.Context(), "SELECT pg_notify('ragd_documents', $1)", id); err != nil {
		t.Fatal(err)
	}
	for i, s := range all {
		select {
		case e := <-s.events:
			if e != "document" {
				t.Fatalf("stream %d: %q after a change", i, e)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("stream %d did not hear of the change", i)
		}
	}
	if _, err := b.pool.Exec(t.Context(), "DELETE FROM documents WHERE id = $1", id); err != nil {
		t.Fatal(err)
	}
	for i, s := range all {
		select {
		case e := <-s.events:
			if e != "deleted" {
				t.Fatalf("stream %d: %q after the delete", i, e)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("stream %d did not hear of the delete", i)
		}
	}
}
