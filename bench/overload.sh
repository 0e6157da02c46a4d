#!/usr/bin/env bash
# Overload test (issue 7): certgate-server with max_inflight 64, open-loop load at 2x its measured
# saturation for 60 s with RSS and fds sampled every second, then recovery at half saturation.
# Checks and figures: bench/overload.py (its docstring); results in bench/work/.
#   bench/overload.sh [--duration 60] [--max-inflight 64] [--build DIR] ...
#   bench/overload.sh soak [...]     the soak (what bench/soak.sh runs)
# Builds (or brings up to date) the binaries it needs in build/ first, unless
# CERTGATE_NO_BUILD=1.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=overload
if [[ ${1:-} == soak ]]; then MODE=soak; shift; fi
BUILD=build
for ((i = 1; i <= $#; i++)); do [[ ${!i} == --build ]] && { j=$((i + 1)); BUILD=${!j}; }; done
if [[ ${CERTGATE_NO_BUILD:-0} != 1 ]]; then
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$(pwd)}"
  [[ -f $BUILD/CMakeCache.txt ]] || bash scripts/build.sh "$BUILD"
  cmake --build "$BUILD" -j"${JOBS:-$(nproc)}" --target certgate-server certgate load_client bench_tool
fi
exec /usr/bin/python3 bench/overload.py "$MODE" "$@"
