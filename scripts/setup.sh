#!/usr/bin/env bash
# Set up agentic-sciml on a fresh machine: system tools, a virtualenv, torch (pinned first), the package.
# Idempotent: a second run only checks. Usage: bash scripts/setup.sh [--dev]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${AGENTIC_SCIML_VENV:-.venv}"
PY="${PYTHON:-python3}"

need_apt=()
command -v bwrap >/dev/null 2>&1 || need_apt+=(bubblewrap)
# The dashboard's browser tests drive Debian's chromium through Playwright (never a downloaded browser).
if [ "${1:-}" = "--dev" ] && [ ! -x /usr/bin/chromium ]; then need_apt+=(chromium); fi
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing system packages: ${need_apt[*]}" >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "setup: warning: missing ${need_apt[*]} (install with your package manager); the sandbox falls back to weaker isolation" >&2
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
# The pin comes first: an unpinned torch would pull several GB of CUDA wheels.
"$VENV/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '2.13.0')" 2>/dev/null \
  || "$VENV/bin/pip" install -q "torch==2.13.0"
if [ "${1:-}" = "--dev" ]; then
  "$VENV/bin/pip" install -q -e ".[dev]"
else
  "$VENV/bin/pip" install -q -e .
fi
