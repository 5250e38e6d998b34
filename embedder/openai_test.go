package embedder

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ragd/ragd/embedder/openaitest"
)

// wordCounter counts words: predictable token counts for batching tests.
type wordCounter struct{}

func (wordCounter) Count(s string) int { return len(strings.Fields(s)) }

func newFake(t *testing.T, cfg OpenAIConfig) (*OpenAI, *openaitest.Server) {
	t.Helper()
	cfg.Dimensions = cmpInt(cfg.Dimensions, 8)
	fake := openaitest.Start(t, cfg.Dimensions)
	cfg.APIKey = cmpStr(cfg.APIKey, openaitest.Key)
	cfg.BaseURL = fake.URL
	cfg.Counter = wordCounter{}
	cfg.MinBackoff = cmpDur(cfg.MinBackoff, time.Millisecond)
	cfg.MaxBackoff = cmpDur(cfg.MaxBackoff, 20*time.Millisecond)
	e, err := NewOpenAI(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e, fake
}

func cmpInt(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}
func cmpStr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
func cmpDur(a, b time.Duration) time.Duration {
	if a != 0 {
		return a
	}
	return b
}

func texts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("text %d", i)
	}
	return out
}

func wantKind(t *testing.T, err error, kind Kind) *Error {
	t.Helper()
	e, ok := AsError(err)
	if !ok || e.Kind != kind {
		t.Fatalf("err = %v, want kind %s", err, kind)
	}
	return e
}

