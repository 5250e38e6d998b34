package webhooks

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/ragd/ragd/outbound"
)

// Config is the operator's choice of how webhooks are sent. Its zero value
// is safe: https or http to public addresses only, the default schedule.
type Config struct {
	// AllowPrivate lets endpoints be (or resolve to) loopback, private,
	// link-local and other non-public addresses
	// (RAGD_WEBHOOK_ALLOW_PRIVATE; default false). Tests and local
	// development set it.
	AllowPrivate bool
	// RequireHTTPS refuses http endpoints (on in production).
	RequireHTTPS bool
	// Retries are the waits after each failed attempt; a delivery fails
	// once they are used up (default DefaultRetries: 9 attempts over
	// about 23 hours).
	Retries []time.Duration
	// Timeout bounds an attempt, from dialling to the answer's headers
	// and its first ExcerptBytes (default 10 s; connecting alone 5 s).
	Timeout time.Duration
	// Senders is how many deliveries a process sends at once, the
	// capacity the tenants share (see Service.Deliver); the server sets
	// it to its webhook workers (default 8).
	Senders int
}

// DefaultRetries is the schedule after a failed attempt: a receiver down
// for a deploy gets the event within minutes, one down for most of a day
// still gets it.
var DefaultRetries = []time.Duration{30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute,
	time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour}

// DefaultTimeout bounds an attempt.
const DefaultTimeout = 10 * time.Second

// dialTimeout bounds connecting to a receiver.
const dialTimeout = 5 * time.Second

func (c Config) withDefaults() Config {
	if len(c.Retries) == 0 {
		c.Retries = DefaultRetries
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Senders <= 0 {
		c.Senders = 8
	}
	return c
}

// ErrRefusedAddress is returned when an endpoint's host is, or resolves
// to, an address the configuration refuses.
var ErrRefusedAddress = outbound.ErrRefusedAddress

// sender makes attempts: one request, signed, to a checked address.
type sender struct {
	cfg    Config
	client *http.Client
}

func newSender(cfg Config) *sender {
	// The dialer checks every address a name resolves to (or is rebound
	// to), as registration checks an address in the URL.
	dialer := outbound.Dialer(dialTimeout, cfg.AllowPrivate)
	transport := &http.Transport{
		Proxy:                 nil, // a proxy would be dialled instead of the receiver, unchecked
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   dialTimeout,
		ResponseHeaderTimeout: cfg.Timeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       time.Minute,
		ForceAttemptHTTP2:     true,
	}
	client := &http.Client{
		Transport: transport,
		Timeout:   cfg.Timeout,
		// A redirect is not followed, to another host or the same one: it
		// is the receiver's answer, and not a 2xx, so the attempt failed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &sender{cfg: cfg, client: client}
}

// result is what an attempt came to.
type result struct {
	statusCode int // 0: no answer
	latency    time.Duration
	err        string // why it failed ("" when delivered)
	response   string // the start of the answer
}

func (r result) delivered() bool { return r.err == "" }

// Sign returns the webhook-signature header value for a message: "v1,"
// and the base64 of HMAC-SHA256(key, id + "." + unix seconds + "." + body),
// per the Standard Webhooks specification (its Go library signs).
func Sign(key []byte, msgID string, at time.Time, body []byte) (string, error) {
	wh, err := standardwebhooks.NewWebhookRaw(key)
	if err != nil {
		return "", err
	}
	return wh.Sign(msgID, at, body)
}

// send makes one attempt to deliver body to rawURL.
func (s *sender) send(ctx context.Context, rawURL string, key []byte, msgID string, body []byte) result {
	start := time.Now()
	fail := func(format string, args ...any) result {
		return result{latency: time.Since(start), err: excerpt(fmt.Sprintf(format, args...))}
	}
	if s.cfg.RequireHTTPS && !strings.HasPrefix(rawURL, "https://") {
		return fail("refused: the endpoint must be https")
	}
	now := time.Now()
	sig, err := Sign(key, msgID, now, body)
	if err != nil {
		return fail("sign: %v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return fail("bad endpoint URL: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ragd-webhooks/1")
	req.Header.Set(standardwebhooks.HeaderWebhookID, msgID)
	req.Header.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(standardwebhooks.HeaderWebhookSignature, sig)
	resp, err := s.client.Do(req)
	if err != nil {
		if why, ok := outbound.Reason(err); ok {
			return fail("%s", why)
		}
		return fail("%v", err)
	}
	defer resp.Body.Close()
	// Only the start of the answer is read, and kept.
	head, _ := io.ReadAll(io.LimitReader(resp.Body, ExcerptBytes))
	r := result{statusCode: resp.StatusCode, latency: time.Since(start), response: excerpt(string(head))}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		r.err = fmt.Sprintf("HTTP %d: redirects are not followed; register the final URL", resp.StatusCode)
	default:
		r.err = fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	return r
}

// excerpt makes s storable and short: valid UTF-8, no NULs, at most
// ExcerptBytes bytes.
func excerpt(s string) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	if len(s) > ExcerptBytes {
		s = strings.ToValidUTF8(s[:ExcerptBytes], "")
	}
	return s
}
