package api_test

import (
	"strings"
	"testing"

	"github.com/ragd/ragd/api/apitest"
)

func TestMetrics(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, key := b.TenantWithKey("acme")
	good := b.Must(202, "POST", "/v1/documents", key, map[string]any{"text": "Metrics count what ragd does."}).JSON(t)["id"].(string)
	bad := b.Upload(key, "", "cut.pdf", []byte("%PDF-1.4\nbroken")).JSON(t)["id"].(string)
	b.WaitDocument(key, good)
	b.WaitDocument(key, bad)
	b.Must(200, "POST", "/v1/search", key, map[string]any{"query": "what do metrics count"})

	// River records a job's completion a moment after the work is done.
	var body string
	apitest.Eventually(t, "the ingest jobs' completion and cancellation in /metrics", func() bool {
		body = string(b.Must(200, "GET", "/metrics", "", nil).Body)
		return strings.Contains(body, `ragd_jobs{kind="ingest_document",state="completed"} 1`) &&
			strings.Contains(body, `ragd_jobs{kind="ingest_document",state="cancelled"} 1`)
	})
	for _, want := range []string{
		`ragd_http_requests_total{method="POST",route="POST /v1/documents",status="202"}`,
		`ragd_http_request_duration_seconds_bucket{method="POST",route="POST /v1/search"`,
		`ragd_ingest_stage_duration_seconds_count{stage="extracting"}`,
		`ragd_ingest_stage_duration_seconds_count{stage="embedding"}`,
		`ragd_documents_processed_total{code="",state="ready"} 1`,
		`ragd_documents_processed_total{code="pdf_malformed",state="failed"} 1`,
		`ragd_chunks_indexed_total 1`,
		`ragd_embedding_requests_total`,
		`ragd_embedding_tokens_total`,
		`ragd_embedding_cache_hits_total`,
		`ragd_jobs{kind="ingest_document",state="completed"} 1`,
		`ragd_jobs{kind="ingest_document",state="cancelled"} 1`,
		`ragd_search_duration_seconds_count{mode="hybrid"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, key) || strings.Contains(body, adminToken) {
		t.Fatal("/metrics shows a credential")
	}
}
