package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ragd/ragd/api/apitest"
	"github.com/ragd/ragd/ingest/ingesttest"
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
		pdf := ingesttest.ReportPDF()
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
		if out, _, code := ragctl(t, env, "usage"); code != 0 || !strings.Contains(out, `"documents": 4`) {
			t.Fatalf("usage: %d %s", code, out)
		}
	})

	t.Run("AgentsFromYAML", func(t *testing.T) {
		spec := filepath.Join(t.TempDir(), "agent.yaml")
		os.WriteFile(spec, []byte("id: yaml-bot\nname: YAML Bot\nmodel: gpt-4o-mini\nretrieval:\n  top_k: 3\n"), 0o644)
		if out, errOut, code := ragctl(t, env, "agents", "create", spec); code != 0 || !strings.Contains(out, `"id": "yaml-bot"`) {
			t.Fatalf("agents create: %d %s %s", code, out, errOut)
		}
		patch := filepath.Join(t.TempDir(), "patch.json")
		os.WriteFile(patch, []byte(`{"temperature": 0.5}`), 0o644)
		if out, _, code := ragctl(t, env, "agents", "edit", "yaml-bot", patch); code != 0 || !strings.Contains(out, `"temperature": 0.5`) {
			t.Fatalf("agents edit: %d %s", code, out)
		}
		if out, _, _ := ragctl(t, env, "agents", "ls"); !strings.Contains(out, "yaml-bot") {
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
		} {
			if _, errOut, code := ragctl(t, tc.env, tc.args...); code != tc.code {
				t.Errorf("ragctl %v: exit %d, want %d (%s)", tc.args, code, tc.code, errOut)
			}
		}
	})
}
