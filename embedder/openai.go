package embedder

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	openai "github.com/sashabaranov/go-openai"
	"golang.org/x/sync/errgroup"
)

// Counter counts tokens the way the provider does (cl100k_base for
// OpenAI's embedding models); chunker.BPE is one.
type Counter interface {
	Count(s string) int
}

// OpenAIConfig configures the OpenAI embedder. Zero fields take defaults.
type OpenAIConfig struct {
	APIKey string
	// BaseURL of an OpenAI-compatible API; default OpenAI's.
	BaseURL string
	// Model, default text-embedding-3-small.
	Model string
	// Dimensions, default 1536. Sent as the request's "dimensions" for the
	// text-embedding-3 models; every returned vector is checked against it.
	Dimensions int
	// Per-request limits: inputs (default and maximum 2048), tokens
	// (default 300,000) and tokens of one input (default 8191).
	MaxBatchInputs, MaxBatchTokens, MaxInputTokens int
	// Concurrency: requests in flight at once (default 4).
	Concurrency int
	// Timeout of one HTTP request (default 60s).
	Timeout time.Duration
	// MaxAttempts per batch (default 6); backoff doubles from MinBackoff
	// (default 500ms) to MaxBackoff (default 30s), with full jitter. 429,
	// 408, 409 and 5xx are retried; a Retry-After on any of them (seconds
	// or an HTTP date) replaces the backoff up to MaxBackoff, and a longer
	// one comes back at once as an *Error carrying Retry, for the job to
	// snooze.
	MaxAttempts            int
	MinBackoff, MaxBackoff time.Duration
	// Counter counts tokens for batching; required.
	Counter Counter
	// Transport for the HTTP client (tests); default http.DefaultTransport.
	Transport http.RoundTripper
}

// OpenAI embeds through an OpenAI-compatible /embeddings endpoint.
type OpenAI struct {
	cfg    OpenAIConfig
	client *openai.Client
}

// NewOpenAI returns an OpenAI embedder.
func NewOpenAI(cfg OpenAIConfig) (*OpenAI, error) {
	cfg.Model = cmp.Or(cfg.Model, "text-embedding-3-small")
	cfg.Dimensions = cmp.Or(cfg.Dimensions, 1536)
	cfg.MaxBatchInputs = min(cmp.Or(cfg.MaxBatchInputs, 2048), 2048)
	cfg.MaxBatchTokens = cmp.Or(cfg.MaxBatchTokens, 300_000)
	cfg.MaxInputTokens = cmp.Or(cfg.MaxInputTokens, 8191)
	cfg.Concurrency = cmp.Or(cfg.Concurrency, 4)
	cfg.Timeout = cmp.Or(cfg.Timeout, 60*time.Second)
	cfg.MaxAttempts = cmp.Or(cfg.MaxAttempts, 6)
	cfg.MinBackoff = cmp.Or(cfg.MinBackoff, 500*time.Millisecond)
	cfg.MaxBackoff = cmp.Or(cfg.MaxBackoff, 30*time.Second)
	switch {
	case cfg.Counter == nil:
		return nil, errors.New("embedder: a token counter is required")
	case cfg.Dimensions < 1 || cfg.Dimensions > 16384:
		return nil, errors.New("embedder: dimensions must be between 1 and 16384")
	case cfg.MaxInputTokens > cfg.MaxBatchTokens:
		return nil, errors.New("embedder: the input token limit exceeds the batch token limit")
	}
	oc := openai.DefaultConfig(cfg.APIKey)
	if cfg.BaseURL != "" {
		oc.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	}
	oc.HTTPClient = &http.Client{
		Timeout:   cfg.Timeout,
		Transport: &retryAfterTransport{next: cmp.Or[http.RoundTripper](cfg.Transport, http.DefaultTransport)},
	}
	return &OpenAI{cfg: cfg, client: openai.NewClientWithConfig(oc)}, nil
}

// Model implements Embedder.
func (o *OpenAI) Model() string { return o.cfg.Model }

// Dimensions implements Embedder.
func (o *OpenAI) Dimensions() int { return o.cfg.Dimensions }

// Batches splits texts, in order, into as few requests as the limits
// allow: each batch holds at most MaxBatchInputs texts and MaxBatchTokens
// tokens. It fails on an empty text or one over MaxInputTokens.
func (o *OpenAI) Batches(texts []string) ([][2]int, error) {
	var out [][2]int
	start, tokens := 0, 0
	for i, t := range texts {
		if t == "" {
			return nil, &Error{Kind: KindBadRequest, Message: fmt.Sprintf("input %d is empty", i)}
		}
		n := o.cfg.Counter.Count(t)
		if n > o.cfg.MaxInputTokens {
			return nil, &Error{Kind: KindBadRequest, Message: fmt.Sprintf("input %d has %d tokens, over the model's limit of %d", i, n, o.cfg.MaxInputTokens)}
		}
		if i > start && (i-start == o.cfg.MaxBatchInputs || tokens+n > o.cfg.MaxBatchTokens) {
			out = append(out, [2]int{start, i})
			start, tokens = i, 0
		}
		tokens += n
	}
	if start < len(texts) {
		out = append(out, [2]int{start, len(texts)})
	}
	return out, nil
}

