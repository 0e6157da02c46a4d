#!/usr/bin/env bash
# Installs what is needed, builds with warnings as errors, and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
BUILD_DIR="${BUILD_DIR:-build-test}"
bash scripts/build.sh "$BUILD_DIR" -DCERTGATE_WERROR=ON
cd "$BUILD_DIR"
ctest --output-on-failure -j"${JOBS:-$(nproc)}" --timeout 600 "$@"
