#!/usr/bin/env bash
# `make run`: Postgres up, build, migrate, seed, then serve in the foreground.
set -euo pipefail
cd "$(dirname "$0")/.."

# OCR (images, scanned PDF pages) needs tesseract and poppler's pdftoppm;
# without them ragd runs with OCR off.
if ! command -v tesseract >/dev/null 2>&1 || ! command -v pdftoppm >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    echo "run: installing tesseract-ocr tesseract-ocr-eng poppler-utils (OCR)" >&2
    { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq tesseract-ocr tesseract-ocr-eng poppler-utils; } >&2 ||
      echo "run: could not install them: OCR is off" >&2
  else
    echo "run: tesseract or pdftoppm is missing: OCR is off (install tesseract and poppler)" >&2
  fi
fi

DATABASE_URL=$(scripts/postgres-up.sh)
export DATABASE_URL
export RAGD_DATA_DIR=${RAGD_DATA_DIR:-./.ragd}
export RAGD_ADDR=${RAGD_ADDR:-:8080}

mkdir -p bin
go build -o bin/ragd ./cmd/ragd
bin/ragd migrate
seed_out=$(bin/ragd seed)
echo "$seed_out"

port=${RAGD_ADDR##*:}
token=$(sed -n 's/^admin token: \([^ ]*\).*/\1/p' <<<"$seed_out")
cat <<TXT

ragd is starting on http://localhost:$port  (Ctrl-C stops it)
  console: http://localhost:$port/console/  (sign in with a tenant's api key above; they are kept in $RAGD_DATA_DIR/demo-keys)
  curl localhost:$port/healthz
  curl -H "Authorization: Bearer ${token:-\$RAGD_ADMIN_TOKEN}" localhost:$port/v1/tenants
  job dashboard: http://localhost:$port/jobs/  (any user, the admin token as password)
  ragctl: go build -o bin/ ./cmd/ragctl && RAGD_URL=http://localhost:$port RAGD_API_KEY=<a key above> bin/ragctl upload examples
The README's "Try it" section walks through tenant -> key -> agent -> documents -> search.

TXT
exec bin/ragd serve
