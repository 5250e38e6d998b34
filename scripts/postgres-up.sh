#!/usr/bin/env bash
# Makes a Postgres server available for ragd and prints its URL on stdout.
#
#   DATABASE_URL set      -> used as it is (nothing is started).
#   Debian cluster tools  -> starts the machine's local cluster (pg_ctlcluster)
#                            and creates the ragd role and database.
#   a Docker engine       -> starts a postgres:16 container named ragd-postgres.
#
# The role gets CREATEDB because the tests create one database per test.
# Everything it does is idempotent; all chatter goes to stderr.
set -euo pipefail

ROLE=${RAGD_PG_ROLE:-ragd}
PASSWORD=${RAGD_PG_PASSWORD:-ragd}
DB=${RAGD_PG_DATABASE:-ragd}
PORT=${RAGD_PG_PORT:-5432}

log() { echo "postgres-up: $*" >&2; }

if [ -n "${DATABASE_URL:-}" ]; then
  log "using DATABASE_URL from the environment"
  echo "$DATABASE_URL"
  exit 0
fi

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"
  else sudo -u postgres "$@"; fi
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

if ! command -v pg_lsclusters >/dev/null 2>&1 && ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "no PostgreSQL and no Docker engine: installing Debian's postgresql"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  fi
fi

if command -v pg_lsclusters >/dev/null 2>&1; then
  read -r ver cluster cport status _ < <(pg_lsclusters --no-header | sort -k1,1nr | head -1)
  if [ -z "${ver:-}" ]; then
    log "no cluster found: creating one"
    ver=$(ls /usr/lib/postgresql | sort -n | tail -1); cluster=main
    as_root pg_createcluster "$ver" "$cluster" >&2
    cport=$(pg_lsclusters --no-header | awk -v v="$ver" -v c="$cluster" '$1==v && $2==c {print $3}')
    status=down
  fi
  PORT=$cport
  if [ "$status" != online ]; then
    log "starting cluster $ver/$cluster on port $PORT"
    as_root pg_ctlcluster "$ver" "$cluster" start >&2
  fi
  for _ in $(seq 1 50); do
    as_postgres pg_isready -q -p "$PORT" && break
    sleep 0.2
  done
  as_postgres psql -q -p "$PORT" -v ON_ERROR_STOP=1 >&2 <<SQL
SELECT format('CREATE ROLE %I LOGIN CREATEDB PASSWORD %L', '$ROLE', '$PASSWORD')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', '$DB', '$ROLE')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DB') \gexec
SQL
elif docker info >/dev/null 2>&1; then
  if [ -z "$(docker ps -q -f name=^ragd-postgres$)" ]; then
    if [ -n "$(docker ps -aq -f name=^ragd-postgres$)" ]; then
      docker start ragd-postgres >&2
    else
      log "starting a postgres:16 container (ragd-postgres) on port $PORT"
      docker run -d --name ragd-postgres -p "127.0.0.1:$PORT:5432" \
        -e POSTGRES_USER="$ROLE" -e POSTGRES_PASSWORD="$PASSWORD" -e POSTGRES_DB="$DB" \
        postgres:16 >&2
    fi
  fi
  for _ in $(seq 1 100); do
    docker exec ragd-postgres pg_isready -q -U "$ROLE" && break
    sleep 0.3
  done
else
  log "no PostgreSQL found: set DATABASE_URL, install PostgreSQL, or run a Docker engine"
  exit 1
fi

echo "postgres://$ROLE:$PASSWORD@localhost:$PORT/$DB?sslmode=disable"
