#!/usr/bin/env bash
# postgres.sh start|stop — a throwaway PostgreSQL for the store contract tests (run as root).
#   start: initdb in a temp dir, pg_ctl on 127.0.0.1:$PGPORT (fsync off), print the Npgsql connection string.
#   stop:  stop that server and remove its directory.
# Usage: export CAIRN_TEST_POSTGRES="$(.ci/postgres.sh start)"; dotnet test tests/Cairn.Core.Tests; .ci/postgres.sh stop
set -euo pipefail
PGPORT=${PGPORT:-55432}
PGBASE=${PGBASE:-/tmp/ci-pg-$PGPORT}

pgbin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

start() {
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  local bin; bin=$(pgbin)
  if [ -f "$PGBASE/data/postmaster.pid" ]; then
    echo "postgres.sh: a server already runs from $PGBASE; run '$0 stop' first" >&2
    exit 1
  fi
  rm -rf "$PGBASE"; mkdir -p "$PGBASE"; chown postgres:postgres "$PGBASE"
  echo ci > "$PGBASE/pw"; chown postgres "$PGBASE/pw"
  runuser -u postgres -- "$bin/initdb" -D "$PGBASE/data" -U postgres --pwfile="$PGBASE/pw" -A scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$PGBASE/initdb.log"
  runuser -u postgres -- "$bin/pg_ctl" -D "$PGBASE/data" -l "$PGBASE/pg.log" -w -t 30 \
    -o "-p $PGPORT -c listen_addresses=127.0.0.1 -k $PGBASE -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" start >/dev/null
  for _ in $(seq 50); do
    PGPASSWORD=ci psql -h 127.0.0.1 -p "$PGPORT" -U postgres -Atqc 'select 1' >/dev/null 2>&1 && break
    sleep 0.2
  done
  echo "Host=127.0.0.1;Port=$PGPORT;Username=postgres;Password=ci;Database=postgres"
}

stop() {
  local bin; bin=$(pgbin)
  if [ -d "$PGBASE/data" ]; then
    runuser -u postgres -- "$bin/pg_ctl" -D "$PGBASE/data" -m fast -w stop >/dev/null || true
  fi
  rm -rf "$PGBASE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
