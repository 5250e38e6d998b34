package api_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ragd/ragd/webhooks"
)

// TestWebhookEndpointLimitSaysDeleteAnEndpoint: the endpoint past
// webhooks.MaxEndpoints is a 429 whose advice fits that limit.
func TestWebhookEndpointLimitSaysDeleteAnEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, key := b.TenantWithKey("hooks", allScopes...)
	hook := func(i int) map[string]any {
		return map[string]any{"url": fmt.Sprintf("https://example.com/hook/%d", i), "event_types": []string{"document.ready"}}
	}
	for i := range webhooks.MaxEndpoints {
		b.Must(201, "POST", "/v1/webhooks", key, hook(i))
	}
	r := b.Req("POST", "/v1/webhooks", key, hook(webhooks.MaxEndpoints))
	if r.Status != 429 || r.Code(t) != "quota_exceeded" {
		t.Fatalf("endpoint %d: %d %s", webhooks.MaxEndpoints+1, r.Status, r.Body)
	}
	if d := r.JSON(t)["detail"].(string); !strings.Contains(d, "delete an endpoint") || strings.Contains(d, "document") {
		t.Fatalf("detail %q", d)
	}
}
