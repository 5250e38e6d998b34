package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/ragd/ragd/oidcauth/devidp"
)

// devIdP serves an identity provider for trying sign-in locally
// (oidcauth/devidp): the console's client is registered with the
// callback of a ragd at --ragd, and GET /dev/token mints API bearer
// tokens. It refuses to run with RAGD_ENV=production: anyone may be
// anyone on it.
func devIdP(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev-idp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:9096", "where the identity provider listens (loopback by default)")
	ragdURL := fs.String("ragd", "http://localhost:8080", "the ragd whose console signs in here (its /console/callback is the client's redirect URI)")
	clientID := fs.String("client-id", "ragd-console", "the console's client id")
	audience := fs.String("audience", "ragd-api", "the aud of the tokens /dev/token mints")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ragd dev-idp [flags]\n\nServe an OpenID Connect identity provider for trying sign-in locally: anyone may sign in as anyone. Refused with RAGD_ENV=production.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if env := getenv("RAGD_ENV"); env == "production" {
		return errors.New("dev-idp: refused with RAGD_ENV=production: anyone may sign in as anyone on it")
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("dev-idp: %w", err)
	}
	issuer := "http://" + ln.Addr().String()
	iss := devidp.New(issuer, nil)
	iss.EnableSignInForm()
	iss.RegisterClient(*clientID, strings.TrimRight(*ragdURL, "/")+"/console/callback")
	mux := http.NewServeMux()
	mux.Handle("/", iss.Handler())
	mux.HandleFunc("GET /dev/token", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		claims := map[string]any{"sub": or(q.Get("sub"), "user_dev"), "org_id": or(q.Get("org"), "org_demo_acme"),
			"org_role": or(q.Get("role"), "org:admin"), "aud": *audience}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintln(w, iss.Sign(claims))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, `ragd development identity provider on %[1]s (anyone may sign in as anyone; Ctrl-C stops it)

Start ragd against it, in another terminal:
  RAGD_OIDC_ISSUER=%[1]s RAGD_OIDC_AUDIENCE=%[2]s RAGD_OIDC_CLIENT_ID=%[3]s make run
then sign in at %[4]s/console/ with "Sign in with %[5]s" (organisation org_demo_acme is make run's Acme),
or call the API with a token of it:
  curl -H "Authorization: Bearer $(curl -s '%[1]s/dev/token?org=org_demo_acme&role=org:admin')" %[4]s/v1/agents
`, issuer, *audience, *clientID, strings.TrimRight(*ragdURL, "/"), strings.TrimPrefix(issuer, "http://"))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
