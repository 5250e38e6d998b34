#!/usr/bin/env bash
# `make run`: Postgres up, build, migrate, seed, then serve in the foreground.
set -euo pipefail
cd "$(dirname "$0")/.."

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
