// Command ragd is the ragd service: the HTTP API (and, from later issues,
// the ingestion workers), its migrations and its demo data.
//
//	ragd serve     migrate (unless RAGD_AUTO_MIGRATE=false), then serve the API
//	ragd migrate   apply ragd's and River's schema migrations; idempotent
//	ragd seed      create demo tenants and agents; idempotent
//	ragd version   print the version
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ragd:", err)
		os.Exit(1)
	}
}
