// Command ragctl is ragd's command line client for people: upload folders
// with progress bars, search, and manage documents, agents, keys and
// tenants. It is built on cobra: flags go anywhere on the line, `ragctl
// help CMD` describes a command, and `ragctl completion SHELL` prints a
// completion script. docs, agents, keys and tenants share one
// implementation (resource.go); resources.go declares them.
//
//	RAGD_URL      the server (default http://localhost:8080; --url)
//	RAGD_API_KEY  a tenant key, or the admin token (--key)
//	RAGD_TENANT   with the admin token: the tenant to act for (--tenant)
//
// Exit codes: 0 success; 1 the operation failed (an API error, or a
// document that failed); 2 usage; 3 the server could not be reached;
// 4 the credentials were refused (401/403).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr, isTerminal(os.Stderr))
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ragctl:", err)
		var ex *exitError
		if errors.As(err, &ex) {
			os.Exit(ex.code)
		}
		os.Exit(1)
	}
}
