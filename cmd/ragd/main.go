// Command ragd is the ragd service: the HTTP API, the ingestion workers,
// its migrations, demo data and vector-store rebuilds.
//
//	ragd serve     migrate (unless RAGD_AUTO_MIGRATE=false), then serve the
//	               API and run jobs (--workers=0: the API only)
//	ragd worker    run jobs only, beside an API elsewhere; needs QDRANT_URL
//	ragd migrate   apply ragd's and River's schema migrations; idempotent
//	ragd seed      create demo tenants and agents; idempotent
//	ragd reindex   rebuild the vector store from Postgres (--tenant ID)
//	ragd reseal    seal again with the current encryption key what a
//	               previous one sealed (--dry-run)
//	ragd version   print the version
//
// Configuration comes from the environment, with flags that override it
// (config.go); an invalid value stops ragd with one line naming the
// variable. The commands that do not migrate (worker, seed, reindex, reseal, and
// serve with RAGD_AUTO_MIGRATE=false) first check that the database holds
// exactly the migrations this binary embeds, and say which command fixes
// it when not (postgres.CheckSchema).
// run.go wires the packages together once, for serve and worker alike,
// and shuts down in reverse order: HTTP, then jobs, then the pool.
//
// The same program, started by a worker with RAGD_SANDBOX_CHILD set, is the
// child process that parses untrusted files (see sandbox.Pool).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/ragd/ragd/extract/sandbox"
)

func main() {
	sandbox.ServeIfChild()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return // -h: the usage is printed, and asking for it is no failure
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ragd:", err)
		os.Exit(1)
	}
}
