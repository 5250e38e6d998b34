package postgres_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"slices"

	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/postgres"
	"github.com/ragd/ragd/postgres/pgtest"
	"github.com/ragd/ragd/secret"
)

func TestMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)

	t.Run("AppliesToEmptyDatabaseThenIsANoOp", func(t *testing.T) {
		t.Parallel()
		pool, err := postgres.Open(ctx, pgtest.NewEmptyDatabaseURL(t))
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()

		migs, err := postgres.SchemaMigrations()
		if err != nil {
			t.Fatal(err)
		}
		first, err := postgres.MigrateSchema(ctx, pool, log)
		if err != nil {
			t.Fatalf("first migrate: %v", err)
		}
		if len(first.Applied) != len(migs) || first.RiverApplied == 0 {
			t.Fatalf("first migrate applied %v and %d River migrations, want all %d of ours and some of River's", first.Applied, first.RiverApplied, len(migs))
		}
		for _, table := range []string{"tenants", "api_keys", "agents", "river_job"} {
			var ok bool
			if err := pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&ok); err != nil || !ok {
				t.Fatalf("table %s missing after migrate (%v)", table, err)
			}
		}
		second, err := postgres.MigrateSchema(ctx, pool, log)
		if err != nil {
			t.Fatalf("second migrate: %v", err)
		}
		if len(second.Applied) != 0 || second.RiverApplied != 0 {
			t.Fatalf("second migrate applied %v and %d River migrations, want none", second.Applied, second.RiverApplied)
		}
	})

	t.Run("ConcurrentNodesMigrateOnce", func(t *testing.T) {
		t.Parallel()
		url := pgtest.NewEmptyDatabaseURL(t)
		errs := make(chan error, 3)
		for range 3 {
			go func() {
				pool, err := pgxpool.New(ctx, url)
				if err != nil {
					errs <- err
					return
				}
				defer pool.Close()
				_, err = postgres.MigrateSchema(ctx, pool, log)
				errs <- err
			}()
		}
		for range 3 {
			if err := <-errs; err != nil {
				t.Fatalf("concurrent migrate: %v", err)
			}
		}
	})

	t.Run("0010CutsBlobsIntoParts", func(t *testing.T) {
		t.Parallel()
		pool, err := postgres.Open(ctx, pgtest.NewEmptyDatabaseURL(t))
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		if _, err := postgres.MigrateTo(ctx, pool, log, 9); err != nil {
			t.Fatalf("migrate to 9: %v", err)
		}
		// Files in the old layout, one bytea each: empty, tiny, exactly one
		// part, and larger ones that compress (stored compressed by
		// TOAST) and that do not.
		const part = 1 << 20
		rng := rand.New(rand.NewPCG(7, 7))
		random := make([]byte, 2*part+part/2)
		for i := range random {
			random[i] = byte(rng.Uint32())
		}
		blobs := [][]byte{{}, []byte("x"), random[:part], random, bytes.Repeat([]byte("compressible text "), 3*part/18+5)}
		tenant := uuid.New()
		if _, err := pool.Exec(ctx, "INSERT INTO tenants (id, name, slug) VALUES ($1, 'T', 't')", tenant); err != nil {
			t.Fatal(err)
		}
		ids := make([]uuid.UUID, len(blobs))
		for i, b := range blobs {
			ids[i] = uuid.New()
			sum := sha256.Sum256(b)
			if _, err := pool.Exec(ctx, `INSERT INTO documents (id, tenant_id, title, type, size_bytes, sha256, status)
				VALUES ($1, $2, 'd', 'text', $3, $4, 'ready')`, ids[i], tenant, len(b), sum[:]); err != nil {
				t.Fatal(err)
			}
			if _, err := pool.Exec(ctx, "INSERT INTO document_blobs (document_id, content) VALUES ($1, $2)", ids[i], b); err != nil {
				t.Fatal(err)
			}
		}
		var compressed bool
		if err := pool.QueryRow(ctx, "SELECT pg_column_compression(content) IS NOT NULL FROM document_blobs WHERE document_id = $1",
			ids[len(ids)-1]).Scan(&compressed); err != nil || !compressed {
			t.Fatalf("the compressible blob is not stored compressed (%v): the test would not cover that path", err)
		}

		res, err := postgres.MigrateSchema(ctx, pool, log)
		if err != nil {
			t.Fatalf("migrate: %v", err)
		}
		if len(res.Applied) == 0 || res.Applied[0] != "0010_document_blob_parts" {
			t.Fatalf("applied %v, want 0010_document_blob_parts first", res.Applied)
		}
		var gone bool
		if err := pool.QueryRow(ctx, "SELECT to_regclass('document_blobs') IS NULL").Scan(&gone); err != nil || !gone {
			t.Fatalf("document_blobs still there (%v)", err)
		}
		for i, b := range blobs {
			var got []byte
			var parts, short, maxSeq int
			err := pool.QueryRow(ctx, `SELECT coalesce(string_agg(content, ''::bytea ORDER BY seq), ''::bytea), count(*),
					count(*) FILTER (WHERE length(content) <> $2), coalesce(max(seq), -1)
				FROM document_blob_parts WHERE document_id = $1`, ids[i], part).Scan(&got, &parts, &short, &maxSeq)
			if err != nil {
				t.Fatal(err)
			}
			want := (len(b) + part - 1) / part
			if !bytes.Equal(got, b) || parts != want || maxSeq != want-1 || short > 1 {
				t.Errorf("blob %d (%d bytes): %d bytes back in %d parts (last seq %d, %d short), want %d parts",
					i, len(b), len(got), parts, maxSeq, short, want)
			}
		}
	})

	t.Run("0024NullsThresholdsOfTheOldScales", func(t *testing.T) {
		t.Parallel()
		pool, err := postgres.Open(ctx, pgtest.NewEmptyDatabaseURL(t))
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		if _, err := postgres.MigrateTo(ctx, pool, log, 23); err != nil {
			t.Fatalf("migrate to 23: %v", err)
		}
		tenant := uuid.New()
		if _, err := pool.Exec(ctx, "INSERT INTO tenants (id, name, slug) VALUES ($1, 'T', $2)", tenant, tenant.String()); err != nil {
			t.Fatal(err)
		}
		// Thresholds as agents held them: each on its mode's or fusion's
		// scale; only the dense cosine keeps its meaning.
		before := map[string]string{
			"default-bot": `{"score_threshold": 0, "mode": "hybrid"}`,
			"bm25-bot":    `{"score_threshold": 3.5, "mode": "sparse"}`,
			"convex-bot":  `{"score_threshold": 0.5, "mode": "hybrid", "fusion": "convex"}`,
			"cosine-bot":  `{"score_threshold": 0.3, "mode": "dense"}`,
			"unset-bot":   `{"mode": "dense"}`,
		}
		for id, r := range before {
			if _, err := pool.Exec(ctx, `INSERT INTO agents (id, tenant_id, name, model, retrieval) VALUES ($1, $2, 'A', 'm', $3)`, id, tenant, r); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := postgres.MigrateSchema(ctx, pool, log); err != nil {
			t.Fatal(err)
		}
		want := map[string]struct {
			threshold string
			version   int
		}{"default-bot": {"null", 2}, "bm25-bot": {"null", 2}, "convex-bot": {"null", 2}, "cosine-bot": {"0.3", 1}, "unset-bot": {"", 1}}
		for id, w := range want {
			var threshold *string
			var version int
			if err := pool.QueryRow(ctx, `SELECT (retrieval->'score_threshold')::text, version FROM agents WHERE tenant_id = $1 AND id = $2`, tenant, id).Scan(&threshold, &version); err != nil {
				t.Fatal(err)
			}
			got := ""
			if threshold != nil {
				got = *threshold
			}
			if got != w.threshold || version != w.version {
				t.Errorf("%s: threshold %s, version %d; want %s, version %d", id, got, version, w.threshold, w.version)
			}
		}
	})

	t.Run("0025MovesQueuedDeliveriesToTheWebhooksQueue", func(t *testing.T) {
		t.Parallel()
		pool, err := postgres.Open(ctx, pgtest.NewEmptyDatabaseURL(t))
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		if _, err := postgres.MigrateTo(ctx, pool, log, 24); err != nil {
			t.Fatalf("migrate to 24: %v", err)
		}
		// Jobs as the default queue held them: waiting ones move, a
		// finished one stays where it ran, another kind stays.
		for _, j := range []struct{ kind, state string }{
			{"deliver_webhook", "available"}, {"deliver_webhook", "scheduled"}, {"deliver_webhook", "retryable"},
			{"deliver_webhook", "completed"}, {"ingest_document", "available"},
		} {
			if _, err := pool.Exec(ctx, `INSERT INTO river_job (args, kind, max_attempts, queue, state, finalized_at)
				VALUES ('{}', $1, 25, 'default', $2::river_job_state, CASE WHEN $2 = 'completed' THEN now() END)`, j.kind, j.state); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := postgres.MigrateSchema(ctx, pool, log); err != nil {
			t.Fatal(err)
		}
		rows, err := pool.Query(ctx, "SELECT kind || ' ' || state || ' ' || queue FROM river_job ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"deliver_webhook available webhooks", "deliver_webhook scheduled webhooks", "deliver_webhook retryable webhooks",
			"deliver_webhook completed default", "ingest_document available default"}
		if !slices.Equal(got, want) {
			t.Errorf("jobs after 0025: %q, want %q", got, want)
		}
	})

	t.Run("0012MakesAgentIDsPerTenantAndKeepsSecrets", func(t *testing.T) {
		t.Parallel()
		pool, err := postgres.Open(ctx, pgtest.NewEmptyDatabaseURL(t))
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		if _, err := postgres.MigrateTo(ctx, pool, log, 11); err != nil {
			t.Fatalf("migrate to 11: %v", err)
		}
		box, err := secret.NewBox(secret.NewKey())
		if err != nil {
			t.Fatal(err)
		}
		// An agent with secrets as the store wrote it before 0012: the
		// sealed JSON bound to the agent id alone.
		tenantA, tenantB := uuid.New(), uuid.New()
		for _, tn := range []uuid.UUID{tenantA, tenantB} {
			if _, err := pool.Exec(ctx, "INSERT INTO tenants (id, name, slug) VALUES ($1, 'T', $2)", tn, tn.String()); err != nil {
				t.Fatal(err)
			}
		}
		const lfSecret, mcpSecret = "sk-lf-sealed-before-0012", "Bearer mcp-sealed-before-0012"
		sealed := box.Seal([]byte(`{"langfuse_secret_key":"`+lfSecret+`","mcp_headers":{"tickets":{"Authorization":"`+mcpSecret+`"}}}`), []byte("support-bot"))
		if _, err := pool.Exec(ctx, `INSERT INTO agents (id, tenant_id, name, model, mcp_servers, langfuse, retrieval, secrets)
			VALUES ('support-bot', $1, 'Support', 'm',
				'[{"name":"tickets","url":"https://mcp.example.com/mcp","transport":"streamable_http","header_names":["Authorization"],"allowed_tools":[]}]',
				'{"public_key":"pk-lf","host":"https://cloud.langfuse.com","prompt_name":"","label":""}',
				'{"enabled":true,"top_k":8,"score_threshold":0,"mode":"hybrid","tags":[]}', $2)`, tenantA, sealed); err != nil {
			t.Fatal(err)
		}

		res, err := postgres.MigrateSchema(ctx, pool, log)
		if err != nil {
			t.Fatalf("migrate: %v", err)
		}
		if len(res.Applied) == 0 || res.Applied[0] != "0012_agent_ids_per_tenant" {
			t.Fatalf("applied %v, want 0012_agent_ids_per_tenant first", res.Applied)
		}
		store := agents.NewControlPlane(pool, box, nil)
		secretsOf := func(a agents.Agent) [2]string {
			t.Helper()
			if a.Langfuse == nil || len(a.MCPServers) != 1 {
				t.Fatalf("agent %s lacks its langfuse or MCP settings: %+v", a.ID, a)
			}
			return [2]string{a.Langfuse.SecretKey.Reveal(), a.MCPServers[0].Headers["Authorization"].Reveal()}
		}
		want := [2]string{lfSecret, mcpSecret}

		// The old agent keeps its id and its secrets open.
		a, err := store.GetAgent(ctx, tenantA, "support-bot")
		if err != nil {
			t.Fatalf("get the agent written before 0012: %v", err)
		}
		if got := secretsOf(a); got != want {
			t.Fatalf("secrets sealed before 0012 read back as %q, want %q", got, want)
		}
		// Its score_threshold 0, the old default, became null: the
		// server's default threshold, which can say "nothing relevant".
		if th := a.Retrieval.ScoreThreshold; th != nil {
			t.Fatalf("the old default threshold 0 reads as %v after the migrations, want null", *th)
		}

		// Another tenant may now take the same id, and each sees its own.
		patch := agents.AgentPatch{Name: ragd.Some("B's"), Model: ragd.Some("m"), ID: ragd.Some("support-bot"),
			Langfuse: ragd.Some(agents.LangfusePatch{PublicKey: ragd.Some("pk-b"), SecretKey: ragd.Some(secret.String("sk-lf-of-tenant-b"))}),
			MCPServers: ragd.Some([]agents.MCPServerIn{{Name: "tickets", URL: "https://b.example.com",
				Headers: map[string]*secret.String{"Authorization": ptr(secret.String("Bearer of-tenant-b"))}}})}
		if _, err := store.CreateAgent(ctx, tenantB, patch); err != nil {
			t.Fatalf("B creates A's id: %v", err)
		}
		b, err := store.GetAgent(ctx, tenantB, "support-bot")
		if err != nil {
			t.Fatal(err)
		}
		if got := secretsOf(b); got != [2]string{"sk-lf-of-tenant-b", "Bearer of-tenant-b"} || b.Name != "B's" {
			t.Fatalf("B's agent = %+v, secrets %q", b, got)
		}
		if a, err := store.GetAgent(ctx, tenantA, "support-bot"); err != nil || secretsOf(a) != want || a.Name != "Support" {
			t.Fatalf("A's agent after B created the same id: %+v, %v", a, err)
		}

		// An update seals A's secrets again, bound to the tenant too; they
		// still read back, and the update goes by the old id.
		if _, err := store.UpdateAgent(ctx, tenantA, "support-bot", agents.AgentPatch{Name: ragd.Some("Support 2")}, nil); err != nil {
			t.Fatalf("update the old agent: %v", err)
		}
		var bound bool
		var resealed []byte
		if err := pool.QueryRow(ctx, "SELECT secrets_bound_to_tenant, secrets FROM agents WHERE tenant_id = $1 AND id = 'support-bot'", tenantA).
			Scan(&bound, &resealed); err != nil || !bound {
			t.Fatalf("after an update: bound to tenant %v (%v), want true", bound, err)
		}
		// Version 3: 0024 made it 2 (its threshold 0 became null).
		if a, err := store.GetAgent(ctx, tenantA, "support-bot"); err != nil || secretsOf(a) != want || a.Name != "Support 2" || a.Version != 3 {
			t.Fatalf("A's agent after update: %+v, %v", a, err)
		}

		// Sealed secrets copied onto the other tenant's agent of the same id
		// do not open there: B's agent reads with its secrets unreadable.
		if _, err := pool.Exec(ctx, "UPDATE agents SET secrets = $2 WHERE tenant_id = $1 AND id = 'support-bot'", tenantB, resealed); err != nil {
			t.Fatal(err)
		}
		if b, err := store.GetAgent(ctx, tenantB, "support-bot"); err != nil || !b.SecretsUnreadable || secretsOf(b) == want {
			t.Fatalf("A's secrets on B's row: %+v, %v; want them unreadable", b, err)
		}

		// And the old id still deletes, only in its own tenant.
		if err := store.DeleteAgent(ctx, tenantA, "support-bot"); err != nil {
			t.Fatalf("delete the old agent: %v", err)
		}
		var left int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM agents WHERE id = 'support-bot'").Scan(&left); err != nil || left != 1 {
			t.Fatalf("%d agents support-bot left (%v), want B's alone", left, err)
		}
	})

	t.Run("RefusesAChangedMigration", func(t *testing.T) {
		t.Parallel()
		pool := pgtest.NewPool(t)
		if _, err := pool.Exec(ctx, "UPDATE ragd_schema_migrations SET checksum = 'edited' WHERE version = 1"); err != nil {
			t.Fatal(err)
		}
		if _, err := postgres.MigrateSchema(ctx, pool, log); err == nil {
			t.Fatal("Migrate accepted a database whose applied migration differs from the embedded one")
		}
	})

	t.Run("RefusesUnknownNewerMigrations", func(t *testing.T) {
		t.Parallel()
		pool := pgtest.NewPool(t)
		if _, err := pool.Exec(ctx, "INSERT INTO ragd_schema_migrations (version, name, checksum) VALUES (9999, 'future', 'x')"); err != nil {
			t.Fatal(err)
		}
		if _, err := postgres.MigrateSchema(ctx, pool, log); err == nil {
			t.Fatal("Migrate accepted a database from a newer ragd")
		}
	})
}

