package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/api/apitest"
	"github.com/ragd/ragd/embedder"
	"github.com/ragd/ragd/search"
)

// TestEmbeddingsCommands: estimate a move to another embedding space,
// start it, list it, wait until search uses it, and roll it back, with a
// key that has only embeddings:write; then the refusals.
func TestEmbeddingsCommands(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t, apitest.Options{OfferedSpaces: []search.Space{{Model: embedder.LocalModel, Dimensions: 32}}})
	tenantID, all := srv.TenantKey(t, "Spaces")
	tid, err := uuid.Parse(tenantID)
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := srv.ControlPlane.CreateKey(context.Background(), tid, agents.KeyInput{Name: "emb", Scopes: []agents.Scope{agents.ScopeEmbeddingsWrite}})
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"RAGD_URL": srv.URL, "RAGD_API_KEY": key}

	upload := writeFile(t, "# Spaces\n\nA document to move to another embedding space.")
	if out, errOut, code := ragctl(t, map[string]string{"RAGD_URL": srv.URL, "RAGD_API_KEY": all}, "upload", upload); code != 0 || !strings.HasPrefix(out, "1 ready, 0 failed") {
		t.Fatalf("upload: %d %s %s", code, out, errOut)
	}
	from, to := embedder.LocalModel+"@64", embedder.LocalModel+"@32"

	out, errOut, code := ragctl(t, env, "embeddings", "migrate", embedder.LocalModel, "32", "--dry-run", "--rollback-window", "1h")
	want := "dry run, nothing started: " + from + " → " + to + ", rollback window 1h0m0s\nestimate: 1 document, 1 chunk, "
	if code != 0 || !strings.HasPrefix(out, want) || !strings.HasSuffix(out, " tokens; cost: 0.00 USD\n") {
		t.Fatalf("migrate --dry-run: %d\n%s%s\nwant it to start %q", code, out, errOut, want)
	}
	if out, _, code := ragctl(t, env, "embeddings", "ls"); code != 0 || strings.TrimSpace(out) != "ID  STATE  FROM  TO  PROGRESS  CREATED" {
		t.Fatalf("the dry run started a migration: %d\n%s", code, out)
	}

	out, errOut, code = ragctl(t, env, "embeddings", "migrate", embedder.LocalModel, "32")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "migration ") || !strings.Contains(lines[0], ": building ("+from+" → "+to+", rollback window 72h0m0s)") ||
		!strings.HasPrefix(lines[1], "estimate: 1 document, 1 chunk, ") {
		t.Fatalf("migrate: %d\n%s%s", code, out, errOut)
	}
	id := strings.TrimSuffix(strings.Fields(lines[0])[1], ":")

	out, _, code = ragctl(t, env, "embeddings", "ls")
	rows := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(rows) != 2 || !strings.HasPrefix(rows[0], "ID ") || !strings.Contains(rows[0], "PROGRESS") {
		t.Fatalf("ls: %d\n%s", code, out)
	}
	cols := strings.Fields(rows[1])
	if len(cols) != 7 || cols[0] != id || (cols[1] != "building" && cols[1] != "active") || cols[2] != from || cols[3] != to ||
		!strings.HasSuffix(cols[4], "/1") || cols[5] != "chunks" {
		t.Fatalf("ls row: %q", cols)
	}
	if _, err := time.Parse(time.RFC3339, cols[6]); err != nil {
		t.Fatalf("ls CREATED: %v", err)
	}

	// Search switches once the new index holds the document.
	var m struct {
		State      string
		SearchUses struct{ Dimensions int } `json:"search_uses"`
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, errOut, code := ragctl(t, env, "--json", "embeddings", "show", id)
		if code != 0 || json.Unmarshal([]byte(out), &m) != nil {
			t.Fatalf("show: %d %s %s", code, out, errOut)
		}
		if m.State == "active" {
			break
		}
		if m.State != "building" || time.Now().After(deadline) {
			t.Fatalf("migration %s, want active:\n%s", m.State, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if m.SearchUses.Dimensions != 32 {
		t.Fatalf("active, but search uses %d dimensions", m.SearchUses.Dimensions)
	}
	if out, _, code := ragctl(t, env, "embeddings", "ls"); code != 0 || !strings.Contains(out, id+"  active  "+from+"  "+to+"  1/1 chunks  ") {
		t.Fatalf("ls when active:\n%s", out)
	}
	// The admin acts for the tenant with RAGD_TENANT.
	admin := map[string]string{"RAGD_URL": srv.URL, "RAGD_API_KEY": apitest.AdminToken, "RAGD_TENANT": tenantID}
	if out, _, code := ragctl(t, admin, "embeddings", "ls"); code != 0 || !strings.Contains(out, id+"  active") {
		t.Fatalf("admin ls with RAGD_TENANT: %d\n%s", code, out)
	}

	if out, errOut, code := ragctl(t, env, "embeddings", "rollback", id); code != 0 || out != id+": rolled_back (search uses "+from+")\n" {
		t.Fatalf("rollback: %d %q %s", code, out, errOut)
	}
	if out, _, code := ragctl(t, env, "--json", "embeddings", "show", id); code != 0 || !strings.Contains(out, `"state": "rolled_back"`) {
		t.Fatalf("show after rollback: %d\n%s", code, out)
	}
	// A rolled-back migration can be neither cancelled nor completed.
	for _, verb := range []string{"cancel", "complete"} {
		if _, errOut, code := ragctl(t, env, "embeddings", verb, id); code != exitFailed || !strings.Contains(errOut, "409") {
			t.Errorf("%s after rollback: exit %d %s", verb, code, errOut)
		}
	}

	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"embeddings", "migrate", "m", "notanumber"}, exitUsage, `DIMENSIONS must be a positive whole number, not "notanumber"`},
		{[]string{"embeddings", "migrate", embedder.LocalModel}, exitUsage, "usage: ragctl embeddings migrate MODEL DIMENSIONS"},
		{[]string{"embeddings", "migrate"}, exitUsage, "usage: ragctl embeddings migrate MODEL DIMENSIONS"},
		{[]string{"embeddings", "migrate", embedder.LocalModel, "32", "--rollback-window", "3 days"}, exitUsage, "--rollback-window must be a duration"},
		{[]string{"embeddings", "rollback"}, exitUsage, "usage: ragctl embeddings rollback ID"},
		{[]string{"embeddings", "show", "a", "b"}, exitUsage, "usage: ragctl embeddings show ID"},
		{[]string{"embeddings"}, exitUsage, "needs a command"},
		// The server's refusals: a space not offered, and another key's scopes.
		{[]string{"embeddings", "migrate", embedder.LocalModel, "48"}, exitFailed, "is not one of the models offered: " + to},
	} {
		out, errOut, code := ragctl(t, env, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.says) {
			t.Errorf("ragctl %v: exit %d, want %d saying %q\n%s%s", tc.args, code, tc.code, tc.says, out, errOut)
		}
	}
	_, noScope, err := srv.ControlPlane.CreateKey(context.Background(), tid, agents.KeyInput{Name: "search", Scopes: []agents.Scope{agents.ScopeSearch}})
	if err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := ragctl(t, map[string]string{"RAGD_URL": srv.URL, "RAGD_API_KEY": noScope}, "embeddings", "ls"); code != exitAuth || !strings.Contains(errOut, "forbidden_scope") {
		t.Fatalf("ls without embeddings:write: exit %d %s", code, errOut)
	}
}

