package webhooks

import "testing"

// TestShareOf: the senders are split evenly between the tenants with
// deliveries due, each gets at least one, and a tenant alone never gets
// every sender, so a newcomer's first delivery finds one free.
func TestShareOf(t *testing.T) {
	for _, c := range []struct{ senders, tenants, want int }{
		{8, 1, 7}, {8, 2, 4}, {8, 3, 2}, {8, 8, 1}, {8, 20, 1}, {8, 0, 7},
		{1, 1, 1}, {1, 3, 1}, {2, 1, 1}, {4, 1, 3},
	} {
		if got := shareOf(c.senders, c.tenants); got != c.want {
			t.Errorf("shareOf(%d senders, %d tenants) = %d, want %d", c.senders, c.tenants, got, c.want)
		}
	}
}
