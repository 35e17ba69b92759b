#!/usr/bin/env bash
# Runs both test tiers: fast (SQLite, in-process) then services (PostgreSQL + Redis).
# With CI=true the services tier is mandatory: a missing service fails the run instead of skipping it.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}

echo "== fast tier (SQLite, in-process) =="
HS_TEST_TIER=fast "$PY" -m pytest "$@"

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

echo "== services tier (PostgreSQL + Redis) =="
if ! services_up; then
  if [ "${CI:-}" = "true" ]; then
    echo "services tier is mandatory with CI=true and a service is missing" >&2
    exit 1
  fi
  echo "services tier SKIPPED: PostgreSQL or Redis not running (start them, or run with CI=true to enforce)"
  exit 0
fi
HS_TEST_TIER=services "$PY" -m pytest "$@"
