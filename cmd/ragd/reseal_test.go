package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"maps"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/postgres/pgtest"
	"github.com/ragd/ragd/secret"
	"github.com/ragd/ragd/webhooks"
)

// TestResealRotatesTheKey walks a key rotation as an operator does it:
// values sealed with key A; the service restarted with key B and A as
// previous reads them; `ragd reseal` seals them with B; then A can go.
// Without A, reseal names what it cannot open and fails.
func TestResealRotatesTheKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	keyA, keyB := secret.NewKey(), secret.NewKey()
	b64 := base64.StdEncoding.EncodeToString
	envA := map[string]string{
		"DATABASE_URL":        pgtest.NewEmptyDatabaseURL(t),
		"RAGD_DATA_DIR":       t.TempDir(),
		"RAGD_LOG_FORMAT":     "json",
		"RAGD_ENCRYPTION_KEY": b64(keyA),
	}
	ragd := func(env map[string]string, args ...string) (string, error) {
		t.Helper()
		var out bytes.Buffer
		err := run(ctx, append([]string{"ragd"}, args...), envFrom(env), &out, io.Discard)
		return out.String(), err
	}
	for _, cmd := range []string{"migrate", "seed"} { // seed: agents with secrets
		if out, err := ragd(envA, cmd); err != nil {
			t.Fatalf("ragd %s: %v\n%s", cmd, err, out)
		}
	}
	pool := pgtest.OpenPool(t, envA["DATABASE_URL"])
	boxA, _ := secret.NewBox(keyA)
	var tenantID uuid.UUID
	if err := pool.QueryRow(ctx, "SELECT id FROM tenants WHERE slug = 'acme'").Scan(&tenantID); err != nil {
		t.Fatal(err)
	}
	hook, _, err := webhooks.NewService(pool, boxA, nil, webhooks.Config{}).Create(ctx, tenantID,
		webhooks.Input{URL: "https://hooks.example.com/ragd", EventTypes: webhooks.EventTypes[:1]})
	if err != nil {
		t.Fatal(err)
	}
	var agentsWithSecrets int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM agents WHERE secrets IS NOT NULL").Scan(&agentsWithSecrets); err != nil || agentsWithSecrets == 0 {
		t.Fatalf("seed made %d agents with secrets (%v)", agentsWithSecrets, err)
	}
	sealedValues := func() map[string][]byte {
		t.Helper()
		out := map[string][]byte{}
		rows, err := pool.Query(ctx, `SELECT 'agent ' || id, secrets FROM agents WHERE secrets IS NOT NULL
			UNION ALL SELECT 'webhook ' || id, secret_sealed FROM webhook_endpoints`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var k string
			var v []byte
			if err := rows.Scan(&k, &v); err != nil {
				t.Fatal(err)
			}
			out[k] = v
		}
		return out
	}
	before := sealedValues()

	// Key B alone opens none of them: reseal says so and fails.
	envB := maps.Clone(envA)
	envB["RAGD_ENCRYPTION_KEY"] = b64(keyB)
	out, err := ragd(envB, "reseal", "--dry-run")
	if err == nil || !strings.Contains(err.Error(), "RAGD_ENCRYPTION_KEY_PREVIOUS") ||
		!strings.Contains(out, "that no configured key opens") || !strings.Contains(out, hook.ID.String()) {
		t.Fatalf("reseal without the old key: %v\n%s", err, out)
	}
	// serve says the same at its start, and what reseal would do.
	boxB, _ := secret.NewBox(keyB)
	rotated, _ := secret.NewBox(keyB, keyA)
	for _, c := range []struct {
		box  *secret.Box
		want string
	}{{boxB, "no configured key opens"}, {rotated, "not yet under the current encryption key"}} {
		var logs bytes.Buffer
		warnSealed(ctx, pool, c.box, slog.New(slog.NewJSONHandler(&logs, nil)))
		if !strings.Contains(logs.String(), c.want) || !strings.Contains(logs.String(), `"what":"webhook signing secrets","count":1`) {
			t.Errorf("the start's log, want %q:\n%s", c.want, logs.String())
		}
	}
	// With A as previous: a dry run counts and writes nothing.
	envB["RAGD_ENCRYPTION_KEY_PREVIOUS"] = b64(secret.NewKey()) + "," + b64(keyA)
	if out, err = ragd(envB, "reseal", "--dry-run"); err != nil || !strings.Contains(out, "webhook signing secrets: 0 sealed with the current key, 1 to seal again") {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	if !maps.EqualFunc(before, sealedValues(), bytes.Equal) {
		t.Fatal("a dry run changed sealed values")
	}
	// The real run: every value now opens with B alone, as it did with A.
	if out, err = ragd(envB, "reseal"); err != nil || strings.Contains(out, "no configured key") {
		t.Fatalf("reseal: %v\n%s", err, out)
	}
	after := sealedValues()
	for k, v := range after {
		if !bytes.HasPrefix(v, boxB.CurrentPrefix()) || bytes.Equal(v, before[k]) {
			t.Errorf("%s is not sealed again with key B", k)
		}
	}
	key, err := webhooks.SealedSecrets.Binding([]string{hook.ID.String()})
	if err != nil {
		t.Fatal(err)
	}
	wantKey, errA := boxA.Open(before["webhook "+hook.ID.String()], key)
	gotKey, errB := boxB.Open(after["webhook "+hook.ID.String()], key)
	if errA != nil || errB != nil || !bytes.Equal(wantKey, gotKey) {
		t.Fatalf("the webhook's signing secret changed in the reseal (%v, %v)", errA, errB)
	}
	if old, err := agents.NewControlPlane(pool, boxA, nil).GetAgent(ctx, tenantID, "acme-helpdesk"); err != nil || !old.SecretsUnreadable {
		t.Fatalf("key A still opens the agent's secrets after the reseal (%v)", err)
	}
	resealed, err := agents.NewControlPlane(pool, boxB, nil).GetAgent(ctx, tenantID, "acme-helpdesk")
	if err != nil || resealed.SecretsUnreadable || resealed.Langfuse.SecretKey.Reveal() != "sk-lf-demo-acme-secret-0001" ||
		resealed.MCPServers[0].Headers["Authorization"].Reveal() != "Bearer demo-acme-ticket-token-0001" {
		t.Fatalf("the agent after the reseal, with key B alone: %+v, %v", resealed, err)
	}
	// Again: nothing left to do.
	delete(envB, "RAGD_ENCRYPTION_KEY_PREVIOUS")
	if out, err = ragd(envB, "reseal"); err != nil || !strings.Contains(out, "webhook signing secrets: 1 sealed with the current key, 0 sealed again") {
		t.Fatalf("reseal again: %v\n%s", err, out)
	}
}
