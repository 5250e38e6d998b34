#!/usr/bin/env bash
# Reproduces the figures of the main performance table (BENCHMARKS.md,
# "Ingestion and search in one table"), each against its baseline in the
# same run, one after the
# other (they would disturb each other's timings), saving each raw output
# under OUT (default ./bench-out). About an hour on a 2-core machine:
#
#   tokenizer and chunker  go test ./chunker -bench BenchmarkChunking (the library beside ours)
#   PDF extraction         scripts/pdfbench.sh (pdftotext beside ours; needs the Debian manuals)
#   vector store           scripts/annbench.sh (exact scans, gonum, hnswlib beside ours)
#   search endpoint        go test ./api -bench BenchmarkSearchEndpoint (needs Postgres)
#   small documents        go run ./scripts/smalldocs (needs Postgres)
#
# ONLY="chunker smalldocs" runs a subset. A part whose tools are missing
# is skipped with a line that says what to install.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-bench-out}
mkdir -p "$out"
only=${ONLY:-chunker pdf ann search smalldocs}
want() { case " $only " in *" $1 "*) return 0 ;; esac; return 1; }
say() { echo "== $*" >&2; }
status=0

if want chunker; then
  say "tokenizer and chunker -> $out/chunker.txt"
  go test ./chunker/ -run '^$' -bench BenchmarkChunking -count 6 -cpu 1 | tee "$out/chunker.txt" || status=1
fi
if want pdf; then
  if command -v pdftotext >/dev/null && [ -e /usr/share/doc/r-doc-pdf ]; then
    say "PDF extraction against pdftotext -> $out/pdf.txt"
    scripts/pdfbench.sh "$out/pdf.txt" || status=1
  else
    say "PDF extraction skipped: apt-get install -y poppler-utils r-doc-pdf bash-doc gnuplot-doc asymptote-doc"
  fi
fi
if want ann; then
  if /usr/bin/python3 -c 'import hnswlib, numpy' 2>/dev/null; then
    say "vector store against exact scans and hnswlib -> $out/ann.txt"
    scripts/annbench.sh 2>&1 | tee "$out/ann.txt" || status=1
  else
    say "vector store skipped: apt-get install -y python3-hnswlib python3-numpy"
  fi
fi
if want search || want smalldocs; then
  if url=$(scripts/postgres-up.sh); then
    if want search; then
      say "search endpoint -> $out/search.txt"
      RAGD_TEST_DATABASE_URL=${RAGD_TEST_DATABASE_URL:-$url} go test ./api/ -run '^$' -bench BenchmarkSearchEndpoint -benchtime 1x -timeout 60m \
        | grep -v '^\s*{' | tee "$out/search.txt" || status=1
    fi
    if want smalldocs; then
      say "small documents -> $out/smalldocs.txt"
      DATABASE_URL=$url go run ./scripts/smalldocs | tee "$out/smalldocs.txt" || status=1
    fi
  else
    say "search endpoint and small documents skipped: no Postgres (see scripts/postgres-up.sh)"
  fi
fi
exit $status
