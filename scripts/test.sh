#!/usr/bin/env bash
# Set up and run the test suite: the fast subset plus a small real end-to-end run (what CI runs).
# Usage: bash scripts/test.sh [extra pytest args]   (e.g. -m slow for the long end-to-end tests)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
VENV="${AGENTIC_SCIML_VENV:-.venv}"

# Tests run against SQLite and PostgreSQL; start the local server if it is down.
if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
fi

if [ $# -eq 0 ]; then
  set -- -m "not slow"
fi
exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
