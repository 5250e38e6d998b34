// Command ragd is the ragd service: the HTTP API, the ingestion workers,
// its migrations, demo data and vector-store rebuilds.
//
//	ragd serve     migrate (unless RAGD_AUTO_MIGRATE=false), then serve the API and run jobs
//	ragd worker    run jobs only
//	ragd migrate   apply ragd's and River's schema migrations; idempotent
//	ragd seed      create demo tenants and agents; idempotent
//	ragd reindex   rebuild the vector store from Postgres
//	ragd version   print the version
//
// The same program, started by a worker with RAGD_SANDBOX_CHILD=1, is the
// child process that parses one untrusted file (see ingest.Sandbox).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/ragd/ragd/ingest"
)

func main() {
	ingest.ServeIfSandboxChild()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ragd:", err)
		os.Exit(1)
	}
}