func TestOpenAI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("BatchesToTheLimitsAndKeepsOrder", func(t *testing.T) {
		t.Parallel()
		e, fake := newFake(t, OpenAIConfig{MaxBatchInputs: 3, Concurrency: 3})
		res, err := e.Embed(ctx, uuid.Nil, texts(10))
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range res.Vectors {
			if v[0] != float32(i) {
				t.Fatalf("vector %d belongs to input %g", i, v[0])
			}
		}
		if len(fake.Requests()) != 4 || res.Requests != 4 || res.Tokens != 20 {
			t.Fatalf("%d requests (%d counted), %d tokens; want 4, 4, 20", len(fake.Requests()), res.Requests, res.Tokens)
		}
		if fake.Requests()[0].Dimensions != 8 || fake.Requests()[0].Model != "text-embedding-3-small" {
			t.Fatalf("request = %+v", fake.Requests()[0])
		}
	})

	t.Run("TokenBudgetSplitsBatches", func(t *testing.T) {
		t.Parallel()
		e, _ := newFake(t, OpenAIConfig{MaxBatchTokens: 5, MaxInputTokens: 5})
		in := []string{"text 0 a b", "text 1 c", "text 2", "text 3 d e"} // 4, 3, 2, 4 words
		b, err := e.Batches(in)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(b) != "[[0 1] [1 3] [3 4]]" {
			t.Fatalf("batches = %v", b)
		}
		if _, err := e.Batches([]string{"a b c d e f"}); err == nil {
			t.Fatal("an input over the token limit was accepted")
		}
		_, err = e.Embed(ctx, uuid.Nil, []string{"text 0", ""})
		wantKind(t, err, KindBadRequest)
	})

	t.Run("NoDimensionsFieldForOtherModels", func(t *testing.T) {
		t.Parallel()
		e, fake := newFake(t, OpenAIConfig{Model: "nomic-embed-text"})
		if _, err := e.Embed(ctx, uuid.Nil, texts(2)); err != nil {
			t.Fatal(err)
		}
		if fake.Requests()[0].HasDims {
			t.Fatalf("dimensions sent to a model that does not take it: %+v", fake.Requests()[0])
		}
	})

	// Retry-After is honoured on every status that is retried, in seconds
	// or as an HTTP date. With an hour of backoff, only Retry-After
	// explains a retry within seconds.
	for _, tc := range []struct {
		name       string
		status     int
		retryAfter func() string
	}{
		{"429Seconds", 429, func() string { return "0.05" }},
		{"503Seconds", 503, func() string { return "0.05" }},
		{"503HTTPDate", 503, func() string { return time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat) }},
		{"429HTTPDate", 429, func() string { return time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat) }},
		{"500Seconds", 500, func() string { return "0.05" }},
		{"502Seconds", 502, func() string { return "0.05" }},
		{"504Seconds", 504, func() string { return "0.05" }},
		{"408Seconds", 408, func() string { return "0.05" }},
	} {
		t.Run("RetryAfterHonouredOn"+tc.name, func(t *testing.T) {
			t.Parallel()
			e, fake := newFake(t, OpenAIConfig{MinBackoff: time.Hour, MaxBackoff: time.Hour})
			fake.Respond = func(w http.ResponseWriter, n int) bool {
				if n == 1 {
					w.Header().Set("Retry-After", tc.retryAfter())
					w.WriteHeader(tc.status)
					fmt.Fprint(w, `{"error":{"message":"later, please","type":"requests"}}`)
					return true
				}
				return false
			}
			// Ignoring Retry-After would wait the hour: fail in seconds instead.
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			start := time.Now()
			res, err := e.Embed(ctx, uuid.Nil, texts(2))
			if err != nil {
				t.Fatalf("%v after %s: Retry-After not honoured", err, time.Since(start))
			}
			if res.Requests != 2 || time.Since(start) < 50*time.Millisecond {
				t.Fatalf("%d requests in %s", res.Requests, time.Since(start))
			}
		})
	}

	// A Retry-After longer than the embedder waits comes back at once, as
	// an error carrying it, for the job to snooze.
	for _, tc := range []struct {
		name       string
		status     int
		kind       Kind
		retryAfter string
		want       time.Duration
	}{
		{"429", 429, KindRateLimit, "120", 120 * time.Second},
		{"503", 503, KindServer, "120", 120 * time.Second},
		{"503HTTPDate", 503, KindServer, time.Now().Add(10 * time.Minute).UTC().Format(http.TimeFormat), 10 * time.Minute},
	} {
		t.Run("LongRetryAfterComesBackToSnooze"+tc.name, func(t *testing.T) {
			t.Parallel()
			e, fake := newFake(t, OpenAIConfig{})
			fake.Respond = func(w http.ResponseWriter, n int) bool {
				w.Header().Set("Retry-After", tc.retryAfter)
				w.WriteHeader(tc.status)
				fmt.Fprint(w, `{"error":{"message":"slow down"}}`)
				return true
			}
			_, err := e.Embed(ctx, uuid.Nil, texts(1))
			ek := wantKind(t, err, tc.kind)
			if ek.Retry > tc.want || ek.Retry < tc.want-5*time.Second || ek.Permanent() || len(fake.Requests()) != 1 {
				t.Fatalf("retry = %s after %d requests, want %s after 1", ek.Retry, len(fake.Requests()), tc.want)
			}
		})
	}

	t.Run("ServerErrorThenSuccess", func(t *testing.T) {
		t.Parallel()
		e, fake := newFake(t, OpenAIConfig{})
		fake.Respond = func(w http.ResponseWriter, n int) bool {
			if n <= 2 {
				w.WriteHeader(500 + n)
				fmt.Fprint(w, `{"error":{"message":"overloaded"}}`)
				return true
			}
			return false
		}
		res, err := e.Embed(ctx, uuid.Nil, texts(3))
		if err != nil || res.Requests != 3 {
			t.Fatalf("err %v after %d requests", err, res.Requests)
		}
	})

	t.Run("TimeoutIsRetriedThenReported", func(t *testing.T) {
		t.Parallel()
		e, fake := newFake(t, OpenAIConfig{Timeout: 50 * time.Millisecond, MaxAttempts: 2})
		release := make(chan struct{})
		t.Cleanup(func() { close(release) })
		fake.Respond = func(w http.ResponseWriter, n int) bool {
			select {
			case <-release:
			case <-time.After(2 * time.Second):
			}
			return true
		}
		res, err := e.Embed(ctx, uuid.Nil, texts(1))
		wantKind(t, err, KindTimeout)
		if res.Requests != 2 {
			t.Fatalf("%d attempts, want 2", res.Requests)
		}
	})

	t.Run("PermanentErrorsAreNotRetried", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			status int
			kind   Kind
		}{{401, KindAuth}, {403, KindAuth}, {404, KindModel}, {400, KindBadRequest}} {
			e, fake := newFake(t, OpenAIConfig{})
			fake.Respond = func(w http.ResponseWriter, n int) bool {
				w.WriteHeader(tc.status)
				fmt.Fprint(w, `{"error":{"message":"nope"}}`)
				return true
			}
			_, err := e.Embed(ctx, uuid.Nil, texts(1))
			if ek := wantKind(t, err, tc.kind); !ek.Permanent() || len(fake.Requests()) != 1 {
				t.Fatalf("%d: permanent=%v after %d requests", tc.status, ek.Permanent(), len(fake.Requests()))
			}
		}
		e, _ := newFake(t, OpenAIConfig{APIKey: "wrong-key"})
		_, err := e.Embed(ctx, uuid.Nil, texts(1))
		if ek := wantKind(t, err, KindAuth); !strings.Contains(ek.Message, "OPENAI_API_KEY") {
			t.Fatalf("message %q does not say what to fix", ek.Message)
		}
	})

	t.Run("WrongDimensionsAreCaught", func(t *testing.T) {
		t.Parallel()
		e, fake := newFake(t, OpenAIConfig{})
		fake.SetDims(4) // the server answers 4 while 8 are configured
		_, err := e.Embed(ctx, uuid.Nil, texts(1))
		if ek := wantKind(t, err, KindDimensions); !strings.Contains(ek.Message, "RAGD_EMBEDDING_DIMENSIONS") {
			t.Fatalf("message %q", ek.Message)
		}
	})

	t.Run("ConcurrencyIsBounded", func(t *testing.T) {
		t.Parallel()
		e, fake := newFake(t, OpenAIConfig{MaxBatchInputs: 1, Concurrency: 2})
		var inflight, peak atomic.Int32
		fake.Respond = func(w http.ResponseWriter, n int) bool {
			cur := inflight.Add(1)
			for p := peak.Load(); cur > p && !peak.CompareAndSwap(p, cur); p = peak.Load() {
			}
			time.Sleep(10 * time.Millisecond)
			inflight.Add(-1)
			return false
		}
		if _, err := e.Embed(ctx, uuid.Nil, texts(8)); err != nil {
			t.Fatal(err)
		}
		if p := peak.Load(); p > 2 || p < 1 {
			t.Fatalf("peak concurrency %d, limit 2", p)
		}
	})
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"": 0, "7": 7 * time.Second, "0.5": 500 * time.Millisecond, "-1": 0, "soon": 0,
		now.Add(30 * time.Second).Format(http.TimeFormat): 30 * time.Second,
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestLocal(t *testing.T) {
	t.Parallel()
	l, err := NewLocal(256)
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.Embed(context.Background(), uuid.Nil, []string{"Tenants upload documents", "tenants upload their documents", "Quantum chromodynamics lecture", "!!!"})
	if err != nil {
		t.Fatal(err)
	}
	cos := func(a, b []float32) float64 {
		var s float64
		for i := range a {
			s += float64(a[i]) * float64(b[i])
		}
		return s
	}
	v := res.Vectors
	if len(v[0]) != 256 || cos(v[0], v[0]) < 0.999 {
		t.Fatalf("not unit length: %f", cos(v[0], v[0]))
	}
	if near, far := cos(v[0], v[1]), cos(v[0], v[2]); near < 0.5 || far > 0.3 {
		t.Fatalf("similar texts %.2f, unrelated %.2f", near, far)
	}
	again, _ := l.Embed(context.Background(), uuid.Nil, []string{"Tenants upload documents"})
	if cos(again.Vectors[0], v[0]) < 0.9999 {
		t.Fatal("not deterministic")
	}
	if cos(v[3], v[3]) != 0 {
		t.Fatal("a text without words should embed to zero")
	}
}
