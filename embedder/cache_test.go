package embedder

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/postgres/pgtest"
	"github.com/ragd/ragd/secret"
)

func TestCached(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	tenant := newTenant(t, pool, "T")
	e, fake := newFake(t, OpenAIConfig{MaxBatchInputs: 4})
	c := NewCached(e, pool)

	// A document of 10 chunks, two of them identical.
	doc := texts(10)
	doc[9] = doc[3]
	first, err := c.Embed(ctx, tenant, doc)
	if err != nil {
		t.Fatal(err)
	}
	if first.CacheHits != 0 || len(fake.Requests()) != 3 { // 9 distinct texts, 4 per request
		t.Fatalf("first run: %d hits, %d requests", first.CacheHits, len(fake.Requests()))
	}
	if first.Vectors[9][0] != 3 {
		t.Fatalf("a repeated text got vector %v", first.Vectors[9][:1])
	}

	// Re-ingesting the same text costs nothing.
	again, err := c.Embed(ctx, tenant, doc)
	if err != nil {
		t.Fatal(err)
	}
	if again.CacheHits != 10 || len(fake.Requests()) != 3 || again.Requests != 0 {
		t.Fatalf("unchanged re-run: %d hits, %d requests in all", again.CacheHits, len(fake.Requests()))
	}
	for i := range doc {
		if again.Vectors[i][0] != first.Vectors[i][0] {
			t.Fatalf("cached vector %d differs", i)
		}
	}

	// One changed chunk costs one input.
	doc[5] = "text 55"
	changed, err := c.Embed(ctx, tenant, doc)
	if err != nil {
		t.Fatal(err)
	}
	if changed.CacheHits != 9 || len(fake.Requests()) != 4 || changed.Vectors[5][0] != 55 {
		t.Fatalf("changed re-run: %d hits, %d requests, vector %v", changed.CacheHits, len(fake.Requests()), changed.Vectors[5][:1])
	}
	if n := len(fake.Requests()[3].Inputs); n != 1 {
		t.Fatalf("the changed run sent %d inputs, want 1", n)
	}

	// Another model or dimension count does not share entries.
	other, _ := newFake(t, OpenAIConfig{Model: "text-embedding-3-large"})
	res, err := NewCached(other, pool).Embed(ctx, tenant, doc[:2])
	if err != nil || res.CacheHits != 0 {
		t.Fatalf("another model hit the cache: %d hits, %v", res.CacheHits, err)
	}
}

// TestCachedPerTenant: whether a text is in another tenant's cache changes
// nothing a tenant sees; its own entries still save it the request.
func TestCachedPerTenant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	tenantA, tenantB := newTenant(t, pool, "A"), newTenant(t, pool, "B")
	e, fake := newFake(t, OpenAIConfig{})
	c := NewCached(e, pool)
	x := []string{"The merger with Initech closes on the first of March"}

	first, err := c.Embed(ctx, tenantA, x)
	if err != nil {
		t.Fatal(err)
	}
	if first.Tokens == 0 || first.Requests != 1 || first.CacheHits != 0 {
		t.Fatalf("A's first embedding: %+v", first)
	}

	t.Run("AnotherTenantsEntryIsNotUsed", func(t *testing.T) {
		before := len(fake.Requests())
		b, err := c.Embed(ctx, tenantB, x)
		if err != nil {
			t.Fatal(err)
		}
		if b.Tokens != first.Tokens || b.Requests != 1 || b.CacheHits != 0 || len(fake.Requests()) != before+1 {
			t.Fatalf("B embedding what A holds: %d tokens, %d requests, %d hits (A's first: %d tokens); %d requests reached the provider",
				b.Tokens, b.Requests, b.CacheHits, first.Tokens, len(fake.Requests())-before)
		}
		if b.Vectors[0][0] != first.Vectors[0][0] {
			t.Fatal("the same text embedded differently")
		}
	})

	t.Run("OwnEntriesStillSave", func(t *testing.T) {
		before := len(fake.Requests())
		for _, tenant := range []uuid.UUID{tenantA, tenantB} {
			again, err := c.Embed(ctx, tenant, x)
			if err != nil {
				t.Fatal(err)
			}
			if again.Tokens != 0 || again.Requests != 0 || again.CacheHits != 1 {
				t.Fatalf("tenant %s embedding its own text again: %+v", tenant, again)
			}
		}
		if n := len(fake.Requests()) - before; n != 0 {
			t.Fatalf("cached texts made %d requests", n)
		}
	})

	t.Run("EntriesGoWithTheirTenant", func(t *testing.T) {
		if _, err := pool.Exec(ctx, "DELETE FROM tenants WHERE id = $1", tenantA); err != nil {
			t.Fatal(err)
		}
		var a, b int
		if err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE tenant_id = $1), count(*) FILTER (WHERE tenant_id = $2)
			FROM embedding_cache`, tenantA, tenantB).Scan(&a, &b); err != nil {
			t.Fatal(err)
		}
		if a != 0 || b != 1 {
			t.Fatalf("after deleting A: %d of A's entries, %d of B's", a, b)
		}
	})

	t.Run("RequiresATenant", func(t *testing.T) {
		before := len(fake.Requests())
		if _, err := c.Embed(ctx, uuid.Nil, x); err == nil {
			t.Fatal("embedding for no tenant succeeded")
		}
		if len(fake.Requests()) != before {
			t.Fatal("embedding for no tenant reached the provider")
		}
	})
}

// newTenant creates a tenant named name in the test database.
func newTenant(t testing.TB, pool *pgxpool.Pool, name string) uuid.UUID {
	t.Helper()
	box, _ := secret.NewBox(secret.NewKey())
	tenant, err := agents.NewControlPlane(pool, box, nil).CreateTenant(context.Background(), agents.TenantPatch{Name: ragd.Some(name)})
	if err != nil {
		t.Fatal(err)
	}
	return tenant.ID
}
