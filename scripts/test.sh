#!/usr/bin/env bash
# Installs what is needed, builds with warnings as errors, and runs the whole test suite:
#   1. the normal build: every test (unit, integration, interop);
#   2. AddressSanitizer + UndefinedBehaviorSanitizer: unit and integration tests;
#   3. ThreadSanitizer: the concurrent parts (audit writer, store pool, pipeline, caches).
# CERTGATE_SANITIZERS=0 skips stages 2 and 3 (a quick run while working).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
JOBS="${JOBS:-$(nproc)}"
ROOT=$(pwd)
export CCACHE_BASEDIR="$ROOT"

echo "== tests: normal build"
bash scripts/build.sh build-test -DCERTGATE_WERROR=ON
(cd build-test && ctest --output-on-failure -j"$JOBS" --timeout 600 "$@")

if [[ "${CERTGATE_SANITIZERS:-1}" != 0 ]]; then
  echo "== tests: AddressSanitizer + UndefinedBehaviorSanitizer"
  bash scripts/build.sh build-asan -DCERTGATE_WERROR=ON -DSANITIZE=address,undefined \
    -DCERTGATE_BUILD_BENCH=OFF
  # Accurate unwinding so the one suppression (OpenSSL's process-lifetime init) matches exactly
  # and a real leak of an OpenSSL object of ours is still reported with our frames.
  (cd build-asan && ASAN_OPTIONS=fast_unwind_on_malloc=0:detect_leaks=1 \
    LSAN_OPTIONS="suppressions=$ROOT/tests/sanitizers/lsan.supp" \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --output-on-failure -j"$JOBS" --timeout 900 -L 'unit|integration')

  echo "== tests: ThreadSanitizer (concurrent parts)"
  cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCERTGATE_WERROR=ON \
    -DSANITIZE=thread -DCERTGATE_BUILD_BENCH=OFF >/dev/null
  cmake --build build-tsan -j"$JOBS" --target unit_audit unit_store unit_authz unit_certs
  (cd build-tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    ctest --output-on-failure -j"$JOBS" --timeout 900 \
    -R '^(pki_generate|AuditWriter.*|SqliteStore.*|MemoryStore.*|.*StoreConformance.*|.*Authorizer.*|.*TrustPipeline.*|.*ValidationCache.*|.*Validator.*)$')
fi
