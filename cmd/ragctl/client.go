package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Exit codes.
const (
	exitFailed      = 1
	exitUsage       = 2
	exitUnreachable = 3
	exitAuth        = 4
)

// exitError carries an exit code with its message.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func usageErr(format string, args ...any) error {
	return &exitError{exitUsage, fmt.Sprintf(format, args...)}
}

// client talks to one ragd server with one credential.
type client struct {
	base   string
	key    string
	tenant string
	http   *http.Client
	// notify, when set, is told about waits for a Retry-After.
	notify func(string)
}

// problem is ragd's error document.
type problem struct {
	Status int               `json:"status"`
	Code   string            `json:"code"`
	Detail string            `json:"detail"`
	Errors map[string]string `json:"errors"`
}

func (c *client) request(ctx context.Context, method, path string, body io.Reader, contentType string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, usageErr("bad server URL %q", c.base)
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	if c.tenant != "" {
		req.Header.Set("Ragd-Tenant", c.tenant)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req, nil
}

// do sends a request and decodes a JSON answer into out (when not nil).
func (c *client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	ct := ""
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body, ct = bytes.NewReader(b), "application/json"
	}
	req, err := c.request(ctx, method, path, body, ct)
	if err != nil {
		return err
	}
	return c.send(req, out)
}

// send sends req and decodes its answer into out. A request ragd asks to
// come back later (503 unavailable or overloaded, 429 too_many_uploads,
// with Retry-After) is sent again after the wait, when its body can be
// sent again, up to maxWaits times.
func (c *client) send(req *http.Request, out any) error {
	for tries := 1; ; tries++ {
		err := c.sendOnce(req, out)
		var w *waitError
		if !errors.As(err, &w) || tries > maxWaits || (req.Body != nil && req.Body != http.NoBody && req.GetBody == nil) {
			return err
		}
		if err := c.wait(req.Context(), w); err != nil {
			return err
		}
		if req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return err
			}
			req = req.Clone(req.Context())
			req.Body = body
		}
	}
}

func (c *client) sendOnce(req *http.Request, out any) error {
	resp, err := c.http.Do(req)
	if err != nil {
		return unreachable(c.base, err)
	}
	defer resp.Body.Close()
	return decodeAnswer(resp, out)
}

// maxWaits bounds how often one request waits for a Retry-After.
const maxWaits = 5

// maxWait bounds one wait: a longer Retry-After (a spent monthly quota's)
// is an answer, not a pause.
const maxWait = time.Minute

// waitError is an answer that asks the client to come back after wait.
type waitError struct {
	wait time.Duration
	err  *exitError
}

func (w *waitError) Error() string { return w.err.Error() }
func (w *waitError) Unwrap() error { return w.err }

// wait sleeps for w, saying so, or until ctx is done.
func (c *client) wait(ctx context.Context, w *waitError) error {
	if c.notify != nil {
		c.notify(fmt.Sprintf("%s; trying again in %s", strings.SplitN(w.err.msg, "\n", 2)[0], w.wait))
	}
	t := time.NewTimer(w.wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return &exitError{exitFailed, "interrupted"}
	case <-t.C:
		return nil
	}
}

func unreachable(base string, err error) error {
	var ne net.Error
	if errors.As(err, &ne) || strings.Contains(err.Error(), "connection refused") {
		return &exitError{exitUnreachable, fmt.Sprintf("cannot reach %s: %v", base, err)}
	}
	if errors.Is(err, context.Canceled) {
		return &exitError{exitFailed, "interrupted"}
	}
	return &exitError{exitUnreachable, fmt.Sprintf("cannot reach %s: %v", base, err)}
}

func decodeAnswer(resp *http.Response, out any) error {
	if resp.StatusCode >= 400 {
		var p problem
		_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&p)
		msg := fmt.Sprintf("%d %s: %s", resp.StatusCode, p.Code, p.Detail)
		for f, m := range p.Errors {
			msg += fmt.Sprintf("\n  %s: %s", f, m)
		}
		code := exitFailed
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			code = exitAuth
		}
		e := &exitError{code, msg}
		if resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusTooManyRequests {
			if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs >= 0 && time.Duration(secs)*time.Second <= maxWait {
				return &waitError{wait: max(time.Duration(secs)*time.Second, 100*time.Millisecond), err: e}
			}
		}
		return e
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return &exitError{exitFailed, fmt.Sprintf("unreadable answer from the server: %v", err)}
	}
	return nil
}

// document is the part of ragd's document that ragctl shows.
type document struct {
	ID         string `json:"id"`
	Title      string `json:"title"`
	Type       string `json:"type"`
	Status     string `json:"status"`
	Stage      string `json:"stage"`
	Progress   float64
	SizeBytes  int64 `json:"size_bytes"`
	ChunkCount *int  `json:"chunk_count"`
	PageCount  *int  `json:"page_count"`
	Error      *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	CreatedAt time.Time `json:"created_at"`
}

// page is a list answer.
type page[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}
