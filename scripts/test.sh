#!/usr/bin/env bash
# Installs what is needed, builds with warnings as errors, and runs the whole test suite:
#   1. the normal build: every test (unit, integration, interop);
#   2. AddressSanitizer + UndefinedBehaviorSanitizer: unit and integration tests;
#   3. ThreadSanitizer: unit and integration tests, the integration tests against a TSan-built
#      certgate-server (gRPC callback handlers, audit writer, health monitor, admission, reloads,
#      shutdown); a report in the server or the CLI they start fails the test.
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

# Sanitizer builds: -O1 (what the sanitizers recommend) and line tables only (-g1: file:line in
# every report), which compile much faster than RelWithDebInfo's -O2 -g on a cold machine.
SANITIZER_FLAGS=(-DCERTGATE_WERROR=ON "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG")
if [[ "${CERTGATE_SANITIZERS:-1}" != 0 ]]; then
  echo "== tests: AddressSanitizer + UndefinedBehaviorSanitizer"
  bash scripts/build.sh build-asan "${SANITIZER_FLAGS[@]}" -DSANITIZE=address,undefined \
    -DCERTGATE_BUILD_BENCH=OFF
  # Accurate unwinding so the one suppression (OpenSSL's process-lifetime init) matches exactly
  # and a real leak of an OpenSSL object of ours is still reported with our frames. Exit code 66
  # for every report (leaks included), so that tests/support fails the test whose certgate-server
  # or CLI had one, as in the TSan stage.
  (cd build-asan && ASAN_OPTIONS=fast_unwind_on_malloc=0:detect_leaks=1:exitcode=66 \
    LSAN_OPTIONS="suppressions=$ROOT/tests/sanitizers/lsan.supp" \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=66 \
    ctest --output-on-failure -j"$JOBS" --timeout 900 -L 'unit|integration')

  echo "== tests: ThreadSanitizer (unit and integration, the server included)"
  bash scripts/build.sh build-tsan "${SANITIZER_FLAGS[@]}" -DSANITIZE=thread -DCERTGATE_BUILD_BENCH=OFF
  # halt_on_error + exitcode: the first report stops the process with 66; the test binary then
  # fails in ctest, and tests/support fails the test whose certgate-server or CLI exited with 66.
  # Child processes inherit TSAN_OPTIONS. gRPC, Abseil and protobuf are Debian's uninstrumented
  # libraries: ignore_noninstrumented_modules drops what they do through TSan's interceptors, and
  # tests/sanitizers/tsan.supp names the few gRPC call-teardown frames whose ordering happens
  # inside libgrpc (see the file). The fuzz corpus replays are skipped: single-threaded, slow here.
  (cd build-tsan && TSAN_OPTIONS="halt_on_error=1:exitcode=66:second_deadlock_stack=1:ignore_noninstrumented_modules=1:suppressions=$ROOT/tests/sanitizers/tsan.supp" \
    ctest --output-on-failure -j"$JOBS" --timeout 900 -L 'unit|integration' -E '^fuzz_regression_')
fi
