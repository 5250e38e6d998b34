package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"testing"

	"github.com/ragd/ragd/api/apitest"
	"github.com/ragd/ragd/ingest"
	"github.com/ragd/ragd/ingest/ingesttest"
)

// textBytes returns n bytes of reproducible text that ragd accepts as a
// document.
func textBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	words := []string{"upload", "stream", "part", "budget", "spool", "tenant", "bytes", "memory"}
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
		if r.IntN(12) == 0 {
			b.WriteString(".\n")
		} else {
			b.WriteByte(' ')
		}
	}
	return b.Bytes()[:n]
}

func hexSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// pendingUpload is a multipart upload whose file arrives only as the test
// writes it, with no Content-Length (a chunked body).
type pendingUpload struct {
	t      testing.TB
	pw     *io.PipeWriter
	mw     *multipart.Writer
	file   io.Writer
	cancel context.CancelFunc
	done   chan response
}

func (b *testBundle) startUpload(key, filename string) *pendingUpload {
	b.t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "POST", b.url+"/v1/documents?duplicate=allow", pr)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+key)
	p := &pendingUpload{t: b.t, pw: pw, mw: mw, cancel: cancel, done: make(chan response, 1)}
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			p.done <- response{Status: -1, Body: []byte(err.Error())}
			return
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		p.done <- response{Status: resp.StatusCode, Header: resp.Header, Body: data}
	}()
	if p.file, err = mw.CreateFormFile("file", filename); err != nil {
		b.t.Fatal(err)
	}
	return p
}

// write sends more of the file; it returns once the client has taken it.
func (p *pendingUpload) write(data []byte) {
	p.t.Helper()
	if _, err := p.file.Write(data); err != nil {
		p.t.Fatalf("write upload body: %v", err)
	}
}

// finish ends the form and returns the response.
func (p *pendingUpload) finish() response {
	p.t.Helper()
	if err := p.mw.Close(); err != nil {
		p.t.Fatal(err)
	}
	p.pw.Close()
	defer p.cancel()
	return <-p.done
}

// abort drops the connection in the middle of the body.
func (p *pendingUpload) abort() {
	p.cancel()
	p.pw.CloseWithError(context.Canceled)
	<-p.done
}

// waitFor polls cond until it holds (apitest.Eventually); for states the
// server shows no signal of, such as a spool file opened or closed.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	apitest.Eventually(t, what, cond)
}

// spooling reports whether the server has an upload spool file open.
func (b *testBundle) spooling() bool { return len(ingesttest.OpenFiles(b.t, b.spoolDir)) > 0 }

// noDocuments fails the test unless the database holds no document and
// no stored bytes.
func (b *testBundle) noDocuments() {
	b.t.Helper()
	var docs, parts int
	if err := b.pool.QueryRow(b.t.Context(), "SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM document_blob_parts)").Scan(&docs, &parts); err != nil {
		b.t.Fatal(err)
	}
	if docs+parts != 0 {
		b.t.Fatalf("%d documents and %d stored parts, want none", docs, parts)
	}
}

