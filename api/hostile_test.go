package api_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ragd/ragd/api/apitest"
	"github.com/ragd/ragd/extract"
	"github.com/ragd/ragd/extract/extracttest"
	"github.com/ragd/ragd/ingest"
)

// TestHostileUploads uploads files built to hurt a parser to a running
// server with two workers, one of each way they end (the extraction
// sandbox's TestHostileFiles gives it every kind of hostile file, and
// checks the children and this process are back to idle after each): the
// upload is accepted, the document ends failed with a code and a message
// for people, or ready with the right text in its chunks; /healthz answers
// throughout; and a good document uploaded next becomes ready.
func TestHostileUploads(t *testing.T) {
	t.Parallel()
	// Little processor time for the dense drawing, an honest file that
	// needs more: the CPU limit is what ends it (processor time, which a
	// loaded machine does not shorten, unlike the clock, left long here).
	lim := ingest.Limits{Limits: extract.Limits{MaxTextBytes: 4 << 20, MaxUnzippedBytes: 4 << 20, Timeout: 5 * time.Minute, CPU: 5 * time.Second}}
	b := setupWith(t, apitest.Options{Limits: lim})
	_, key := b.TenantWithKey("hostile")

	// /healthz, every 100ms, from start to end. A server that stops
	// answering for seconds is broken, whatever the machine's load.
	var healthFails atomic.Int32
	var worstHealth atomic.Int64
	stopHealth := make(chan struct{})
	healthDone := make(chan struct{})
	go func() {
		defer close(healthDone)
		client := &http.Client{Timeout: 10 * time.Second}
		for {
			select {
			case <-stopHealth:
				return
			case <-time.After(100 * time.Millisecond):
			}
			start := time.Now()
			resp, err := client.Get(b.url + "/healthz")
			if err != nil || resp.StatusCode != 200 {
				healthFails.Add(1)
			}
			if resp != nil {
				resp.Body.Close()
			}
			if d := int64(time.Since(start)); d > worstHealth.Load() {
				worstHealth.Store(d)
			}
		}
	}()

	good := func(i int) {
		t.Helper()
		text := fmt.Sprintf("A good document number %d uploaded after a hostile one.", i)
		r := b.Upload(key, "", fmt.Sprintf("good-%d.txt", i), []byte(text))
		if r.Status != 202 {
			t.Fatalf("good upload: %d %s", r.Status, r.Body)
		}
		d := b.WaitDocument(key, r.JSON(t)["id"].(string))
		if d["status"] != "ready" {
			t.Fatalf("the good document after a hostile one: %v %v", d["status"], d["error"])
		}
	}
	cases := []struct {
		name, file string
		data       []byte
		// want: "failed:<code>", or "ready:<text it must hold once>"
		want string
	}{
		{"PDF drawing of 2*10^7 segments (slow)", "drawing.pdf", extracttest.DrawingPDF(20_000_000), "failed:too_complex"},
		{"PDF xref stream naming itself as /Prev (found as a loop)", "xrefstm.pdf", extracttest.XRefStmLoopPDF(), "failed:pdf_malformed"},
		{"PDF self-referencing /Pages (found as a loop)", "pages.pdf", extracttest.SelfPagesPDF(), "failed:pdf_malformed"},
		{"PDF dictionaries nested 10^6 deep", "dicts.pdf", extracttest.NestedDictsPDF(1_000_000), "failed:pdf_malformed"},
		{"DOCX zip bomb", "bomb.docx", extracttest.ZipBombDOCX(1 << 30), "failed:too_large"},
		{"DOCX with a text box", "box.docx", extracttest.TextBoxDOCX(), "ready:Inside the box."},
		{"Text of one 1 MiB line", "line.txt", bytes.Repeat([]byte("x"), 1<<20), "ready:xxxx"},
	}
	for i, tc := range cases {
		start := time.Now()
		r := b.Upload(key, "", tc.file, tc.data)
		if r.Status != 202 {
			t.Errorf("%s: upload answered %d %s", tc.name, r.Status, r.Body)
			continue
		}
		d := b.WaitDocument(key, r.JSON(t)["id"].(string))
		status, _ := d["status"].(string)
		code := ""
		if e, ok := d["error"].(map[string]any); ok {
			code, _ = e["code"].(string)
			if msg, _ := e["message"].(string); msg == "" {
				t.Errorf("%s: failed without a message for people", tc.name)
			}
		}
		want, arg, _ := strings.Cut(tc.want, ":")
		switch {
		case status != want:
			t.Errorf("%s: %s (%s), want %s", tc.name, status, code, tc.want)
		case want == "failed" && code != arg:
			t.Errorf("%s: failed with %s, want %s", tc.name, code, arg)
		case want == "ready":
			text := b.chunkText(key, d["id"].(string))
			if n := strings.Count(text, arg); n < 1 || (arg != "xxxx" && n != 1) {
				t.Errorf("%s: ready, but %q appears %d times in its chunks", tc.name, arg, n)
			}
		}
		t.Logf("%-36s %-7s %-16s %6.2fs", tc.name, status, code, time.Since(start).Seconds())
		good(i)
	}
	close(stopHealth)
	<-healthDone
	if n := healthFails.Load(); n > 0 {
		t.Errorf("/healthz failed %d times during the uploads", n)
	}
	t.Logf("slowest /healthz during the uploads: %s", time.Duration(worstHealth.Load()).Round(time.Millisecond))
}

// chunkText joins the text of a document's chunks.
func (b *testBundle) chunkText(key, id string) string {
	b.t.Helper()
	var out strings.Builder
	for _, c := range b.Must(200, "GET", "/v1/documents/"+id+"/chunks?limit=200", key, nil).JSON(b.t)["data"].([]any) {
		out.WriteString(c.(map[string]any)["text"].(string))
	}
	return out.String()
}
