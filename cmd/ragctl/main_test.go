package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ragd/ragd/api/apitest"
	"github.com/ragd/ragd/extract/extracttest"
)

// ragctl runs the command and returns its output and exit code.
func ragctl(t *testing.T, env map[string]string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), append([]string{"ragctl"}, args...), func(k string) string { return env[k] }, &out, &errOut, false)
	code := 0
	if err != nil {
		code = exitFailed
		var ex *exitError
		if errors.As(err, &ex) {
			code = ex.code
		}
		errOut.WriteString(err.Error())
	}
	return out.String(), errOut.String(), code
}

func TestRagctl(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t, apitest.Options{})
	tenantID, key := srv.TenantKey(t, "Acme")
	env := map[string]string{"RAGD_URL": srv.URL, "RAGD_API_KEY": key}

	t.Run("UploadFolderWaitsAndSummarises", func(t *testing.T) {
		dir := t.TempDir()
		pdf := extracttest.ReportPDF()
		files := map[string][]byte{
			"handbook.md":        []byte("# Handbook\n\nEmployees get twenty-five vacation days."),
			"notes/meeting.txt":  []byte("The launch moves to March."),
			"notes/report.pdf":   pdf,
			"notes/broken.pdf":   pdf[:len(pdf)/2],
			"notes/skip.log":     []byte("excluded by glob"),
			".hidden/secret.txt": []byte("hidden folders are skipped"),
		}
		for name, data := range files {
			p := filepath.Join(dir, name)
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, data, 0o644)
		}
		out, errOut, code := ragctl(t, env, "upload", "--exclude", "*.log", "--tag", "docs", dir)
		if code != exitFailed {
			t.Fatalf("exit %d (one file is broken): %s %s", code, out, errOut)
		}
		if !strings.Contains(out, "3 ready, 1 failed") || !strings.Contains(out, "broken.pdf") || !strings.Contains(out, "pdf_malformed") {
			t.Fatalf("summary:\n%s", out)
		}
		if strings.Contains(errOut, "skip.log") || strings.Contains(errOut, "secret.txt") {
			t.Fatalf("excluded or hidden files were uploaded:\n%s", errOut)
		}
		if !strings.Contains(errOut, "uploaded "+filepath.Join(dir, "handbook.md")) || !strings.Contains(errOut, "ready "+filepath.Join(dir, "handbook.md")) {
			t.Fatalf("plain progress lines missing:\n%s", errOut)
		}

		out, _, code = ragctl(t, env, "search", "--mode", "sparse", "vacation", "days")
		if code != 0 || !strings.Contains(out, "handbook.md") || !strings.Contains(out, "Handbook") {
			t.Fatalf("search: %d\n%s", code, out)
		}
		out, _, _ = ragctl(t, env, "docs", "ls", "--tag", "docs")
		if strings.Count(out, "ready") != 3 || !strings.Contains(out, "failed (pdf_malformed)") {
			t.Fatalf("docs ls:\n%s", out)
		}
		out, _, code = ragctl(t, env, "--json", "docs", "ls", "--status", "failed")
		if code != 0 || !strings.Contains(out, `"status": "failed"`) {
			t.Fatalf("docs ls --json: %d %s", code, out)
		}
		if out, _, code := ragctl(t, env, "usage"); code != 0 || !strings.Contains(out, "\ndocuments: 4\n") {
			t.Fatalf("usage: %d %s", code, out)
		}
	})

	t.Run("ProtectedPDFWithPasswordEnv", func(t *testing.T) {
		const password = "correct horse battery"
		dir := t.TempDir()
		locked := extracttest.EncryptPDF(t, extracttest.ReportPDF(), t.TempDir(), "locked", password, "owner-pw", "256")
		os.WriteFile(filepath.Join(dir, "statement.pdf"), locked, 0o600)
		withPW := map[string]string{"RAGD_URL": srv.URL, "RAGD_API_KEY": key, "STATEMENT_PW": password}
		if _, errOut, code := ragctl(t, withPW, "upload", dir, "--password-env", "UNSET_PW"); code != exitUsage || !strings.Contains(errOut, "UNSET_PW is not set") {
			t.Fatalf("--password-env naming an unset variable: exit %d %s", code, errOut)
		}
		out, errOut, code := ragctl(t, withPW, "upload", dir, "--password-env", "STATEMENT_PW", "--tag", "locked")
		if code != 0 || !strings.HasPrefix(out, "1 ready, 0 failed") {
			t.Fatalf("upload with the password: %d\n%s%s", code, out, errOut)
		}
		if strings.Contains(out+errOut, password) {
			t.Fatalf("ragctl printed the password:\n%s%s", out, errOut)
		}
	})

	t.Run("EvalPrintsATableAndApplies", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "garden.md"), []byte("# Garden\n\nWater the tomatoes every morning in July."), 0o644)
		os.WriteFile(filepath.Join(dir, "bikes.md"), []byte("# Bikes\n\nBicycles are parked in the cellar behind the boiler."), 0o644)
		if out, errOut, code := ragctl(t, env, "upload", dir, "--tag", "eval"); code != 0 {
			t.Fatalf("upload: %d %s %s", code, out, errOut)
		}
		out, _, _ := ragctl(t, env, "--json", "docs", "ls", "--tag", "eval")
		var docs []struct{ ID, Title string }
		if err := json.Unmarshal([]byte(out), &docs); err != nil || len(docs) != 2 {
			t.Fatalf("docs ls: %v %s", err, out)
		}
		id := map[string]string{}
		for _, d := range docs {
			id[d.Title] = d.ID
		}
		judged := filepath.Join(t.TempDir(), "judged.jsonl")
		os.WriteFile(judged, []byte("# judged queries\n"+
			`{"query": "when to water tomatoes", "relevant": [{"document_id": "`+id["garden.md"]+`"}]}`+"\n\n"+
			`{"query": "where are bicycles parked", "relevant": [{"document_id": "`+id["bikes.md"]+`", "grade": 2}]}`+"\n"), 0o644)
		out, errOut, code := ragctl(t, env, "eval", judged, "--config", "sparse", "--config", "hybrid:convex:0.3/0.7", "--config", "dense")
		if code != 0 || !strings.Contains(out, "CONFIGURATION") || !strings.Contains(out, "hybrid convex 0.3/0.7") || !strings.Contains(out, "best") || !strings.Contains(out, "2 queries") {
			t.Fatalf("eval: %d\n%s%s", code, out, errOut)
		}
		// For an agent, applied: the agent then searches with the best.
		ragctl(t, env, "agents", "create", writeFile(t, "id: garden-bot\nname: G\nmodel: m\nretrieval:\n  mode: dense\n"))
		out, errOut, code = ragctl(t, env, "eval", judged, "--agent", "garden-bot", "--apply", "--config", "sparse")
		if code != 0 || !strings.Contains(out, "dense (agent)") || !strings.Contains(out, "agent garden-bot now searches with") {
			t.Fatalf("eval --agent --apply: %d\n%s%s", code, out, errOut)
		}
		if out, _, _ := ragctl(t, env, "--json", "agents", "show", "garden-bot"); !strings.Contains(out, `"mode": "sparse"`) {
			t.Fatalf("the best (sparse finds both first) was not applied:\n%s", out)
		}
		for name, args := range map[string][]string{
			"ApplyWithoutAgent": {"eval", judged, "--apply"},
			"NoFile":            {"eval", filepath.Join(dir, "missing.jsonl")},
			"NotJSON":           {"eval", writeFile(t, "query: nope\n")},
			"Empty":             {"eval", writeFile(t, "\n# nothing\n")},
			"BadConfig":         {"eval", judged, "--config", "hybrid:rrf:heavy"},
		} {
			if _, errOut, code := ragctl(t, env, args...); code != exitUsage {
				t.Errorf("%s: exit %d %s", name, code, errOut)
			}
		}
		// The server's validation comes back as a failure that names the field.
		bad := writeFile(t, `{"query": "x", "relevant": [{"external_id": "no-such-doc"}]}`+"\n")
		if _, errOut, code := ragctl(t, env, "eval", bad); code == 0 || !strings.Contains(errOut, "external_id") {
			t.Fatalf("an unknown external id: exit %d %s", code, errOut)
		}
	})

	t.Run("AgentsFromYAML", func(t *testing.T) {
		spec := filepath.Join(t.TempDir(), "agent.yaml")
		os.WriteFile(spec, []byte("id: yaml-bot\nname: YAML Bot\nmodel: gpt-4o-mini\nretrieval:\n  top_k: 3\n"), 0o644)
		if out, errOut, code := ragctl(t, env, "agents", "create", spec); code != 0 || !strings.HasPrefix(out, "id: yaml-bot\n") {
			t.Fatalf("agents create: %d %s %s", code, out, errOut)
		}
		patch := filepath.Join(t.TempDir(), "patch.json")
		os.WriteFile(patch, []byte(`{"temperature": 0.5}`), 0o644)
		if out, _, code := ragctl(t, env, "agents", "edit", "yaml-bot", patch); code != 0 || !strings.Contains(out, "\ntemperature: 0.5\n") {
			t.Fatalf("agents edit: %d %s", code, out)
		}
		// The retrieval column says what the agent retrieves with.
		if out, _, _ := ragctl(t, env, "agents", "ls"); !strings.Contains(out, "yaml-bot") || !strings.Contains(out, "hybrid, top 3") {
			t.Fatalf("agents ls:\n%s", out)
		}
		bad := filepath.Join(t.TempDir(), "bad.yaml")
		os.WriteFile(bad, []byte("name: [unclosed"), 0o644)
		if _, _, code := ragctl(t, env, "agents", "create", bad); code != exitUsage {
			t.Fatalf("a broken file: exit %d", code)
		}
	})

	t.Run("KeysAndTenants", func(t *testing.T) {
		out, _, code := ragctl(t, env, "--json", "keys", "create", "--name", "ci", "--scopes", "search")
		if code != 0 || !strings.Contains(out, "ragd_sk_") {
			t.Fatalf("keys create: %d %s", code, out)
		}
		if out, _, _ := ragctl(t, env, "keys", "ls"); !strings.Contains(out, "ci") || !strings.Contains(out, "active") {
			t.Fatalf("keys ls:\n%s", out)
		}
		admin := map[string]string{"RAGD_URL": srv.URL, "RAGD_API_KEY": apitest.AdminToken}
		if out, _, code := ragctl(t, admin, "tenants", "ls"); code != 0 || !strings.Contains(out, tenantID) {
			t.Fatalf("tenants ls: %d %s", code, out)
		}
		if _, _, code := ragctl(t, env, "tenants", "ls"); code != exitAuth {
			t.Fatalf("tenants ls with a tenant key: exit %d", code)
		}
		admin["RAGD_TENANT"] = tenantID
		if out, _, code := ragctl(t, admin, "agents", "ls"); code != 0 || !strings.Contains(out, "yaml-bot") {
			t.Fatalf("admin acting for the tenant: %d %s", code, out)
		}
	})

	// Issue 12: Go's flag stopped at the first argument, so each of these
	// did the wrong thing.
	t.Run("FlagsAfterArguments", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "a.md"), []byte("# Leave\n\nTwenty-five vacation days a year."), 0o644)
		os.WriteFile(filepath.Join(dir, "b.md"), []byte("# Travel\n\nVacation days and travel days differ."), 0o644)
		os.WriteFile(filepath.Join(dir, "c.txt"), []byte("left out by --include"), 0o644)
		out, errOut, code := ragctl(t, env, "upload", dir, "--include", "*.md", "--tag", "flags-after")
		if code != 0 || !strings.HasPrefix(out, "2 ready, 0 failed") || strings.Contains(errOut, "c.txt") {
			t.Fatalf("upload DIR --include: %d\n%s%s", code, out, errOut)
		}
		out, _, code = ragctl(t, env, "search", "vacation", "days", "--top-k", "1", "--tag", "flags-after")
		if code != 0 || !strings.HasPrefix(out, "1. [") || strings.Contains(out, "\n2. [") {
			t.Fatalf("search QUERY --top-k 1: %d\n%s", code, out)
		}
		out, _, code = ragctl(t, env, "search", "vacation days", "--json", "--top-k", "1", "--tag", "flags-after")
		var res struct{ Data []map[string]any }
		if code != 0 || json.Unmarshal([]byte(out), &res) != nil || len(res.Data) != 1 {
			t.Fatalf("search --json --top-k 1: %d\n%s", code, out)
		}
		admin := map[string]string{"RAGD_URL": srv.URL, "RAGD_API_KEY": apitest.AdminToken}
		out, _, code = ragctl(t, admin, "tenants", "create", "Example Co", "--clerk-org", "org_flags", "--slug", "example-flags", "--json")
		var tn struct {
			ID, Name, Slug string
			ClerkOrgID     string `json:"clerk_org_id"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &tn) != nil || tn.Name != "Example Co" || tn.ClerkOrgID != "org_flags" || tn.Slug != "example-flags" {
			t.Fatalf("tenants create NAME --clerk-org: %d\n%s", code, out)
		}
		// The long flags Go's flag package took with one dash still work.
		if out, _, code := ragctl(t, env, "-json", "docs", "ls", "-tag=flags-after"); code != 0 || strings.Count(out, `"status": "ready"`) != 2 {
			t.Fatalf("-json docs ls -tag=...: %d\n%s", code, out)
		}
	})

	t.Run("ResourceVerbs", func(t *testing.T) {
		admin := map[string]string{"RAGD_URL": srv.URL, "RAGD_API_KEY": apitest.AdminToken}
		out, _, code := ragctl(t, admin, "--json", "tenants", "create", "Verbs", "Co")
		var tn struct{ ID, Name string }
		if code != 0 || json.Unmarshal([]byte(out), &tn) != nil || tn.Name != "Verbs Co" {
			t.Fatalf("tenants create: %d %s", code, out)
		}
		patch := filepath.Join(t.TempDir(), "quotas.yaml")
		os.WriteFile(patch, []byte("quotas:\n  documents: 7\n"), 0o644)
		if out, _, code := ragctl(t, admin, "tenants", "edit", tn.ID, patch); code != 0 || !strings.Contains(out, "\n  documents: 7\n") {
			t.Fatalf("tenants edit: %d %s", code, out)
		}
		if out, _, code := ragctl(t, admin, "tenants", "show", tn.ID); code != 0 || !strings.Contains(out, "\nname: Verbs Co\n") {
			t.Fatalf("tenants show: %d %s", code, out)
		}
		spec := filepath.Join(t.TempDir(), "agent.json")
		os.WriteFile(spec, []byte(`{"id": "doomed", "name": "Doomed", "model": "gpt-4o-mini"}`), 0o644)
		if _, errOut, code := ragctl(t, env, "agents", "create", spec); code != 0 {
			t.Fatalf("agents create: %d %s", code, errOut)
		}
		if out, _, code := ragctl(t, env, "agents", "rm", "doomed"); code != 0 || out != "deleted doomed\n" {
			t.Fatalf("agents rm: %d %q", code, out)
		}
		if _, _, code := ragctl(t, env, "agents", "show", "doomed"); code != exitFailed {
			t.Fatalf("agents show after rm: exit %d", code)
		}
		if out, _, code := ragctl(t, admin, "tenants", "rm", tn.ID); code != 0 || out != "deleted "+tn.ID+"\n" {
			t.Fatalf("tenants rm: %d %q", code, out)
		}
		out, _, code = ragctl(t, env, "--json", "keys", "create", "--name", "short-lived")
		var k struct{ ID, Key string }
		if code != 0 || json.Unmarshal([]byte(out), &k) != nil || !strings.HasPrefix(k.Key, "ragd_sk_") {
			t.Fatalf("keys create --json: %d %s", code, out)
		}
		if out, _, code := ragctl(t, env, "keys", "revoke", k.ID); code != 0 || out != "revoked "+k.ID+"\n" {
			t.Fatalf("keys revoke: %d %q", code, out)
		}
		out, _, _ = ragctl(t, env, "keys", "ls", "--json")
		type keyJSON struct {
			ID        string
			RevokedAt *string `json:"revoked_at"`
		}
		var keys []keyJSON
		revoked := func(x keyJSON) bool { return x.ID == k.ID && x.RevokedAt != nil }
		if json.Unmarshal([]byte(out), &keys) != nil || !slices.ContainsFunc(keys, revoked) {
			t.Fatalf("keys ls --json prints the server's keys:\n%s", out)
		}
	})

	t.Run("HelpAndCompletion", func(t *testing.T) {
		none := map[string]string{}
		for _, args := range [][]string{{"help"}, {"--help"}, {"docs", "--help"}, {"help", "upload"}, {"completion", "bash"}, {"completion", "zsh"}} {
			if out, errOut, code := ragctl(t, none, args...); code != 0 || out == "" {
				t.Errorf("ragctl %v without credentials: exit %d, %d bytes\n%s", args, code, len(out), errOut)
			}
		}
		if out, _, _ := ragctl(t, none, "upload", "--help"); !strings.Contains(out, "--include stringArray") {
			t.Errorf("upload --help:\n%s", out)
		}
		// Shell completion asks the server for ids.
		out, _, code := ragctl(t, env, "__complete", "agents", "show", "yaml")
		if code != 0 || !strings.Contains(out, "yaml-bot\tYAML Bot") {
			t.Errorf("completing an agent id: %d\n%s", code, out)
		}
		if out, _, _ := ragctl(t, env, "__complete", "docs", "ls", "--status", ""); !strings.Contains(out, "failed") {
			t.Errorf("completing --status:\n%s", out)
		}
		if _, errOut, _ := ragctl(t, env, "serch", "x"); !strings.Contains(errOut, "search") {
			t.Errorf("no suggestion for a misspelt command: %s", errOut)
		}
	})

	t.Run("ExitCodes", func(t *testing.T) {
		for _, tc := range []struct {
			env  map[string]string
			args []string
			code int
		}{
			{map[string]string{"RAGD_URL": srv.URL}, []string{"docs", "ls"}, exitUsage},
			{env, []string{"frobnicate"}, exitUsage},
			{env, []string{}, exitUsage},
			{env, []string{"upload", "/nonexistent/path"}, exitUsage},
			{map[string]string{"RAGD_URL": srv.URL, "RAGD_API_KEY": "ragd_sk_wrong"}, []string{"docs", "ls"}, exitAuth},
			{map[string]string{"RAGD_URL": "http://127.0.0.1:1", "RAGD_API_KEY": key}, []string{"docs", "ls"}, exitUnreachable},
			{env, []string{"docs", "show", "00000000-0000-0000-0000-000000000000"}, exitFailed},
			{env, []string{"docs"}, exitUsage},
			{env, []string{"docs", "frobnicate"}, exitUsage},
			{env, []string{"docs", "show"}, exitUsage},
			{env, []string{"docs", "show", "a", "b"}, exitUsage},
			{env, []string{"docs", "ls", "--bogus"}, exitUsage},
			{env, []string{"search"}, exitUsage},
			{env, []string{"search", "x", "--top-k", "many"}, exitUsage},
			{env, []string{"upload", "--concurrency", "0", "."}, exitUsage},
			{env, []string{"tenants", "create", " "}, exitUsage},
			{map[string]string{"RAGD_URL": "localhost:8080", "RAGD_API_KEY": key}, []string{"docs", "ls"}, exitUsage},
			{map[string]string{"RAGD_URL": srv.URL, "RAGD_API_KEY": key}, []string{"docs", "ls", "--key", ""}, exitUsage},
			{map[string]string{"RAGD_URL": srv.URL}, []string{"--key", key, "docs", "ls"}, 0},
		} {
			if _, errOut, code := ragctl(t, tc.env, tc.args...); code != tc.code {
				t.Errorf("ragctl %v: exit %d, want %d (%s)", tc.args, code, tc.code, errOut)
			}
		}
	})
}

// writeFile writes content to a new temporary file and returns its path.
func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
