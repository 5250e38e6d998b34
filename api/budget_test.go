package api

import (
	"testing"

	"github.com/google/uuid"
)

// TestUploadBudgetShares checks the arithmetic of the tenants' shares with
// the default budget (256 MiB) and upload limit (50 MiB).
func TestUploadBudgetShares(t *testing.T) {
	t.Parallel()
	const mib = 1 << 20
	newBudget := func() *uploadBudget { return newUploadBudget(DefaultMaxInflightUploadBytes, DefaultMaxUploadBytes) }

	t.Run("SharesShrinkWithTheTenantsUploading", func(t *testing.T) {
		t.Parallel()
		b := newBudget()
		for k, want := range map[int]int64{1: 206 * mib, 2: 103 * mib, 3: 206 * mib / 3, 4: 206 * mib / 4, 5: 50 * mib, 50: 50 * mib} {
			if got := b.share(k); got != want {
				t.Errorf("share(%d) = %d, want %d", k, got, want)
			}
		}
		// A budget of one upload: one tenant may hold it all.
		if got := newUploadBudget(mib, mib).share(1); got != mib {
			t.Errorf("share of a budget of one upload = %d, want all of it", got)
		}
	})

	t.Run("OneTenantLeavesRoomForAnother", func(t *testing.T) {
		t.Parallel()
		b := newBudget()
		h, s := uuid.New(), uuid.New()
		var releases []func()
		for _, n := range []int64{50 * mib, 50 * mib, 50 * mib, 50 * mib} {
			release, refused := b.reserve(h, n)
			if refused != nil {
				t.Fatalf("reserve %d MiB with %d MiB held: %+v", n/mib, b.used/mib, refused)
			}
			releases = append(releases, release)
		}
		refused := func(tenant uuid.UUID, n int64, full bool, share int64, tenants int) {
			t.Helper()
			release, r := b.reserve(tenant, n)
			if r == nil {
				release()
				t.Fatalf("reserve %d bytes granted, want refused", n)
			}
			if r.Full != full || r.Share != share || r.Tenants != tenants {
				t.Fatalf("reserve %d bytes: %+v, want full %t, share %d of %d tenants", n, *r, full, share, tenants)
			}
		}
		refused(h, 50*mib, false, 206*mib, 1)
		release, r := b.reserve(h, 6*mib)
		if r != nil {
			t.Fatalf("the last 6 MiB of the share: %+v", r)
		}
		releases = append(releases, release)
		refused(h, 1, false, 206*mib, 1)

		// Another tenant's upload of the largest size still fits.
		release, r = b.reserve(s, 50*mib)
		if r != nil {
			t.Fatalf("another tenant's first upload: %+v", r)
		}
		// Now both are at or past their share of two, and the budget is full.
		refused(s, 1, true, 0, 0)
		release()
		release() // harmless
		if b.used != 206*mib || len(b.byTenant) != 1 {
			t.Fatalf("after the other tenant's upload: %d bytes held by %d tenants", b.used, len(b.byTenant))
		}
		// While the other tenant uploads anything, the share is halved.
		release, r = b.reserve(s, 1<<10)
		if r != nil {
			t.Fatalf("another tenant's small upload: %+v", r)
		}
		refused(h, 1, false, 103*mib, 2)
		release()
		if _, r := b.reserve(h, 1); r == nil {
			t.Fatal("a byte past the share of a tenant uploading alone was granted")
		}
		for _, release := range releases {
			release()
		}
		if b.used != 0 || len(b.byTenant) != 0 {
			t.Fatalf("all released: %d bytes held by %v", b.used, b.byTenant)
		}
	})

	t.Run("EmptyUploadHoldsNothing", func(t *testing.T) {
		t.Parallel()
		b := newBudget()
		release, r := b.reserve(uuid.New(), 0)
		if r != nil || len(b.byTenant) != 0 {
			t.Fatalf("an empty upload: %+v, tenants %v", r, b.byTenant)
		}
		release()
		if b.used != 0 || len(b.byTenant) != 0 {
			t.Fatalf("released: %d bytes held by %v", b.used, b.byTenant)
		}
	})
}
