#!/usr/bin/env bash
# Node.js interop tests. `run.sh install` installs the locked dependencies (npm ci) when
# node_modules is missing or stale; `run.sh FILE...` runs test files with node's test runner.
set -euo pipefail
cd "$(dirname "$0")"
if [[ "${1:-}" == install ]]; then
  if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
    npm ci --no-audit --no-fund
  else
    echo "node_modules is up to date"
  fi
  exit 0
fi
exec node --test "$@"
