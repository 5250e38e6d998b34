package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/extract"
	"github.com/ragd/ragd/postgres"
	"github.com/ragd/ragd/postgres/pgtest"
	"github.com/ragd/ragd/search"
	"github.com/ragd/ragd/search/qdranttest"
	"github.com/ragd/ragd/secret"
)

func envFrom(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// TestHelpIsNoFailure: `ragd serve -h` prints the flags, and run says it
// was asked for help (main exits 0 without "ragd: flag: help requested").
func TestHelpIsNoFailure(t *testing.T) {
	var stderr bytes.Buffer
	err := run(t.Context(), []string{"ragd", "serve", "-h"}, func(string) string { return "" }, io.Discard, &stderr)
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr.String(), "-workers") {
		t.Fatalf("serve -h: %v\n%s", err, stderr.String())
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	base := func() map[string]string {
		return map[string]string{"DATABASE_URL": "postgres://localhost/x", "RAGD_DATA_DIR": t.TempDir()}
	}
	cases := map[string]struct {
		key, value string
	}{
		"MissingDatabaseURL": {"DATABASE_URL", ""},
		"BadAddr":            {"RAGD_ADDR", "localhost"},
		"ShortAdminToken":    {"RAGD_ADMIN_TOKEN", "short"},
		"BadEncryptionKey":   {"RAGD_ENCRYPTION_KEY", "not-base64-of-32-bytes"},
		"ShortEncryptionKey": {"RAGD_ENCRYPTION_KEY", "AAAA"},
		"BadPreviousKey":     {"RAGD_ENCRYPTION_KEY_PREVIOUS", base64.StdEncoding.EncodeToString(make([]byte, 32)) + ",not-a-key"},
		"BadEnv":             {"RAGD_ENV", "staging"},
		"BadAutoMigrate":     {"RAGD_AUTO_MIGRATE", "perhaps"},
		"BadTimeout":         {"RAGD_SHUTDOWN_TIMEOUT", "-5s"},
		"BadLogFormat":       {"RAGD_LOG_FORMAT", "xml"},
		"BadLogLevel":        {"RAGD_LOG_LEVEL", "loud"},
		"BadExtractMemory":   {"RAGD_EXTRACT_MEMORY", "10MiB"},
		"BadExtractCPU":      {"RAGD_EXTRACT_CPU", "soon"},
		"BadExtractCPUBase":  {"RAGD_EXTRACT_CPU_BASE", "0s"},
		"BadExtractCPURate":  {"RAGD_EXTRACT_CPU_PER_MIB", "fast"},
		"BadQuotaDocuments":  {"RAGD_QUOTA_DOCUMENTS", "-3"},
		"BadQuotaBytes":      {"RAGD_QUOTA_STORED_BYTES", "lots"},
		"BadQuotaTokens":     {"RAGD_QUOTA_EMBEDDING_TOKENS", "1e9"},
		"BadDocumentTokens":  {"RAGD_MAX_DOCUMENT_TOKENS", "10"},
		"BadUploadBudget":    {"RAGD_MAX_INFLIGHT_UPLOAD_BYTES", "lots"},
		"BudgetBelowMaxFile": {"RAGD_MAX_INFLIGHT_UPLOAD_BYTES", "10MiB"},
		"BadOCR":             {"RAGD_OCR", "maybe"},
		"BadOCRLanguages":    {"RAGD_OCR_LANGUAGES", "eng;rm -rf"},
		"BadOCRTimeout":      {"RAGD_EXTRACT_OCR_TIMEOUT", "soon"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := base()
			env[tc.key] = tc.value
			_, err := loadConfig("serve", nil, envFrom(env), io.Discard)
			if err == nil {
				t.Fatalf("%s=%q accepted", tc.key, tc.value)
			}
			if !strings.HasPrefix(err.Error(), tc.key+":") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q is not one line naming %s", err, tc.key)
			}
		})
	}

	t.Run("WorkerNeedsQdrant", func(t *testing.T) {
		t.Parallel()
		_, err := loadConfig("worker", nil, envFrom(base()), io.Discard)
		if err == nil || !strings.HasPrefix(err.Error(), "QDRANT_URL:") || strings.Contains(err.Error(), "\n") {
			t.Fatalf("worker without QDRANT_URL: %v, want one line naming QDRANT_URL", err)
		}
		env := base()
		env["QDRANT_URL"] = "http://localhost:6334"
		if _, err := loadConfig("worker", nil, envFrom(env), io.Discard); err != nil {
			t.Fatalf("worker with QDRANT_URL: %v", err)
		}
		// serve runs its own workers beside its API: the embedded store is fine.
		if _, err := loadConfig("serve", nil, envFrom(base()), io.Discard); err != nil {
			t.Fatalf("serve without QDRANT_URL: %v", err)
		}
	})

	t.Run("QuotasAndExtractionLimits", func(t *testing.T) {
		t.Parallel()
		env := base()
		env["RAGD_QUOTA_DOCUMENTS"], env["RAGD_QUOTA_STORED_BYTES"] = "1000", "2GiB"
		env["RAGD_EXTRACT_MEMORY"], env["RAGD_EXTRACT_TIMEOUT"] = "512MiB", "90s"
		cfg, err := loadConfig("serve", nil, envFrom(env), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		q := cfg.Quotas
		if q.Documents == nil || *q.Documents != 1000 || q.StoredBytes == nil || *q.StoredBytes != 2<<30 || q.EmbeddingTokensPerMonth != nil {
			t.Fatalf("quotas %+v", q)
		}
		// Pages are read on GOMAXPROCS threads: the processor time allowed
		// by default grows with them, so that the clock limit acts first.
		cpu := 90 * time.Second * time.Duration(runtime.GOMAXPROCS(0))
		if cfg.ExtractMemory != 512<<20 || cfg.ExtractCPU != cpu || cfg.MaxDocumentTokens != 3_000_000 || cfg.MaxPages != extract.DefaultMaxPages {
			t.Fatalf("extraction limits: memory %d, cpu %s, tokens %d", cfg.ExtractMemory, cfg.ExtractCPU, cfg.MaxDocumentTokens)
		}
	})

	t.Run("OCR", func(t *testing.T) {
		t.Parallel()
		env := base()
		env["RAGD_OCR"], env["RAGD_OCR_LANGUAGES"] = "off", "eng+deu"
		cfg, err := loadConfig("serve", nil, envFrom(env), io.Discard)
		if err != nil || cfg.OCR != (extract.OCRTools{}) || cfg.OCRLanguages != "eng+deu" {
			t.Fatalf("RAGD_OCR=off: %+v, %q, %v", cfg.OCR, cfg.OCRLanguages, err)
		}
		cfg, err = loadConfig("serve", nil, envFrom(base()), io.Discard)
		if err != nil || cfg.OCR != extract.FindOCRTools() || cfg.OCRLanguages != extract.DefaultOCRLanguages {
			t.Fatalf("default: %+v, %q, %v", cfg.OCR, cfg.OCRLanguages, err)
		}
		if cfg.ExtractOCRTimeout != extract.DefaultOCRTimeout {
			t.Fatalf("OCR ceiling %s by default", cfg.ExtractOCRTimeout)
		}
		env = base()
		env["RAGD_EXTRACT_OCR_TIMEOUT"] = "30m"
		if cfg, err := loadConfig("serve", nil, envFrom(env), io.Discard); err != nil || cfg.ExtractOCRTimeout != 30*time.Minute {
			t.Fatalf("RAGD_EXTRACT_OCR_TIMEOUT=30m: %s, %v", cfg.ExtractOCRTimeout, err)
		}
		if cfg.OCR.Tesseract == "" {
			t.Fatal("tesseract is not installed (scripts/test-deps.sh, which make test runs, installs it)")
		}
		if !slices.Contains(cfg.OCRInstalled, "eng") || slices.Contains(cfg.OCRInstalled, "osd") {
			t.Fatalf("installed languages %v: want eng, without osd", cfg.OCRInstalled)
		}
		// A language tesseract has no data for would fail every scan:
		// refused at start, with the package to install.
		env = base()
		env["RAGD_OCR_LANGUAGES"] = "eng+zzz"
		if _, err := loadConfig("serve", nil, envFrom(env), io.Discard); err == nil || !strings.Contains(err.Error(), "tesseract-ocr-zzz") {
			t.Fatalf("an uninstalled language: %v", err)
		}
	})

	t.Run("ExtractBudgetScales", func(t *testing.T) {
		t.Parallel()
		cfg, err := loadConfig("serve", nil, envFrom(base()), io.Discard)
		if err != nil || cfg.ExtractCPUBase != extract.DefaultCPUBase || cfg.ExtractCPUPerMiB != extract.DefaultCPUPerMiB {
			t.Fatalf("default budget: base %s, rate %s, %v", cfg.ExtractCPUBase, cfg.ExtractCPUPerMiB, err)
		}
		env := base()
		env["RAGD_EXTRACT_CPU_BASE"], env["RAGD_EXTRACT_CPU_PER_MIB"] = "20s", "1m"
		if cfg, err = loadConfig("serve", nil, envFrom(env), io.Discard); err != nil || cfg.ExtractCPUBase != 20*time.Second || cfg.ExtractCPUPerMiB != time.Minute {
			t.Fatalf("set budget: base %s, rate %s, %v", cfg.ExtractCPUBase, cfg.ExtractCPUPerMiB, err)
		}
		env["RAGD_EXTRACT_CPU_PER_MIB"] = "off"
		if cfg, err = loadConfig("serve", nil, envFrom(env), io.Discard); err != nil || cfg.ExtractCPUPerMiB >= 0 {
			t.Fatalf("budget off: rate %s, %v", cfg.ExtractCPUPerMiB, err)
		}
	})

	t.Run("FlagsOverrideEnvironment", func(t *testing.T) {
		t.Parallel()
		cfg, err := loadConfig("serve", []string{"--addr", "127.0.0.1:9999"}, envFrom(base()), io.Discard)
		if err != nil || cfg.Addr != "127.0.0.1:9999" {
			t.Fatalf("addr = %q, %v", cfg.Addr, err)
		}
	})

	t.Run("UploadBudgetDefaultsAndParses", func(t *testing.T) {
		t.Parallel()
		cfg, err := loadConfig("serve", nil, envFrom(base()), io.Discard)
		if err != nil || cfg.MaxInflightUploadBytes != 256<<20 || cfg.UploadSpoolDir != "" {
			t.Fatalf("default budget = %d, spool dir %q, %v", cfg.MaxInflightUploadBytes, cfg.UploadSpoolDir, err)
		}
		env := base()
		env["RAGD_MAX_INFLIGHT_UPLOAD_BYTES"], env["RAGD_UPLOAD_SPOOL_DIR"] = "1GiB", "/var/spool/ragd"
		cfg, err = loadConfig("serve", nil, envFrom(env), io.Discard)
		if err != nil || cfg.MaxInflightUploadBytes != 1<<30 || cfg.UploadSpoolDir != "/var/spool/ragd" {
			t.Fatalf("budget = %d, spool dir %q, %v", cfg.MaxInflightUploadBytes, cfg.UploadSpoolDir, err)
		}
	})

	t.Run("StringRedactsSecrets", func(t *testing.T) {
		t.Parallel()
		env := base()
		env["RAGD_ADMIN_TOKEN"] = "admin-token-plaintext-1234"
		key, prev := secret.NewKey(), secret.NewKey()
		env["RAGD_ENCRYPTION_KEY"] = base64.StdEncoding.EncodeToString(key)
		env["RAGD_ENCRYPTION_KEY_PREVIOUS"] = base64.RawURLEncoding.EncodeToString(prev)
		cfg, err := loadConfig("serve", nil, envFrom(env), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		s := cfg.String()
		if strings.Contains(s, "plaintext") || !strings.Contains(s, "id:"+secret.KeyID(key)) || !strings.Contains(s, "id:"+secret.KeyID(prev)) {
			t.Fatalf("config prints: %s", s)
		}
		for _, k := range [][]byte{key, prev} {
			for _, enc := range []string{base64.StdEncoding.EncodeToString(k), base64.RawURLEncoding.EncodeToString(k), string(k[len(k)-4:])} {
				if strings.Contains(s, enc) {
					t.Fatalf("config prints key material: %s", s)
				}
			}
		}
	})

	t.Run("DevelopmentGeneratesSecretsOnce", func(t *testing.T) {
		t.Parallel()
		env := base()
		cfg, err := loadConfig("serve", nil, envFrom(env), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		log := newLogger(cfg, io.Discard)
		tok1, err1 := cfg.adminToken(log)
		tok2, err2 := cfg.adminToken(log)
		key1, err3 := cfg.encryptionKey(log)
		key2, err4 := cfg.encryptionKey(log)
		if err := cmpErr(err1, err2, err3, err4); err != nil {
			t.Fatal(err)
		}
		if tok1 == "" || tok1 != tok2 || len(key1) != 32 || !bytes.Equal(key1, key2) {
			t.Fatalf("generated secrets differ between calls: %q %q", tok1, tok2)
		}
		st, err := os.Stat(filepath.Join(env["RAGD_DATA_DIR"], "admin-token"))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("admin-token file mode = %v, %v", st.Mode(), err)
		}
	})

	t.Run("ProductionRequiresSecrets", func(t *testing.T) {
		t.Parallel()
		env := base()
		env["RAGD_ENV"] = "production"
		cfg, err := loadConfig("serve", nil, envFrom(env), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		log := newLogger(cfg, io.Discard)
		if _, err := cfg.adminToken(log); err == nil || !strings.HasPrefix(err.Error(), "RAGD_ADMIN_TOKEN:") {
			t.Fatalf("admin token in production: %v", err)
		}
		if _, err := cfg.encryptionKey(log); err == nil || !strings.HasPrefix(err.Error(), "RAGD_ENCRYPTION_KEY:") {
			t.Fatalf("encryption key in production: %v", err)
		}
		if entries, _ := os.ReadDir(env["RAGD_DATA_DIR"]); len(entries) != 0 {
			t.Fatalf("production wrote %d files into the data dir", len(entries))
		}
	})
}

func cmpErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func TestRun(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"DATABASE_URL":    pgtest.NewEmptyDatabaseURL(t),
		"RAGD_DATA_DIR":   t.TempDir(),
		"RAGD_ADDR":       "127.0.0.1:0",
		"RAGD_LOG_FORMAT": "json",
	}
	ctx := context.Background()
	runOut := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := run(ctx, append([]string{"ragd"}, args...), envFrom(env), &out, io.Discard); err != nil {
			t.Fatalf("ragd %s: %v", strings.Join(args, " "), err)
		}
		return out.String()
	}

	if out := runOut("version"); !strings.HasPrefix(out, "ragd ") {
		t.Fatalf("version printed %q", out)
	}
	if err := run(ctx, []string{"ragd", "frobnicate"}, envFrom(env), io.Discard, io.Discard); err == nil {
		t.Fatal("an unknown command succeeded")
	}

	t.Run("MigrateIsIdempotent", func(t *testing.T) {
		migs, err := postgres.SchemaMigrations()
		if err != nil {
			t.Fatal(err)
		}
		if out := runOut("migrate"); !strings.Contains(out, fmt.Sprintf("migrated: %d ragd", len(migs))) {
			t.Fatalf("first migrate printed %q", out)
		}
		if out := runOut("migrate"); !strings.Contains(out, "migrated: 0 ragd migrations and 0 River") {
			t.Fatalf("second migrate printed %q", out)
		}
	})

	t.Run("SeedIsIdempotent", func(t *testing.T) {
		keyRE := regexp.MustCompile(`api key: (ragd_sk_\S+)`)
		first := runOut("seed")
		if keys := keyRE.FindAllString(first, -1); len(keys) != 3 || !strings.Contains(first, "seeded: 6 new agents") {
			t.Fatalf("first seed printed %q", first)
		}
		// A second make run prints the same keys again (kept in the data
		// directory, as the admin token is), and makes nothing new.
		second := runOut("seed")
		if keys := keyRE.FindAllString(second, -1); !slices.Equal(keys, keyRE.FindAllString(first, -1)) || !strings.Contains(second, "seeded: 0 new agents") {
			t.Fatalf("second seed printed %q after %q", second, first)
		}
		// A lost key file gives new keys, not none.
		if err := os.Remove(filepath.Join(env["RAGD_DATA_DIR"], "demo-keys")); err != nil {
			t.Fatal(err)
		}
		third := runOut("seed")
		if keys := keyRE.FindAllString(third, -1); len(keys) != 3 || slices.Contains(keys, keyRE.FindAllString(first, -1)[0]) {
			t.Fatalf("seed without its key file printed %q", third)
		}
	})

	t.Run("DemoKeysHaveEveryScope", func(t *testing.T) {
		key := regexp.MustCompile(`tenant acme .*api key: (ragd_sk_\S+)`).FindStringSubmatch(runOut("seed"))
		if key == nil {
			t.Fatal("no key for acme")
		}
		pool, err := postgres.Open(ctx, env["DATABASE_URL"])
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		cp := agents.NewControlPlane(pool, nil, nil)
		k, err := cp.Authenticate(ctx, key[1])
		if err != nil || !slices.Equal(k.Scopes, agents.AllScopes) {
			t.Fatalf("the demo key's scopes: %v, %v", k.Scopes, err)
		}
		// A kept key from before a scope was added (here: the defaults
		// only) is replaced by one with every scope, as is a revoked one.
		old, oldKey, err := cp.CreateKey(ctx, k.TenantID, agents.KeyInput{Name: "older demo", Scopes: agents.DefaultScopes})
		if err != nil {
			t.Fatal(err)
		}
		for _, step := range []string{"fewer scopes", "revoked"} {
			if step == "revoked" {
				if _, err := cp.RevokeKey(ctx, k.TenantID, old.ID); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(env["RAGD_DATA_DIR"], "demo-keys"), []byte("acme "+oldKey+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			got := regexp.MustCompile(`tenant acme .*api key: (ragd_sk_\S+)`).FindStringSubmatch(runOut("seed"))
			if got == nil || got[1] == oldKey {
				t.Fatalf("%s: seed kept the old key", step)
			}
			if k, err := cp.Authenticate(ctx, got[1]); err != nil || !slices.Equal(k.Scopes, agents.AllScopes) {
				t.Fatalf("%s: the new demo key's scopes: %v, %v", step, k.Scopes, err)
			}
		}
	})

	t.Run("ReindexRebuildsFromPostgres", func(t *testing.T) {
		if out := runOut("reindex"); !strings.Contains(out, "reindexed 0 documents") {
			t.Fatalf("reindex printed %q", out)
		}
		if err := run(ctx, []string{"ragd", "reindex", "--tenant", "nope"}, envFrom(env), io.Discard, io.Discard); err == nil {
			t.Fatal("reindex accepted a malformed tenant id")
		}
	})

	t.Run("ReindexBesideServeSaysWhy", func(t *testing.T) {
		// What a running serve with the embedded store holds.
		vectors, err := search.OpenEmbedded(filepath.Join(env["RAGD_DATA_DIR"], "vectors"))
		if err != nil {
			t.Fatal(err)
		}
		defer vectors.Close()
		err = run(ctx, []string{"ragd", "reindex"}, envFrom(env), io.Discard, io.Discard)
		if err == nil || !strings.HasPrefix(err.Error(), "RAGD_DATA_DIR:") || !strings.Contains(err.Error(), "stop it") || strings.Contains(err.Error(), "\n") {
			t.Fatalf("reindex beside a serve: %v, want one line saying what to do", err)
		}
	})

	t.Run("WorkerRunsUntilCancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		// A worker needs Qdrant and the encryption key (it opens the
		// passwords of protected PDFs), not the admin token: production
		// does not ask for it, and nothing is generated into the data
		// directory.
		workerEnv := maps.Clone(env)
		workerEnv["QDRANT_URL"] = qdranttest.Start(t)
		workerEnv["RAGD_ENV"] = "production"
		workerEnv["RAGD_DATA_DIR"] = t.TempDir()
		delete(workerEnv, "RAGD_ENCRYPTION_KEY")
		if err := run(ctx, []string{"ragd", "worker", "--workers", "1"}, envFrom(workerEnv), io.Discard, io.Discard); err == nil || !strings.HasPrefix(err.Error(), "RAGD_ENCRYPTION_KEY:") {
			t.Fatalf("production worker without an encryption key: %v, want an error naming RAGD_ENCRYPTION_KEY", err)
		}
		workerEnv["RAGD_ENCRYPTION_KEY"] = base64.StdEncoding.EncodeToString(secret.NewKey())
		logR, logW := io.Pipe()
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, []string{"ragd", "worker", "--workers", "1"}, envFrom(workerEnv), io.Discard, logW)
			logW.Close()
		}()
		started := make(chan struct{})
		go func() {
			sc := bufio.NewScanner(logR)
			var once sync.Once
			for sc.Scan() {
				if strings.Contains(sc.Text(), `"msg":"ragd worker running"`) {
					once.Do(func() { close(started) })
				}
			}
		}()
		select {
		case <-started:
		case err := <-done:
			t.Fatalf("worker ended early: %v", err)
		case <-time.After(30 * time.Second):
			t.Fatal("worker did not start")
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("worker returned %v after cancel", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("worker did not stop after cancel")
		}
		if entries, _ := os.ReadDir(workerEnv["RAGD_DATA_DIR"]); len(entries) != 0 {
			t.Fatalf("the worker wrote %d files into its data directory", len(entries))
		}
		if err := run(context.Background(), []string{"ragd", "worker", "--workers", "0"}, envFrom(workerEnv), io.Discard, io.Discard); err == nil || !strings.HasPrefix(err.Error(), "RAGD_WORKERS:") {
			t.Fatalf("worker with no workers: %v", err)
		}
	})

	t.Run("ServeAnswersAndShutsDownOnCancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		base, done := startServe(t, ctx, env)
		for _, path := range []string{"/healthz", "/readyz"} {
			resp, err := http.Get(base + path)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("GET %s: %v %v", path, resp, err)
			}
			resp.Body.Close()
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("serve returned %v after cancel", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not stop after cancel")
		}
	})
}

