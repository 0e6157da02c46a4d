#!/usr/bin/env bash
# Crash-consistency loop: N rounds of "4 clients call Authorize, the server is SIGKILLed at a
# random moment, restarted on the same database; every answered request must have its audit
# row and PRAGMA integrity_check must say ok". CI runs 3 rounds; this runs many.
# Usage: bench/crashloop.sh [ROUNDS] [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${1:-100}"
BUILD="${2:-build-test}"
[[ -x "$BUILD/tests/integration_tests" ]] || bash scripts/build.sh "$BUILD" >/dev/null
[[ -f "$BUILD/tests/pki/alice.der" ]] || bash tests/testdata/gen_pki.sh "$BUILD/tests/pki" >/dev/null
CERTGATE_CRASH_ITERATIONS="$ROUNDS" CERTGATE_TESTDATA="$BUILD/tests/pki" \
  "$BUILD/tests/integration_tests" --gtest_filter='CrashConsistency.*' 2>&1 |
  grep -E "crash consistency|OK|FAILED|Failure|no audit row"
