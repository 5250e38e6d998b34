// Package metrics defines ragd's Prometheus metrics in one place. Every
// method is safe on a nil *Metrics (it records nothing), so components can
// be built without metrics in tests.
package metrics

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds ragd's collectors and the registry they are in.
type Metrics struct {
	Registry *prometheus.Registry

	httpRequests   *prometheus.CounterVec
	httpDuration   *prometheus.HistogramVec
	stageDuration  *prometheus.HistogramVec
	documents      *prometheus.CounterVec
	chunks         prometheus.Counter
	embedRequests  prometheus.Counter
	embedTokens    prometheus.Counter
	embedCacheHits prometheus.Counter
	embedErrors    *prometheus.CounterVec
	searchDuration *prometheus.HistogramVec
	extractions    *prometheus.CounterVec
	extractRSS     prometheus.Histogram
	sourcePages    *prometheus.CounterVec
}

// New registers ragd's metrics, Go's and the process's, and, when pool is
// not nil, the job queue's depth by state (read from River's table when
// scraped).
func New(pool *pgxpool.Pool, log *slog.Logger) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ragd_http_requests_total", Help: "HTTP requests by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ragd_http_request_duration_seconds", Help: "HTTP request latency by route pattern and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "method"}),
		stageDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ragd_ingest_stage_duration_seconds", Help: "Time spent in each ingest stage (extracting, chunking, embedding, indexing).",
			Buckets: []float64{.005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}, []string{"stage"}),
		documents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ragd_documents_processed_total", Help: "Documents that reached a final state, by state and error code.",
		}, []string{"state", "code"}),
		chunks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ragd_chunks_indexed_total", Help: "Chunks written to the vector store.",
		}),
		embedRequests: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ragd_embedding_requests_total", Help: "Requests sent to the embedding provider, retries included.",
		}),
		embedTokens: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ragd_embedding_tokens_total", Help: "Tokens the embedding provider billed.",
		}),
		embedCacheHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ragd_embedding_cache_hits_total", Help: "Texts answered from the embedding cache instead of the provider.",
		}),
		embedErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ragd_embedding_errors_total", Help: "Embedding provider failures by kind (auth, model, bad_request, dimensions, rate_limit, server, timeout, network).",
		}, []string{"kind"}),
		searchDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ragd_search_duration_seconds", Help: "Search latency by mode, from query to answer.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"mode"}),
		sourcePages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ragd_source_pages_total", Help: "URLs of sources' runs, by outcome: new, changed, unchanged (304, or the same bytes or text), failed (an HTTP error, a timeout, a refused address, too large...) and skipped (robots.txt, or the same page as another URL).",
		}, []string{"outcome"}),
		extractions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ragd_extractions_total", Help: "Documents given to an extraction child, by outcome (ok, failed, too_complex, timeout, extract_crashed, cancelled) and whether the child was reused.",
		}, []string{"outcome", "reused"}),
		extractRSS: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ragd_extraction_peak_rss_bytes", Help: "Peak resident memory of an extraction child while it worked on one document.",
			Buckets: prometheus.ExponentialBuckets(32<<20, 2, 7),
		}),
	}
	reg.MustRegister(m.httpRequests, m.httpDuration, m.stageDuration, m.documents, m.chunks,
		m.embedRequests, m.embedTokens, m.embedCacheHits, m.embedErrors, m.searchDuration, m.extractions, m.extractRSS, m.sourcePages,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if pool != nil {
		reg.MustRegister(&queueDepth{pool: pool, log: log, desc: prometheus.NewDesc(
			"ragd_jobs", "Jobs in the queue by kind and state.", []string{"kind", "state"}, nil)})
	}
	return m
}

// HTTPRequest records one request.
func (m *Metrics) HTTPRequest(route, method string, status int, d time.Duration) {
	if m == nil {
		return
	}
	if route == "" {
		route = "unmatched"
	}
	method = Method(method)
	m.httpRequests.WithLabelValues(route, method, statusText(status)).Inc()
	m.httpDuration.WithLabelValues(route, method).Observe(d.Seconds())
}

// Stage records the time one ingest stage took.
func (m *Metrics) Stage(stage string, d time.Duration) {
	if m != nil {
		m.stageDuration.WithLabelValues(stage).Observe(d.Seconds())
	}
}

// Document records a document reaching a final state (code "" when ready).
func (m *Metrics) Document(state, code string) {
	if m != nil {
		m.documents.WithLabelValues(state, code).Inc()
	}
}

// Indexed records chunks written and what embedding them cost.
func (m *Metrics) Indexed(chunks, requests, tokens, cacheHits int) {
	if m == nil {
		return
	}
	m.chunks.Add(float64(chunks))
	m.embedRequests.Add(float64(requests))
	m.embedTokens.Add(float64(tokens))
	m.embedCacheHits.Add(float64(cacheHits))
}

// EmbeddingError records a provider failure of a kind.
func (m *Metrics) EmbeddingError(kind string) {
	if m != nil {
		m.embedErrors.WithLabelValues(kind).Inc()
	}
}

// Extraction records what an extraction child did with one document.
func (m *Metrics) Extraction(outcome string, reused bool, peakRSS int64) {
	if m == nil {
		return
	}
	m.extractions.WithLabelValues(outcome, strconv.FormatBool(reused)).Inc()
	if peakRSS > 0 {
		m.extractRSS.Observe(float64(peakRSS))
	}
}

// Search records a search's latency.
func (m *Metrics) Search(mode string, d time.Duration) {
	if m != nil {
		m.searchDuration.WithLabelValues(mode).Observe(d.Seconds())
	}
}

func statusText(code int) string {
	if code == 0 {
		code = 200
	}
	return strconv.Itoa(code)
}

// queueDepth reads River's job table when scraped.
type queueDepth struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	desc *prometheus.Desc
}

func (q *queueDepth) Describe(ch chan<- *prometheus.Desc) { ch <- q.desc }

func (q *queueDepth) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rows, err := q.pool.Query(ctx, "SELECT kind, state::text, count(*) FROM river_job GROUP BY kind, state")
	if err != nil {
		q.log.Warn("metrics: read queue depth", "err", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var kind, state string
		var n int64
		if rows.Scan(&kind, &state, &n) == nil {
			ch <- prometheus.MustNewConstMetric(q.desc, prometheus.GaugeValue, float64(n), kind, state)
		}
	}
}

// Method is an HTTP method as a label value: one of the methods HTTP
// defines, or "other". The raw method is the client's to choose, and a
// label value per spelling would grow the series without bound.
func Method(m string) string {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE":
		return m
	}
	return "other"
}

// SourcePage records what became of a URL of a source's run.
func (m *Metrics) SourcePage(outcome string) {
	if m == nil {
		return
	}
	m.sourcePages.WithLabelValues(outcome).Inc()
}
