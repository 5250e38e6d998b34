package apitest

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/ingest/ingesttest"
)

// Client sends a test's requests to a test server: every transport error
// fails the test. The packages whose tests speak HTTP to ragd (api,
// console) share it.
type Client struct {
	T   testing.TB
	URL string
	// SpoolDir, when set, is the server's upload spool directory: Upload
	// checks the server freed its file by the time it answered.
	SpoolDir string
}

// Client returns a Client of the server for t.
func (s *Server) Client(t testing.TB) *Client { return &Client{T: t, URL: s.URL} }

// Response is what a request got back.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON is the body as a JSON object, failing the test when it is not one.
func (r Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

// Code returns the problem code of an error response.
func (r Response) Code(t testing.TB) string {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("error response has Content-Type %q, want application/problem+json: %s", ct, r.Body)
	}
	c, _ := r.JSON(t)["code"].(string)
	return c
}

// Req sends a request. body may be nil, a string or []byte (sent as is) or
// a value (sent as JSON). headers are name, value pairs.
func (c *Client) Req(method, path, token string, body any, headers ...string) Response {
	c.T.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	case []byte:
		rd = bytes.NewReader(v)
	default:
		js, err := json.Marshal(v)
		if err != nil {
			c.T.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	r, err := http.NewRequest(method, c.URL+path, rd)
	if err != nil {
		c.T.Fatal(err)
	}
	if rd != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		c.T.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		c.T.Fatal(err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// Must sends a request and fails the test unless it answers want.
func (c *Client) Must(want int, method, path, token string, body any, headers ...string) Response {
	c.T.Helper()
	r := c.Req(method, path, token, body, headers...)
	if r.Status != want {
		c.T.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	return r
}

// TenantWithKey creates a tenant and a key with the given scopes (none
// given: the defaults), returning the tenant id and the key.
func (c *Client) TenantWithKey(slug string, scopes ...string) (string, string) {
	c.T.Helper()
	tr := c.Must(201, "POST", "/v1/tenants", AdminToken, map[string]any{"name": "Tenant " + slug, "slug": slug}).JSON(c.T)
	id := tr["id"].(string)
	body := map[string]any{"name": "test"}
	if scopes != nil {
		body["scopes"] = scopes
	}
	kr := c.Must(201, "POST", "/v1/tenants/"+id+"/api-keys", AdminToken, body).JSON(c.T)
	return id, kr["key"].(string)
}

// TenantWithOrg creates a tenant mapped to an organisation of the identity
// provider and returns its id.
func (c *Client) TenantWithOrg(slug, org string) string {
	c.T.Helper()
	return c.Must(201, "POST", "/v1/tenants", AdminToken, map[string]any{"name": "Tenant " + slug, "slug": slug, "clerk_org_id": org}).JSON(c.T)["id"].(string)
}

// MultipartBody is an upload's multipart form: the file (none when
// filename is "-") and the fields, name, value pairs. It returns the
// Content-Type and the body.
func MultipartBody(t testing.TB, filename string, data []byte, fields ...string) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if filename != "-" {
		fw, err := mw.CreateFormFile("file", filename)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(data)
	}
	for i := 0; i+1 < len(fields); i += 2 {
		mw.WriteField(fields[i], fields[i+1])
	}
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

// Upload posts a file and returns the response. With SpoolDir, whatever
// the answer, the server must have freed the upload's spool file by the
// time it gave it (checked at once: the garbage collector would close a
// leaked file later).
func (c *Client) Upload(key, query, filename string, data []byte, fields ...string) Response {
	c.T.Helper()
	ct, body := MultipartBody(c.T, filename, data, fields...)
	r := c.Req("POST", "/v1/documents"+query, key, body, "Content-Type", ct)
	if c.SpoolDir != "" {
		ingesttest.NoFilesLeft(c.T, c.SpoolDir)
	}
	return r
}

// WaitLimit bounds the tests' waits for a condition the server reaches on
// its own (a document ready, a job done): far beyond what a loaded machine
// under the race detector takes, so that reaching it means something is
// broken.
const WaitLimit = 2 * time.Minute

// WaitDocument polls a document until it leaves queued and processing.
func (c *Client) WaitDocument(key, id string) map[string]any {
	c.T.Helper()
	var d map[string]any
	Eventually(c.T, "document "+id+" is ready or failed", func() bool {
		d = c.Must(200, "GET", "/v1/documents/"+id, key, nil).JSON(c.T)
		s := d["status"]
		return s == "ready" || s == "failed"
	})
	return d
}

// Eventually polls cond, at first often and then less, until it holds;
// after WaitLimit the test fails, saying it waited for what.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(WaitLimit)
	for pause := time.Millisecond; !cond(); pause = min(2*pause, 100*time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for: %s", WaitLimit, what)
		}
		time.Sleep(pause)
	}
}

// AllScopes is every scope a key may have, as the API names them.
func AllScopes() []string {
	out := make([]string, len(agents.AllScopes))
	for i, s := range agents.AllScopes {
		out[i] = string(s)
	}
	return out
}
