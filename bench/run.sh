#!/usr/bin/env bash
# The one command for certgate's load benchmarks (see bench/RESULTS.md):
#   bench/run.sh [--quick] [--api callback|sync] [--db-dir DIR] [--only SECTIONS]
# Installs what is missing (scripts/setup.sh), builds the RelWithDebInfo binaries it needs into
# build/ (if not built yet), then runs bench/run.py, which prints a summary and writes
# bench/work/{summary.md,results.json,chart.png}. --quick takes about 3 minutes, the default
# about 15.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
if ! command -v h2load >/dev/null || ! /usr/bin/python3 -c 'import matplotlib' 2>/dev/null ||
  ! dpkg-query -W -f='${Status}' libbenchmark-dev 2>/dev/null | grep -q "ok installed"; then
  bash scripts/setup.sh
fi
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$(dirname "$ROOT")}
BUILD=${CERTGATE_BENCH_BUILD:-$ROOT/build}
if [[ ! -f $BUILD/build.ninja && ! -f $BUILD/Makefile ]]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD" -j2 --target certgate-server echo_server load_client bench_tool \
  micro_certs micro_store >/dev/null
exec /usr/bin/python3 bench/run.py --build "$BUILD" "$@"
