# The two commands: `make run` and `make test`. Both bring up Postgres
# themselves (scripts/postgres-up.sh) unless DATABASE_URL is set.
SHELL := /bin/bash
GO ?= go

# Counts (Nx) rather than durations: Go 1.26's fuzz coordinator can report
# a spurious "context deadline exceeded" when a duration runs out
# (golang/go#75804, fixed in Go 1.27). Minimizing a new input is bounded
# the same way, so that a slow target still explores.
FUZZTIME ?= 2000x
FUZZMINIMIZETIME ?= 100x

.PHONY: run test fuzz build vet fmt eval eval-html bench screenshots

run:
	@scripts/run.sh

test:
	@scripts/test-deps.sh
	@url=$$(scripts/postgres-up.sh) && \
	  RAGD_TEST_DATABASE_URL=$${RAGD_TEST_DATABASE_URL:-$$url} $(GO) test -race -count=1 -timeout 30m ./...

# A short run of every fuzz target beyond its seed corpus (which go test
# already runs). FUZZTIME=100000x make fuzz (or FUZZTIME=5m) for a longer look.
fuzz:
	@scripts/test-deps.sh
	@for pkg in ./chunker ./extract ./agents ./search ./console ./oidcauth ./sources ./secret; do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$target"; \
	    $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) $$pkg || exit 1; \
	  done; \
	done

# The retrieval benchmark: judged queries over Debian's manual pages,
# each mode and fusion (scripts/evalman). EVALFLAGS=-experiments adds chunk
# context and BM25 variants.
eval:
	$(GO) run ./scripts/evalman $(EVALFLAGS)

# Scores HTML main-content extraction against pages with known main
# content (HTML_DEVDATA: a folder of <page>/source.html and
# <page>/expected.html, as mozilla/readability's test pages). Not part of
# `make test`: the pages live outside the repository. V=1 lists every
# page, worst first.
eval-html:
	@test -n "$(HTML_DEVDATA)" || { echo "make eval-html HTML_DEVDATA=<folder of <page>/source.html and expected.html>"; exit 2; }
	$(GO) run ./scripts/evalhtml -dir $(HTML_DEVDATA) $(if $(V),-v)

# The main performance table (BENCHMARKS.md), each figure beside its
# baseline from the same run (scripts/bench.sh; about an hour;
# ONLY="chunker smalldocs" for some). Not part of `make test`.
bench:
	@scripts/bench.sh

# The console's screenshots (docs/console.md), every page at 390 and 1280 px, taken by the console's browser test
# (headless Chromium) into docs/console/.
screenshots:
	@scripts/test-deps.sh
	@mkdir -p docs/console
	@url=$$(scripts/postgres-up.sh) && \
	  RAGD_SCREENSHOTS=$(CURDIR)/docs/console RAGD_TEST_DATABASE_URL=$${RAGD_TEST_DATABASE_URL:-$$url} \
	  $(GO) test -count=1 -run '^TestConsoleInBrowser$$' ./console/

build:
	$(GO) build -o bin/ ./cmd/...

vet:
	$(GO) vet ./...

fmt:
	gofmt -l -w .
