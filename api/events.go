package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/ingest"
)

// SSE timing: how often a comment keeps idle proxies from closing the
// stream, and how long a stream lives.
const (
	eventHeartbeat = 15 * time.Second
	eventMaxStream = 30 * time.Minute
)

// handleDocumentEvents streams a document's state as Server-Sent Events:
// an "document" event with the document whenever its status, stage or
// progress changes, until it is ready or failed (the last event), or a
// "deleted" event when it goes away. Clients need not poll, and neither
// does the server: the stream reads the document when Postgres announces
// a change (ingest.Watcher), so an idle stream costs no query.
func handleDocumentEvents(docs *ingest.Documents, watcher *ingest.Watcher) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		id, err := pathUUID(r, "document_id")
		if err != nil {
			return err
		}
		// Subscribe before the first read, so that no change is missed.
		changed, unsubscribe := watcher.Subscribe(id)
		defer unsubscribe()
		d, err := docs.Get(r.Context(), t.TenantID, id)
		if err != nil {
			return err // 404 before the stream starts
		}
		rc := http.NewResponseController(w)
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Accel-Buffering", "no")
		w.WriteHeader(http.StatusOK)

		send := func(event string, v any) error {
			// Each event gets its own write deadline: the server's
			// WriteTimeout would otherwise cut a long stream.
			_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
			data, err := json.Marshal(v)
			if err != nil {
				return err
			}
			if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data); err != nil {
				return err
			}
			return rc.Flush()
		}
		final := func(d ingest.Document) bool {
			return d.Status == ingest.StatusReady || d.Status == ingest.StatusFailed
		}
		if err := send("document", d); err != nil || final(d) {
			return nil
		}
		last := eventState(d)
		heartbeat := time.NewTicker(eventHeartbeat)
		defer heartbeat.Stop()
		deadline := time.After(eventMaxStream)
		for {
			select {
			case <-r.Context().Done():
				return nil
			case <-deadline:
				return nil
			case <-heartbeat.C:
				_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
				if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
					return nil
				}
			case <-changed:
				d, err := docs.Get(r.Context(), t.TenantID, id)
				if errors.Is(err, ragd.ErrNotFound) {
					_ = send("deleted", map[string]string{"id": id.String()})
					return nil
				}
				if err != nil {
					return nil // the client sees the stream end and may reconnect
				}
				if d.Status == ingest.StatusDeleting {
					_ = send("deleted", map[string]string{"id": id.String()})
					return nil
				}
				if now := eventState(d); now != last {
					last = now
					if err := send("document", d); err != nil || final(d) {
						return nil
					}
				}
			}
		}
	}
}

// eventState is what a document event reports that can change: a change
// of anything else (its counters, updated_at) sends no event. The stage
// is compared by value: two reads of the same stage are two pointers.
func eventState(d ingest.Document) string {
	stage := ""
	if d.Stage != nil {
		stage = *d.Stage
	}
	return fmt.Sprint(d.Status, "/", stage, "/", d.Progress, "/", d.ContentVersion)
}
