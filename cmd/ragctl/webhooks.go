package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// webhook is what the ls table shows of an endpoint.
type webhook struct {
	ID, URL        string
	EventTypes     []string `json:"event_types"`
	Enabled        bool
	DisabledReason *string `json:"disabled_reason"`
}

func (e *env) webhooks() *cobra.Command {
	enable := func(on bool) func([]string, func(string) string) (any, error) {
		return func([]string, func(string) string) (any, error) { return map[string]any{"enabled": on}, nil }
	}
	cmd := resource[webhook]{
		Name: "webhooks", Short: "signed webhook endpoints (needs webhooks:write); listen: a local receiver", Path: "/v1/webhooks",
		Header: "ID\tSTATE\tEVENTS\tURL",
		Row: func(w webhook) string {
			state := "enabled"
			if !w.Enabled {
				state = "disabled"
				if w.DisabledReason != nil {
					state += " by ragd"
				}
			}
			return strings.Join([]string{w.ID, state, strings.Join(w.EventTypes, ","), w.URL}, "\t")
		},
		Verbs: []verb{
			show("endpoint (with why it was disabled)"),
			{
				Name: "create", Args: "URL", Short: "register an endpoint (its signing secret is shown once)", Method: "POST",
				Flags: []option{{Name: "events", Usage: "comma-separated event types (default: all)"}, {Name: "description", Usage: "what it is for"}},
				Body: func(args []string, flag func(string) string) (any, error) {
					body := map[string]any{"url": args[0], "description": flag("description"), "event_types": allEventTypes}
					if ev := flag("events"); ev != "" {
						body["event_types"] = strings.Split(ev, ",")
					}
					return body, nil
				},
				Done: func(_ string, answer json.RawMessage) (string, error) {
					var w struct{ ID, Secret string }
					err := json.Unmarshal(answer, &w)
					return fmt.Sprintf("endpoint %s; signing secret (shown once, keep it with the receiver):\n%s", w.ID, w.Secret), err
				},
			},
			{Name: "edit", Args: "ID FILE", Short: "change an endpoint by a merge patch in a JSON or YAML file", Method: "PATCH", Body: fromFile},
			{Name: "enable", Args: "ID", Short: "enable an endpoint (clears why ragd disabled it)", Method: "PATCH", Body: enable(true), Done: said("enabled")},
			{Name: "disable", Args: "ID", Short: "disable an endpoint", Method: "PATCH", Body: enable(false), Done: said("disabled")},
			{Name: "deliveries", Args: "ID", Short: "the endpoint's deliveries and their attempts, newest first", Method: "GET", Suffix: "/deliveries"},
			{Name: "rm", Args: "ID", Short: "delete an endpoint", Method: "DELETE", Done: said("deleted")},
		},
	}.command(e)
	cmd.AddCommand(e.listen())
	return cmd
}

// listen is a receiver for local development: it verifies each webhook's
// signature with the endpoint's secret and prints the event.
func (e *env) listen() *cobra.Command {
	var (
		addr, secretEnv string
		register        bool
	)
	cmd := &cobra.Command{
		Use:   "listen",
		Short: "receive webhooks locally: verify each signature and print the event (ragd needs RAGD_WEBHOOK_ALLOW_PRIVATE=true to send to it)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			defer ln.Close()
			secret := e.getenv(secretEnv)
			if register {
				// An endpoint of the listener's own, for as long as it
				// listens: each run neither leaves one behind nor needs a
				// secret copied from an earlier one.
				id, s, err := e.registerListener(cmd.Context(), "http://"+ln.Addr().String()+"/")
				if err != nil {
					return err
				}
				secret = s
				defer e.unregisterListener(cmd.Context(), id)
				fmt.Fprintf(e.errOut, "registered webhook %s for http://%s/; it is deleted when the listener stops\n", id, ln.Addr())
			} else if secret == "" {
				return usageErr("set %s to the endpoint's signing secret (whsec_...), or use --register", secretEnv)
			}
			wh, err := standardwebhooks.NewWebhook(secret)
			if err != nil {
				return usageErr("%s: not a signing secret: %v", secretEnv, err)
			}
			if !register {
				fmt.Fprintf(e.errOut, "listening on http://%s/ (register it with: ragctl webhooks create http://%s/, or run listen --register)\n", ln.Addr(), ln.Addr())
			}
			return serveWebhooks(cmd.Context(), ln, wh, e.out, e.errOut)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:9000", "where to listen")
	cmd.Flags().StringVar(&secretEnv, "secret-env", "RAGD_WEBHOOK_SECRET", "the environment variable holding the signing secret")
	cmd.Flags().BoolVar(&register, "register", false, "register an endpoint for this listener (every event type), and delete it when the listener stops")
	return cmd
}

// allEventTypes are the event types an endpoint gets by default: the
// server's (webhooks.EventTypes, which ragctl does not link; a test keeps
// the two in step).
var allEventTypes = []string{"document.ready", "document.failed", "document.deleted", "evaluation.completed", "source.run.completed"}

// registerListener creates an endpoint for url, for every event type, and
// returns its id and signing secret.
func (e *env) registerListener(ctx context.Context, url string) (id, secret string, err error) {
	if err := e.connect(); err != nil {
		return "", "", err
	}
	var created struct{ ID, Secret string }
	if err := e.c.do(ctx, "POST", "/v1/webhooks", map[string]any{"url": url, "description": "ragctl webhooks listen", "event_types": allEventTypes}, &created); err != nil {
		return "", "", err
	}
	return created.ID, created.Secret, nil
}

// unregisterListener deletes the listener's endpoint, even after ctx ended
// (Ctrl-C is how a listener stops).
func (e *env) unregisterListener(ctx context.Context, id string) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := e.c.do(dctx, "DELETE", "/v1/webhooks/"+url.PathEscape(id), nil, nil); err != nil {
		fmt.Fprintf(e.errOut, "could not delete webhook %s: %v (delete it with: ragctl webhooks rm %s)\n", id, err, id)
		return
	}
	fmt.Fprintf(e.errOut, "deleted webhook %s\n", id)
}

