#!/usr/bin/env bash
# Set up, then start the service on 127.0.0.1 with a short demo campaign running (offline agent team, no LLM
# needed; SQLite in ./data, sandboxed evaluation) and print the dashboard's address. Ctrl-C stops the server;
# the campaign is kept and `agentic-sciml serve` (or the dashboard's Resume) continues it later.
# PROBLEM=convection1d picks another problem; PORT=8080 another port (default 8000, or a free one if taken).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV="${AGENTIC_SCIML_VENV:-.venv}"
PROBLEM="${PROBLEM:-discontinuous_fit1d}"
PORT="${PORT:-$("$VENV/bin/python" - <<'PY'
import socket
with socket.socket() as s:
    try:
        s.bind(("127.0.0.1", 8000))
        print(8000)
    except OSError:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])
PY
)}"
exec "$VENV/bin/agentic-sciml" serve --demo --demo-problem "$PROBLEM" --host 127.0.0.1 --port "$PORT" "$@"
