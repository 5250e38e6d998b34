# The two commands: `make run` and `make test`. Both bring up Postgres
# themselves (scripts/postgres-up.sh) unless DATABASE_URL is set.
SHELL := /bin/bash
GO ?= go

FUZZTIME ?= 10s

.PHONY: run test fuzz build vet fmt

run:
	@scripts/run.sh

test:
	@scripts/test-deps.sh
	@url=$$(scripts/postgres-up.sh) && \
	  RAGD_TEST_DATABASE_URL=$${RAGD_TEST_DATABASE_URL:-$$url} $(GO) test -race -count=1 ./...

# A short run of every fuzz target beyond its seed corpus (which go test
# already runs). FUZZTIME=5m make fuzz for a longer look.
fuzz:
	@scripts/test-deps.sh
	@for pkg in ./chunker ./ingest ./agents ./search; do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$target"; \
	    $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

build:
	$(GO) build -o bin/ ./cmd/...

vet:
	$(GO) vet ./...

fmt:
	gofmt -l -w .
