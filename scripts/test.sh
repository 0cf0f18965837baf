#!/usr/bin/env bash
# `npm test`: sets up the Python test environment from uv.lock (offline-safe: no
# interpreter downloads) and runs every test: unit tests of the core under CPython and
# the end-to-end tests against the worker in workerd on the legacy runtime, then the
# end-to-end tests again on the production runtime (the one `npm run deploy` targets).
#
# Arguments pass through to pytest, in both passes. TEST_RUNTIMES="legacy" (or
# "production") runs one pass only. The production pass needs the offline Pyodide kit
# (PYODIDE_BUNDLE_DIR, else ../shared/modern-runtime) or the network; when it cannot
# start, the summary says so loudly and, under CI, the run fails.
set -uo pipefail
cd "$(dirname "$0")/.."

export UV_PYTHON_DOWNLOADS=never
if ! command -v uv >/dev/null 2>&1; then
  export PATH="$HOME/.local/bin:$PATH"
fi
if ! command -v uv >/dev/null 2>&1; then
  echo "uv not found: installing it with pip (python3 -m pip install --user uv)" >&2
  python3 -m pip install --quiet --user "uv==0.13.9" || exit 1
fi
if [ ! -d node_modules/miniflare-legacy ]; then
  npm ci --no-audit --no-fund || exit 1
fi
uv sync --frozen --quiet || exit 1

runtimes="${TEST_RUNTIMES:-legacy production}"
declare -A outcome
status=0

for runtime in $runtimes; do
  echo
  echo "=== end-to-end tests on the ${runtime} runtime ==="
  args=("$@")
  if [ "$runtime" != "legacy" ]; then
    # Prepared once up front (workerd copy, python_modules/), so gateways start in parallel safely.
    if ! prepared=$(GATEWAY_RUNTIME="$runtime" node scripts/local/serve.mjs --prepare 2>&1); then
      outcome[$runtime]="COULD NOT START: $prepared"
      continue
    fi
    # The unit tests ran in the first pass: this one takes the end-to-end tests only.
    paths=0; e2e=0
    for arg in "${args[@]}"; do
      if [ -e "${arg%%::*}" ]; then paths=1; case "$arg" in *e2e*) e2e=1 ;; esac; fi
    done
    if [ $paths -eq 0 ]; then
      args+=(tests/e2e)
    elif [ $e2e -eq 0 ]; then
      outcome[$runtime]="no end-to-end tests selected"
      continue
    fi
  fi
  GATEWAY_RUNTIME="$runtime" uv run --frozen --no-sync pytest "${args[@]}"
  code=$?
  outcome[$runtime]="pytest exit $code"
  # 5: the arguments selected no test in this pass (a unit-test-only run, for instance).
  if [ $code -ne 0 ] && [ $code -ne 5 ]; then status=$code; fi
done

echo
echo "=== summary ==="
for runtime in $runtimes; do
  echo "  ${runtime}: ${outcome[$runtime]}"
  case "${outcome[$runtime]}" in
    "COULD NOT START"*)
      echo "  !!! The production runtime was NOT tested: give it the offline Pyodide kit (PYODIDE_BUNDLE_DIR) or the network. !!!"
      if [ -n "${CI:-}" ]; then status=1; fi
      ;;
  esac
done
exit $status