func TestOpenHidesPassword(t *testing.T) {
	t.Parallel()
	_, err := postgres.Open(context.Background(), "postgres://u:hunter2@[::1")
	if err == nil {
		t.Fatal("Open accepted a broken URL")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error shows the password: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

// TestCheckSchema runs the check every command that does not migrate makes
// at start, against databases in each state a deploy can meet.
func TestCheckSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	migs, err := postgres.SchemaMigrations()
	if err != nil {
		t.Fatal(err)
	}
	last := migs[len(migs)-1]
	lastName := fmt.Sprintf("%04d_%s", last.Version, last.Name)

	open := func(t *testing.T, url string) *pgxpool.Pool {
		t.Helper()
		pool, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		return pool
	}
	// check runs CheckSchema, wants a *SchemaError whose one-line text
	// says fix, and returns it.
	check := func(t *testing.T, pool *pgxpool.Pool, fix string) *postgres.SchemaError {
		t.Helper()
		err := postgres.CheckSchema(ctx, pool, log)
		var se *postgres.SchemaError
		if !errors.As(err, &se) {
			t.Fatalf("CheckSchema = %v, want a *SchemaError", err)
		}
		if msg := err.Error(); !strings.Contains(msg, fix) || strings.Contains(msg, "\n") {
			t.Fatalf("message %q is not one line saying %q", msg, fix)
		}
		return se
	}

	t.Run("UpToDate", func(t *testing.T) {
		t.Parallel()
		if err := postgres.CheckSchema(ctx, pgtest.NewPool(t), log); err != nil {
			t.Fatalf("a fully migrated database: %v", err)
		}
	})

	t.Run("EmptyDatabase", func(t *testing.T) {
		t.Parallel()
		pool := open(t, pgtest.NewEmptyDatabaseURL(t))
		se := check(t, pool, "run `ragd migrate`")
		if len(se.Missing) != len(migs) || len(se.RiverMissing) == 0 || len(se.Unknown)+len(se.Changed)+len(se.RiverUnknown) != 0 {
			t.Fatalf("empty database: %+v", se)
		}
		// The check changes nothing, not even the migrations table.
		var made bool
		if err := pool.QueryRow(ctx, "SELECT to_regclass('ragd_schema_migrations') IS NOT NULL").Scan(&made); err != nil || made {
			t.Fatalf("CheckSchema created the migrations table (%v)", err)
		}
	})

	t.Run("OneMigrationBehind", func(t *testing.T) {
		t.Parallel()
		pool := open(t, pgtest.NewEmptyDatabaseURL(t))
		if _, err := postgres.MigrateTo(ctx, pool, log, len(migs)-1); err != nil {
			t.Fatal(err)
		}
		se := check(t, pool, "run `ragd migrate`")
		if fmt.Sprint(se.Missing) != "["+lastName+"]" || len(se.RiverMissing)+len(se.Unknown)+len(se.Changed) != 0 {
			t.Fatalf("one behind: %+v", se)
		}
		if !strings.Contains(se.Error(), lastName) {
			t.Fatalf("message %q does not name %s", se, lastName)
		}
		if _, err := postgres.MigrateSchema(ctx, pool, log); err != nil {
			t.Fatal(err)
		}
		if err := postgres.CheckSchema(ctx, pool, log); err != nil {
			t.Fatalf("after ragd migrate: %v", err)
		}
	})

	t.Run("UnknownNewerMigration", func(t *testing.T) {
		t.Parallel()
		pool := pgtest.NewPool(t)
		if _, err := pool.Exec(ctx, "INSERT INTO ragd_schema_migrations (version, name, checksum) VALUES ($1, 'from_the_future', 'x')", len(migs)+1); err != nil {
			t.Fatal(err)
		}
		se := check(t, pool, "run a newer ragd")
		if want := fmt.Sprintf("[%04d_from_the_future]", len(migs)+1); fmt.Sprint(se.Unknown) != want || len(se.Missing) != 0 {
			t.Fatalf("newer: %+v, want unknown %s", se, want)
		}
		// Migrate refuses too, before applying anything.
		if _, err := postgres.MigrateSchema(ctx, pool, log); !errors.As(err, &se) {
			t.Fatalf("Migrate on a newer schema: %v", err)
		}
	})

	t.Run("ChangedMigration", func(t *testing.T) {
		t.Parallel()
		pool := pgtest.NewPool(t)
		if _, err := pool.Exec(ctx, "UPDATE ragd_schema_migrations SET checksum = 'edited' WHERE version = 1"); err != nil {
			t.Fatal(err)
		}
		if se := check(t, pool, "must never change"); len(se.Changed) != 1 || len(se.Missing) != 0 {
			t.Fatalf("changed: %+v", se)
		}
	})

	t.Run("RiverBehind", func(t *testing.T) {
		t.Parallel()
		pool := pgtest.NewPool(t)
		var v int
		if err := pool.QueryRow(ctx, "DELETE FROM river_migration WHERE version = (SELECT max(version) FROM river_migration) RETURNING version").Scan(&v); err != nil {
			t.Fatal(err)
		}
		if se := check(t, pool, "run `ragd migrate`"); fmt.Sprint(se.RiverMissing) != fmt.Sprintf("[%d]", v) || len(se.Missing) != 0 {
			t.Fatalf("River behind: %+v, want River %d missing", se, v)
		}
	})

	t.Run("RiverNewer", func(t *testing.T) {
		t.Parallel()
		pool := pgtest.NewPool(t)
		if _, err := pool.Exec(ctx, "INSERT INTO river_migration (line, version) VALUES ('main', 9999)"); err != nil {
			t.Fatal(err)
		}
		if se := check(t, pool, "run a newer ragd"); fmt.Sprint(se.RiverUnknown) != "[9999]" {
			t.Fatalf("River newer: %+v", se)
		}
	})

	t.Run("WaitsForARunningMigration", func(t *testing.T) {
		t.Parallel()
		pool := open(t, pgtest.NewEmptyDatabaseURL(t))
		if _, err := postgres.MigrateTo(ctx, pool, log, len(migs)-1); err != nil {
			t.Fatal(err)
		}
		// Stand in for a migrating process: hold Migrate's lock.
		conn, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Release()
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", postgres.MigrationLockKey); err != nil {
			t.Fatal(err)
		}
		// waitForWaiters returns once n sessions wait for an advisory lock.
		waitForWaiters := func(n int, done <-chan error) {
			t.Helper()
			for waiting := 0; waiting < n; {
				select {
				case err := <-done:
					t.Fatalf("returned %v while a migration held the lock", err)
				default:
				}
				if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
					AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&waiting); err != nil {
					t.Fatal(err)
				}
			}
		}
		// A second migration queues behind the first, then the check
		// behind both; Postgres grants the lock in that order.
		migrated := make(chan error, 1)
		go func() {
			_, err := postgres.MigrateSchema(ctx, pool, log)
			migrated <- err
		}()
		waitForWaiters(1, migrated)
		done := make(chan error, 1)
		go func() { done <- postgres.CheckSchema(ctx, pool, log) }()
		waitForWaiters(2, done)
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", postgres.MigrationLockKey); err != nil {
			t.Fatal(err)
		}
		if err := <-migrated; err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("after the migration: %v", err)
		}
	})
}
