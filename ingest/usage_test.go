package ingest_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/extract"
	"github.com/ragd/ragd/ingest"
	"github.com/ragd/ragd/usage"
)

// TestUsageDaily: uploads, searches and embedding tokens land in today's
// row (UTC); the other days of the range read as zeros, oldest first; a
// repeated upload that makes no document counts nothing; another tenant's
// usage never shows.
func TestUsageDaily(t *testing.T) {
	t.Parallel()
	b := setupPipeline(t)
	ctx := t.Context()
	other, err := agents.NewControlPlane(b.pool, nil, nil).CreateTenant(ctx, agents.TenantPatch{Name: ragd.Some("Other")})
	if err != nil {
		t.Fatal(err)
	}

	text := []byte("Daily usage counts what each day brought.")
	upload := ingest.Upload{Filename: "day.txt", Content: ingest.BytesContent(text), Type: extract.TypeText}
	if _, err := b.store.Create(ctx, b.tenant, upload, ingest.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	upload.Content = ingest.BytesContent(text) // the same bytes: the same document, not a new upload
	if c, err := b.store.Create(ctx, b.tenant, upload, ingest.CreateOptions{}); err != nil || c.New {
		t.Fatalf("repeat upload: new %v, %v", c.New, err)
	}
	if err := b.store.AddUsage(ctx, b.tenant, 7, 1); err != nil {
		t.Fatal(err)
	}
	if err := b.store.AddUsage(ctx, b.tenant, 0, 1); err != nil {
		t.Fatal(err)
	}
	if err := b.store.AddUsage(ctx, other.ID, 1000, 50); err != nil {
		t.Fatal(err)
	}
	// Three days ago, and a day outside a week's range.
	today := time.Now().UTC().Truncate(24 * time.Hour)
	for _, ago := range []int{3, 10} {
		if _, err := b.pool.Exec(ctx, `INSERT INTO tenant_usage_daily (tenant_id, day, searches) VALUES ($1, $2, $3)`,
			b.tenant, today.AddDate(0, 0, -ago), ago); err != nil {
			t.Fatal(err)
		}
	}

	days, err := b.store.UsageDaily(ctx, b.tenant, 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(days) != 7 {
		t.Fatalf("%d days, want 7: %+v", len(days), days)
	}
	for i, d := range days {
		want := usage.Day{Day: today.AddDate(0, 0, i-6).Format(time.DateOnly)}
		switch i {
		case 6:
			want.EmbeddingTokens, want.Searches, want.DocumentsUploaded, want.BytesUploaded = 7, 2, 1, int64(len(text))
		case 3:
			want.Searches = 3
		}
		if d != want {
			t.Errorf("day %d = %+v, want %+v", i, d, want)
		}
	}

	if one, err := b.store.UsageDaily(ctx, b.tenant, 1); err != nil || len(one) != 1 || one[0] != days[6] {
		t.Fatalf("one day = %+v, %v; want today %+v", one, err, days[6])
	}
	if year, err := b.store.UsageDaily(ctx, b.tenant, usage.MaxDays); err != nil || len(year) != usage.MaxDays {
		t.Fatalf("%d days, %v; want %d", len(year), err, usage.MaxDays)
	}
	for _, n := range []int{0, -1, usage.MaxDays + 1} {
		var verr *ragd.ValidationError
		if _, err := b.store.UsageDaily(ctx, b.tenant, n); !errors.As(err, &verr) || verr.Fields["days"] == "" {
			t.Errorf("days %d: %v, want a validation error for days", n, err)
		}
	}
}
