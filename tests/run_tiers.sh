#!/usr/bin/env bash
# Runs both test tiers: fast (SQLite, in-process) and services (PostgreSQL + Redis).
# With CI=true the services tier is mandatory: a missing service fails the run instead of skipping it.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}


services_up() {
  "$PY" - <<'PY'
import socket, sys
for host, port in (("127.0.0.1", int(__import__("os").environ.get("HS_TEST_PG_PORT", "5432"))),
                   ("127.0.0.1", int(__import__("os").environ.get("HS_TEST_REDIS_PORT", "6379")))):
    s = socket.socket(); s.settimeout(2)
    try:
        s.connect((host, port))
    except OSError:
        print(f"service on {host}:{port} is not reachable"); sys.exit(1)
    finally:
        s.close()
PY
}

fast_tier() {
  echo "== fast tier (SQLite, in-process) =="
  HS_TEST_TIER=fast "$PY" -m pytest "$@"
}

if ! services_up; then
  if [ "${CI:-}" = "true" ]; then
    echo "services tier is mandatory with CI=true and a service is missing" >&2
    exit 1
  fi
  fast_tier "$@"
  echo "services tier SKIPPED: PostgreSQL or Redis not running (start them, or run with CI=true to enforce)"
  exit 0
fi

# The services tier's multi-process tests (marker `live`: real gunicorn, Celery, nginx, Synapse processes)
# spend most of their time waiting on those processes, so they run beside the CPU-bound in-process tests
# (the fast tier, then the rest of the services tier), on their own PostgreSQL test database and Redis db.
live_log=$(mktemp)
trap 'rm -f "$live_log"' EXIT
PG_DB=${HS_TEST_PG_DB:-hsproject_test}
REDIS_DB=${HS_TEST_REDIS_DB:-5}
HS_TEST_TIER=services HS_TEST_PG_DB="${PG_DB}_live" HS_TEST_REDIS_DB=$(( (REDIS_DB + 1) % 16 )) \
  "$PY" -m pytest -m live "$@" >"$live_log" 2>&1 &
live_pid=$!

fast_rc=0
fast_tier "$@" || fast_rc=$?
services_rc=0
if [ "$fast_rc" -eq 0 ]; then
  echo "== services tier (PostgreSQL + Redis) =="
  HS_TEST_TIER=services "$PY" -m pytest -m "not live" "$@" || services_rc=$?
fi
live_rc=0
wait "$live_pid" || live_rc=$?
echo "== services tier, multi-process tests (PostgreSQL + Redis; ran beside the others) =="
cat "$live_log"
[ "$fast_rc" -eq 0 ] || { echo "fast tier failed" >&2; exit "$fast_rc"; }
[ "$services_rc" -eq 0 ] || { echo "services tier failed" >&2; exit "$services_rc"; }
[ "$live_rc" -eq 0 ] || { echo "services tier (multi-process tests) failed" >&2; exit "$live_rc"; }