// serveWebhooks answers 204 to each verified webhook, printing its body as
// one line on out, and 401 to any other request, saying why on errOut,
// until ctx ends. It remembers the messages it printed for as long as
// their signatures verify (replayWindow): the very same signed message
// sent again (a replay by whoever saw it) is refused with 409, and a
// message ragd sends again under a new signature (its retry, after an
// answer it did not get) is acknowledged without being printed twice.
func serveWebhooks(ctx context.Context, ln net.Listener, wh *standardwebhooks.Webhook, out, errOut io.Writer) error {
	seen := &seenMessages{now: time.Now}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err == nil {
			err = wh.Verify(body, r.Header)
		}
		if err != nil {
			fmt.Fprintf(errOut, "refused a request from %s: %v\n", r.RemoteAddr, err)
			http.Error(w, "signature not verified", http.StatusUnauthorized)
			return
		}
		id := r.Header.Get(standardwebhooks.HeaderWebhookID)
		switch seen.add(id, r.Header.Get(standardwebhooks.HeaderWebhookTimestamp)) {
		case replayed:
			fmt.Fprintf(errOut, "refused a replay of message %s from %s\n", id, r.RemoteAddr)
			http.Error(w, "this message was received already", http.StatusConflict)
			return
		case resent:
			fmt.Fprintf(errOut, "message %s came again, newly signed (a retry): acknowledged, not printed twice\n", id)
		default:
			fmt.Fprintf(out, "%s\n", strings.TrimSpace(string(body)))
		}
		w.WriteHeader(http.StatusNoContent)
	})}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// replayWindow is how long a message's signature verifies after (and
// before) its timestamp: the Standard Webhooks library's tolerance. A
// message older than that is refused by Verify, so need not be remembered.
const replayWindow = 5 * time.Minute

// seenMessages remembers the messages (webhook-id) a listener accepted,
// and each signature of them (webhook-id and webhook-timestamp), until
// the latest such signature stops verifying.
type seenMessages struct {
	now   func() time.Time
	mu    sync.Mutex
	until map[string]time.Time // by id, and by id "\x00" timestamp
}

// What a message is to a listener.
const (
	fresh    = iota // not seen in the window
	replayed        // the same id and timestamp: the same signed message again
	resent          // the same id, signed again at another time
)

// add records message id, signed at timestamp (unix seconds), and says
// whether it was seen before.
func (s *seenMessages) add(id, timestamp string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for k, t := range s.until {
		if now.After(t) {
			delete(s.until, k)
		}
	}
	if s.until == nil {
		s.until = map[string]time.Time{}
	}
	sec, _ := strconv.ParseInt(timestamp, 10, 64) // Verify has checked it
	until := time.Unix(sec, 0).Add(replayWindow)
	sig := id + "\x00" + timestamp
	if _, ok := s.until[sig]; ok {
		return replayed
	}
	s.until[sig] = until
	prev, ok := s.until[id]
	if !ok || until.After(prev) {
		s.until[id] = until
	}
	if ok {
		return resent
	}
	return fresh
}
