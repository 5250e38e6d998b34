# The two commands: `make run` and `make test`. Both bring up Postgres
# themselves (scripts/postgres-up.sh) unless DATABASE_URL is set.
SHELL := /bin/bash
GO ?= go

.PHONY: run test build vet fmt

run:
	@scripts/run.sh

test:
	@url=$$(scripts/postgres-up.sh) && \
	  RAGD_TEST_DATABASE_URL=$${RAGD_TEST_DATABASE_URL:-$$url} $(GO) test -race -count=1 ./...

build:
	$(GO) build -o bin/ ./cmd/...

vet:
	$(GO) vet ./...

fmt:
	gofmt -l -w .
