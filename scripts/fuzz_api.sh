#!/usr/bin/env bash
# The long schemathesis run over the whole API (tests/api/test_schema_fuzz.py, marked slow): every operation
# of the OpenAPI schema, against a real populated server with auth on, on SQLite and on PostgreSQL
# (127.0.0.1:5432, database `test`; started here if it is down), with an admin's and an ordinary user's key.
# It fails on any 5xx, undeclared status code or content type, or response-schema violation.
# The fast suite runs the same harness bounded to about a minute on SQLite.
# Usage: bash scripts/fuzz_api.sh [EXAMPLES] [extra pytest args]   (EXAMPLES per operation and mode; 150)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${AGENTIC_SCIML_VENV:-.venv}"
EXAMPLES="${1:-150}"
shift || true

if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
fi

AGENTIC_SCIML_FUZZ_EXAMPLES="$EXAMPLES" exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider -m slow \
  tests/api/test_schema_fuzz.py "$@"
