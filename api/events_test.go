package api_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// readEvents reads a Server-Sent Events stream until it ends.
func readEvents(t *testing.T, b *testBundle, path, key string) []struct {
	Event string
	Data  map[string]any
} {
	t.Helper()
	req, _ := http.NewRequest("GET", b.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	client := &http.Client{Timeout: 60 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var out []struct {
		Event string
		Data  map[string]any
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var event string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			var d map[string]any
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &d); err != nil {
				t.Fatalf("bad event data %q", line)
			}
			out = append(out, struct {
				Event string
				Data  map[string]any
			}{event, d})
		}
	}
	return out
}

func TestDocumentEvents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, key := b.tenantWithKey("acme")
	_, keyB := b.tenantWithKey("other")
	id := b.must(202, "POST", "/v1/documents", key, map[string]any{"text": strings.Repeat("Events follow a document through its stages. ", 200)}).json(t)["id"].(string)

	events := readEvents(t, b, "/v1/documents/"+id+"/events", key)
	if len(events) == 0 {
		t.Fatal("no events")
	}
	last := events[len(events)-1]
	if last.Event != "document" || last.Data["status"] != "ready" || last.Data["progress"] != 1.0 {
		t.Fatalf("the stream did not end with the ready document: %+v", last)
	}
	for i := 1; i < len(events); i++ {
		if events[i].Data["progress"].(float64) < events[i-1].Data["progress"].(float64) {
			t.Fatalf("progress went backwards: %v", events)
		}
	}
	// A finished document answers with one event and ends.
	if again := readEvents(t, b, "/v1/documents/"+id+"/events", key); len(again) != 1 || again[0].Data["status"] != "ready" {
		t.Fatalf("events of a ready document: %+v", again)
	}
	// Another tenant's document is not found; no stream starts.
	b.must(404, "GET", "/v1/documents/"+id+"/events", keyB, nil)
}
