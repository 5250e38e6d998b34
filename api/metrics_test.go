package api_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
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
	// Both jobs complete: the bad file's with its failure as output.
	apitest.Eventually(t, "the ingest jobs' completion in /metrics", func() bool {
		body = string(b.Must(200, "GET", "/metrics", "", nil).Body)
		return strings.Contains(body, `ragd_jobs{kind="ingest_document",state="completed"} 2`)
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
		`ragd_jobs{kind="ingest_document",state="completed"} 2`,
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

// TestMetricsSeriesAreBounded: requests with made-up methods and paths,
// which anyone can send, fold into one label value each ("other",
// "unmatched"), so /metrics does not grow with them.
func TestMetricsSeriesAreBounded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	series := func() int {
		n := 0
		for _, line := range strings.Split(string(b.Must(200, "GET", "/metrics", "", nil).Body), "\n") {
			if strings.HasPrefix(line, "ragd_http_request") {
				n++
			}
		}
		return n
	}
	r := rand.New(rand.NewPCG(1, 2))
	send := func(n int) {
		for range n {
			method := make([]byte, 12)
			for i := range method {
				method[i] = byte('A' + r.IntN(26))
			}
			req, err := http.NewRequest(string(method), b.url+fmt.Sprintf("/x/%d", r.Int()), nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
		}
	}
	send(20)
	series() // its own route's series start with it
	before := series()
	send(300)
	if after := series(); after != before {
		t.Fatalf("300 requests with new methods and paths grew /metrics from %d to %d series", before, after)
	}
	body := string(b.Must(200, "GET", "/metrics", "", nil).Body)
	if !strings.Contains(body, `ragd_http_requests_total{method="other",route="unmatched",status="404"} 320`) {
		t.Fatalf("the made-up requests are not counted as method other, route unmatched:\n%.3000s", body)
	}
}

// TestMetricsToken: with RAGD_METRICS_TOKEN set, /metrics answers only a
// scraper with that bearer token.
func TestMetricsToken(t *testing.T) {
	t.Parallel()
	const token = "scrape-token-0123456789"
	b := setupWith(t, apitest.Options{MetricsToken: token})
	for _, auth := range []string{"", "Bearer wrong-token", "Basic " + token, token} {
		var headers []string
		if auth != "" {
			headers = []string{"Authorization", auth}
		}
		if r := b.Req("GET", "/metrics", "", nil, headers...); r.Status != 401 || r.Code(t) != "unauthorized" {
			t.Fatalf("Authorization %q: %d %.200s", auth, r.Status, r.Body)
		}
	}
	if r := b.Req("GET", "/metrics", token, nil); r.Status != 200 || !strings.Contains(string(r.Body), "go_goroutines") {
		t.Fatalf("with the token: %d", r.Status)
	}
}
