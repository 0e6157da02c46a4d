#!/usr/bin/env bash
# Soak (issue 7): certgate-server at half its measured saturation for 10 minutes (open loop),
# RSS and fds sampled every 5 s; fails if either grows after the warm-up. CSV of the samples:
# bench/work/soak-samples.csv. Checks and figures: bench/overload.py (its docstring).
#   bench/soak.sh [--duration 600] [--interval 5] [--chunk 60] [--build DIR] ...
# Builds the binaries first, as bench/overload.sh does (CERTGATE_NO_BUILD=1 skips it).
exec bash "$(dirname "$0")/overload.sh" soak "$@"