// TestMigrationEstimateText: the estimate as printed, with a price, a
// fraction of a cent, and none known.
func TestMigrationEstimateText(t *testing.T) {
	for answer, want := range map[string]string{
		`{"id": "m1", "state": "building", "from": {"model": "a", "dimensions": 64}, "to": {"model": "text-embedding-3-large", "dimensions": 1024},
		  "rollback_window_seconds": 259200, "estimate": {"documents": 120, "chunks": 4000, "tokens": 2000000, "cost_usd": 0.26}}`: "migration m1: building (a@64 → text-embedding-3-large@1024, rollback window 72h0m0s)\n" +
			"estimate: 120 documents, 4000 chunks, 2000000 tokens; cost: 0.26 USD",
		`{"state": "dry_run", "dry_run": true, "from": {"model": "a", "dimensions": 64}, "to": {"model": "b", "dimensions": 8},
		  "rollback_window_seconds": 0, "estimate": {"documents": 1, "chunks": 1, "tokens": 23, "cost_usd": 0.00000046}}`: "dry run, nothing started: a@64 → b@8, rollback window 0s\n" +
			"estimate: 1 document, 1 chunk, 23 tokens; cost: 0.000000460 USD",
		`{"state": "dry_run", "dry_run": true, "from": {"model": "a", "dimensions": 64}, "to": {"model": "custom", "dimensions": 8},
		  "rollback_window_seconds": 3600, "estimate": {"documents": 0, "chunks": 0, "tokens": 0, "cost_usd": null}}`: "dry run, nothing started: a@64 → custom@8, rollback window 1h0m0s\n" +
			"estimate: 0 documents, 0 chunks, 0 tokens; cost: unknown price",
	} {
		got, err := migrationStarted("", json.RawMessage(answer))
		if err != nil || got != want {
			t.Errorf("got %q (%v), want %q", got, err, want)
		}
	}
	var m migration
	m.Estimate.Chunks = 0
	if got := m.progress(); got != "-" {
		t.Errorf("no progress: %q", got)
	}
}
