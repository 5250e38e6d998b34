package console_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ragd/ragd/api/apitest"
	"github.com/ragd/ragd/console"
)

// BenchmarkConsoleDocuments measures the console's documents page (50
// documents: a session lookup, the in-process GET /v1/documents with its
// own session lookup, JSON decoding and the template) beside the API call
// it makes, by key and by session cookie, in the same run.
func BenchmarkConsoleDocuments(b *testing.B) {
	tb := setup(b)
	_, key := tb.TenantWithKey("bench", apitest.AllScopes()...)
	for i := range 50 {
		tb.Upload(key, "", "doc.txt", []byte(strings.Repeat("a short document ", 5+i)))
	}
	v := tb.signIn(key)
	get := func(b *testing.B, path string, auth func(*http.Request)) {
		req, _ := http.NewRequest("GET", tb.url+path, nil)
		auth(req)
		for b.Loop() {
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != 200 {
				b.Fatalf("GET %s: %v %v", path, resp, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	withKey := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+key) }
	withSession := func(r *http.Request) { r.AddCookie(&http.Cookie{Name: console.SessionCookie, Value: v.session}) }
	b.Run("APIWithKey", func(b *testing.B) { get(b, "/v1/documents?order=desc", withKey) })
	b.Run("APIWithSession", func(b *testing.B) { get(b, "/v1/documents?order=desc", withSession) })
	b.Run("ConsolePage", func(b *testing.B) { get(b, "/console/documents", withSession) })
}