// Embed implements Embedder. Every call is a request: the tenant is not
// sent to the provider and plays no part.
func (o *OpenAI) Embed(ctx context.Context, _ uuid.UUID, texts []string) (Result, error) {
	batches, err := o.Batches(texts)
	if err != nil {
		return Result{}, err
	}
	res := Result{Vectors: make([][]float32, len(texts))}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.cfg.Concurrency)
	for _, b := range batches {
		g.Go(func() error {
			vecs, tokens, requests, err := o.embedBatch(gctx, texts[b[0]:b[1]])
			mu.Lock()
			defer mu.Unlock()
			res.Requests += requests
			if err != nil {
				return err
			}
			copy(res.Vectors[b[0]:b[1]], vecs)
			res.Tokens += tokens
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return res, err
	}
	return res, nil
}

// embedBatch sends one batch, retrying what can be retried.
func (o *OpenAI) embedBatch(ctx context.Context, texts []string) ([][]float32, int, int, error) {
	req := openai.EmbeddingRequest{Input: texts, Model: openai.EmbeddingModel(o.cfg.Model)}
	if strings.HasPrefix(o.cfg.Model, "text-embedding-3") {
		req.Dimensions = o.cfg.Dimensions
	}
	for attempt := 1; ; attempt++ {
		hint := &retryAfterHint{}
		resp, err := o.client.CreateEmbeddings(context.WithValue(ctx, retryAfterKey{}, hint), req)
		if err == nil {
			vecs, err := o.check(resp, len(texts))
			return vecs, resp.Usage.TotalTokens, attempt, err
		}
		if ctx.Err() != nil {
			return nil, 0, attempt, ctx.Err()
		}
		e := classify(err, o.cfg)
		if e.Permanent() {
			return nil, 0, attempt, e
		}
		e.Retry = hint.get()
		if attempt >= o.cfg.MaxAttempts {
			return nil, 0, attempt, e
		}
		wait := backoff(attempt, o.cfg.MinBackoff, o.cfg.MaxBackoff)
		if e.Retry > 0 {
			if e.Retry > o.cfg.MaxBackoff {
				return nil, 0, attempt, e // longer than we wait in a job: snooze it
			}
			wait = e.Retry
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, 0, attempt, ctx.Err()
		}
	}
}

// check puts the response's vectors in input order and verifies them.
func (o *OpenAI) check(resp openai.EmbeddingResponse, n int) ([][]float32, error) {
	if len(resp.Data) != n {
		return nil, &Error{Kind: KindServer, Message: fmt.Sprintf("asked for %d embeddings, got %d", n, len(resp.Data))}
	}
	out := make([][]float32, n)
	for _, d := range resp.Data {
		if d.Index < 0 || d.Index >= n || out[d.Index] != nil {
			return nil, &Error{Kind: KindServer, Message: fmt.Sprintf("the response has a bad or repeated index %d", d.Index)}
		}
		if len(d.Embedding) != o.cfg.Dimensions {
			return nil, &Error{Kind: KindDimensions, Message: fmt.Sprintf(
				"model %s returned %d dimensions, configured %d: set RAGD_EMBEDDING_DIMENSIONS to what the model returns (and reindex), or pick a model that supports %d",
				o.cfg.Model, len(d.Embedding), o.cfg.Dimensions, o.cfg.Dimensions)}
		}
		out[d.Index] = d.Embedding
	}
	return out, nil
}

// classify turns a go-openai error into an *Error.
func classify(err error, cfg OpenAIConfig) *Error {
	var api *openai.APIError
	var req *openai.RequestError
	status, msg := 0, ""
	switch {
	case errors.As(err, &api):
		status, msg = api.HTTPStatusCode, api.Message
	case errors.As(err, &req):
		status, msg = req.HTTPStatusCode, http.StatusText(req.HTTPStatusCode)
	}
	var ne net.Error
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return &Error{Kind: KindAuth, Status: status, Message: "the provider refused the API key (check OPENAI_API_KEY): " + msg, Err: err}
	case status == http.StatusNotFound:
		return &Error{Kind: KindModel, Status: status, Message: fmt.Sprintf("model %q or the endpoint was not found (check RAGD_EMBEDDING_MODEL and OPENAI_BASE_URL): %s", cfg.Model, msg), Err: err}
	case status == http.StatusTooManyRequests:
		return &Error{Kind: KindRateLimit, Status: status, Message: "the provider asked us to slow down: " + msg, Err: err}
	case retried(status):
		return &Error{Kind: KindServer, Status: status, Message: "the provider failed: " + msg, Err: err}
	case status >= 400:
		return &Error{Kind: KindBadRequest, Status: status, Message: "the provider refused the request (wrong dimensions for this model?): " + msg, Err: err}
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return &Error{Kind: KindTimeout, Message: fmt.Sprintf("no answer within %s", cfg.Timeout), Err: err}
	}
	return &Error{Kind: KindNetwork, Message: "the provider could not be reached", Err: err}
}

// retried reports whether a response with status is tried again (after
// its Retry-After, when it sends one).
func retried(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusRequestTimeout ||
		status == http.StatusConflict || status >= 500
}

// backoff is exponential with full jitter: a random wait up to
// min(max, base·2^(attempt-1)).
func backoff(attempt int, base, limit time.Duration) time.Duration {
	d := base << min(attempt-1, 20)
	if d <= 0 || d > limit {
		d = limit
	}
	return time.Duration(rand.Int64N(int64(d)) + 1)
}

// go-openai keeps response headers away from its errors, so a transport
// hands the Retry-After of every response that is retried (a 503 sends one
// as often as a 429) to the request that asked, through its context.
type retryAfterKey struct{}

type retryAfterHint struct {
	mu sync.Mutex
	d  time.Duration
}

func (h *retryAfterHint) get() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.d
}

type retryAfterTransport struct{ next http.RoundTripper }

func (t *retryAfterTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err != nil || !retried(resp.StatusCode) {
		return resp, err
	}
	if hint, ok := r.Context().Value(retryAfterKey{}).(*retryAfterHint); ok {
		if d := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); d > 0 {
			hint.mu.Lock()
			hint.d = d
			hint.mu.Unlock()
		}
	}
	return resp, nil
}

// parseRetryAfter reads seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 && s < 86400 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
