#!/usr/bin/env bash
# `npm test`: sets up the Python test environment from uv.lock (offline-safe: no
# interpreter downloads) and runs every test: unit tests of the core under CPython,
# then end-to-end tests against the worker running in workerd.
set -euo pipefail
cd "$(dirname "$0")/.."

export UV_PYTHON_DOWNLOADS=never
if ! command -v uv >/dev/null 2>&1; then
  echo "uv not found: installing it with pip (python3 -m pip install --user uv)" >&2
  python3 -m pip install --quiet --user "uv==0.13.9"
  export PATH="$HOME/.local/bin:$PATH"
fi
if [ ! -d node_modules/miniflare-legacy ]; then
  npm ci --no-audit --no-fund
fi
uv sync --frozen --quiet
exec uv run --frozen --no-sync pytest "$@"