// TestCommandsCheckTheSchema: every command that does not migrate refuses
// to start on a database without the schema it was built for, with one
// line saying what to run, and changes nothing.
func TestCommandsCheckTheSchema(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"DATABASE_URL":    pgtest.NewEmptyDatabaseURL(t),
		"RAGD_DATA_DIR":   t.TempDir(),
		"RAGD_ADDR":       "127.0.0.1:0",
		"RAGD_LOG_FORMAT": "json",
		"QDRANT_URL":      qdranttest.Start(t),
	}
	for _, args := range [][]string{{"worker"}, {"seed"}, {"reindex"}, {"serve", "--migrate=false"}} {
		err := run(context.Background(), append([]string{"ragd"}, args...), envFrom(env), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "run `ragd migrate`") || strings.Contains(err.Error(), "\n") {
			t.Errorf("ragd %s on an empty database: %v, want one line saying to run ragd migrate", strings.Join(args, " "), err)
		}
	}
	env["RAGD_AUTO_MIGRATE"] = "false"
	if err := run(context.Background(), []string{"ragd", "serve"}, envFrom(env), io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "run `ragd migrate`") {
		t.Errorf("serve with RAGD_AUTO_MIGRATE=false on an empty database: %v", err)
	}
	pool := pgtest.OpenPool(t, env["DATABASE_URL"])
	var tables int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("the commands left %d tables in the empty database (%v)", tables, err)
	}
}

// reserveConns takes the connection budget's places of a ragd run with
// env: its pool and the connections its listeners take out of it.
func reserveConns(t *testing.T, env map[string]string) (release func()) {
	t.Helper()
	workers, _ := strconv.Atoi(cmp.Or(env["RAGD_WORKERS"], "8"))
	return pgtest.ReserveConns(t, int(poolSize(workers))+pgtest.ServerListeners)
}

// startServe runs `ragd serve` until ctx is done and returns its base URL
// (read from the "ragd serving" log line) and the channel run's result
// arrives on.
func startServe(t *testing.T, ctx context.Context, env map[string]string) (string, <-chan error) {
	t.Helper()
	release := reserveConns(t, env)
	logR, logW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"ragd", "serve"}, envFrom(env), io.Discard, logW)
		release()
		done <- err
		logW.Close()
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(logR)
		var once sync.Once
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "ragd serving" {
				once.Do(func() { addr <- line.Addr })
			}
		}
	}()
	select {
	case a := <-addr:
		return "http://" + a, done
	case err := <-done:
		t.Fatalf("serve ended early: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not start")
	}
	return "", nil
}
