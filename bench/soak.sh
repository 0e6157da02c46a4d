#!/usr/bin/env bash
# Soak (issue 7): certgate-server at half its measured saturation for 10 minutes (open loop),
# RSS and fds sampled every 5 s; fails if either grows after the warm-up. CSV of the samples:
# bench/work/soak-samples.csv. Checks and figures: bench/overload.py (its docstring).
#   bench/soak.sh [--duration 600] [--interval 5] [--chunk 60] [--build DIR] ...
# Builds (or brings up to date) the binaries it needs in build/ first, unless
# CERTGATE_NO_BUILD=1.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=build
for ((i = 1; i <= $#; i++)); do [[ ${!i} == --build ]] && { j=$((i + 1)); BUILD=${!j}; }; done
if [[ ${CERTGATE_NO_BUILD:-0} != 1 ]]; then
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$(pwd)}"
  [[ -f $BUILD/CMakeCache.txt ]] || bash scripts/build.sh "$BUILD"
  cmake --build "$BUILD" -j"${JOBS:-$(nproc)}" --target certgate-server certgate load_client bench_tool
fi
exec /usr/bin/python3 bench/overload.py soak "$@"