func TestUploadStreaming(t *testing.T) {
	t.Parallel()

	t.Run("BytesOutAreBytesIn", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, key := b.TenantWithKey("acme")
		type upload struct {
			name string
			data []byte
			resp response
		}
		var ups []upload
		// Multipart, with a Content-Length and without, across part
		// boundaries; and JSON text.
		for i, size := range []int{1, ingest.BlobPartSize, ingest.BlobPartSize + 1, 2*ingest.BlobPartSize + 12345} {
			data := textBytes(size, uint64(i))
			ups = append(ups, upload{fmt.Sprintf("Multipart%d", size), data, b.Upload(key, "?duplicate=allow", "f.txt", data)})
		}
		chunked := textBytes(ingest.BlobPartSize*3/2, 99)
		p := b.startUpload(key, "chunked.txt")
		p.write(chunked)
		ups = append(ups, upload{"MultipartChunked", chunked, p.finish()})
		text := textBytes(ingest.BlobPartSize+777, 42)
		ups = append(ups, upload{"JSON", text, b.Req("POST", "/v1/documents?duplicate=allow", key, map[string]any{"text": string(text)})})

		for _, u := range ups {
			if u.resp.Status != 202 {
				t.Fatalf("%s: upload answered %d %s", u.name, u.resp.Status, u.resp.Body)
			}
			d := u.resp.JSON(t)
			if d["sha256"] != hexSHA256(u.data) || d["size_bytes"] != float64(len(u.data)) {
				t.Fatalf("%s: document says sha256 %v, %v bytes; sent %s, %d", u.name, d["sha256"], d["size_bytes"], hexSHA256(u.data), len(u.data))
			}
			var parts int
			if err := b.pool.QueryRow(t.Context(), "SELECT count(*) FROM document_blob_parts WHERE document_id = $1", d["id"]).Scan(&parts); err != nil {
				t.Fatal(err)
			}
			if want := (len(u.data) + ingest.BlobPartSize - 1) / ingest.BlobPartSize; parts != want {
				t.Fatalf("%s: %d parts stored, want %d", u.name, parts, want)
			}
			content := b.Must(200, "GET", "/v1/documents/"+d["id"].(string)+"/content", key, nil)
			if !bytes.Equal(content.Body, u.data) || content.Header.Get("Content-Length") != fmt.Sprint(len(u.data)) {
				t.Fatalf("%s: download is %d bytes (Content-Length %s), equal %t; sent %d",
					u.name, len(content.Body), content.Header.Get("Content-Length"), bytes.Equal(content.Body, u.data), len(u.data))
			}
		}
	})

	t.Run("OverTheLimitLeavesNothing", func(t *testing.T) {
		t.Parallel()
		// A budget of one upload: a reservation not given back would
		// refuse the next upload.
		b := setupWith(t, apitest.Options{MaxUploadBytes: 1 << 20, MaxInflightUploadBytes: 1 << 20})
		_, key := b.TenantWithKey("acme")
		over := textBytes(1<<20+1, 1)
		for _, tc := range []struct {
			name string
			send func() response
		}{
			{"DeclaredLength", func() response { return b.Upload(key, "", "big.txt", over) }},
			{"FarOverDeclaredLength", func() response { return b.Upload(key, "", "big.txt", textBytes(3<<20, 2)) }},
			{"Chunked", func() response {
				p := b.startUpload(key, "big.txt")
				p.write(over[:1<<19])
				// Well past the limit (multipart holds back a part's last
				// bytes until it sees what follows). The rest may not be
				// read: the server answers at the limit.
				go p.file.Write(textBytes(2<<20, 3))
				defer p.cancel()
				return <-p.done
			}},
		} {
			r := tc.send()
			if r.Status != 413 || r.Code(t) != "payload_too_large" {
				t.Fatalf("%s: %d %s, want 413 payload_too_large", tc.name, r.Status, r.Body)
			}
			// Freed before the answer, not some time after.
			ingesttest.NoFilesLeft(t, b.spoolDir)
			b.noDocuments()
		}
		b.Must(202, "POST", "/v1/documents", key, map[string]any{"text": "exactly what fits"})
	})

	t.Run("ClientGoneMidUploadLeavesNothing", func(t *testing.T) {
		t.Parallel()
		b := setupWith(t, apitest.Options{MaxUploadBytes: 4 << 20, MaxInflightUploadBytes: 4 << 20})
		_, key := b.TenantWithKey("acme")
		p := b.startUpload(key, "half.txt")
		p.write(textBytes(1<<20, 3))
		waitFor(t, "the server spools the upload", b.spooling)
		p.abort()
		waitFor(t, "the server closes the spool", func() bool { return !b.spooling() })
		ingesttest.NoFilesLeft(t, b.spoolDir)
		b.noDocuments()
		// The budget (one upload's worth) came back: an upload succeeds.
		// The handler frees the spool just before the budget, so allow
		// it a moment; a reservation never returned fails here.
		waitFor(t, "a new upload is accepted", func() bool {
			return b.Upload(key, "", "next.txt", []byte("the next upload")).Status == 202
		})
	})

	t.Run("BudgetRefusesWhileFullThenRecovers", func(t *testing.T) {
		t.Parallel()
		b := setupWith(t, apitest.Options{MaxUploadBytes: 2 << 20, MaxInflightUploadBytes: 2 << 20})
		_, key := b.TenantWithKey("acme")
		// Without a Content-Length the first upload reserves the most a
		// file may be: the whole budget.
		first := b.startUpload(key, "first.txt")
		firstData := textBytes(1<<20, 4)
		first.write(firstData[:1<<19])
		waitFor(t, "the first upload is in flight", b.spooling)

		ct, body := apitest.MultipartBody(t, "second.txt", []byte("small, but no room"))
		r := b.Req("POST", "/v1/documents", key, body, "Content-Type", ct)
		if r.Status != 503 || r.Code(t) != "overloaded" || r.Header.Get("Retry-After") != "5" {
			t.Fatalf("second upload while the budget is full: %d Retry-After %q %s", r.Status, r.Header.Get("Retry-After"), r.Body)
		}
		j := b.Req("POST", "/v1/documents", key, map[string]any{"text": "JSON counts too"})
		if j.Status != 503 || j.Code(t) != "overloaded" {
			t.Fatalf("JSON upload while the budget is full: %d %s", j.Status, j.Body)
		}

		first.write(firstData[1<<19:])
		if fr := first.finish(); fr.Status != 202 || fr.JSON(t)["sha256"] != hexSHA256(firstData) {
			t.Fatalf("first upload: %d %s", fr.Status, fr.Body)
		}
		// The first upload gave its share back before it answered.
		b.Must(202, "POST", "/v1/documents", key, map[string]any{"text": "room again"})
		if r := b.Upload(key, "", "third.txt", textBytes(1000, 5)); r.Status != 202 {
			t.Fatalf("upload after the first finished: %d %s", r.Status, r.Body)
		}
	})
}
