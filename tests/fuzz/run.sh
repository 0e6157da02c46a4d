#!/usr/bin/env bash
# Builds certgate's libFuzzer targets with clang (ASan + UBSan) in build-fuzz/ and fuzzes each
# target for a while. See tests/fuzz/README.md.
#
#   tests/fuzz/run.sh [-t SECONDS] [-p PARALLEL] [-m] [TARGET...]
#
#   -t SECONDS   fuzzing time per target (default 300)
#   -p PARALLEL  targets fuzzed at the same time (default 1; the machine's cores are shared)
#   -m           afterwards merge (-merge=1 -use_counters=0: keeps every input that adds an edge,
#                so the committed corpus keeps the run's edge coverage at a fraction of its size)
#                the working corpus, the committed corpus and the seeds into
#                tests/fuzz/corpus/<target> (review, then commit)
#   TARGET...    default: all (decode_header xfcc rfc9440_chain dn serial certificate authorize)
#
# Environment: BUILD_DIR (default build-fuzz), JOBS (build parallelism, default 2).
# Working state lives in $BUILD_DIR/fuzz/: pki/ and seeds/ (made once), corpus/<target>/ (the
# working corpus; it grows across runs), artifacts/<target>/ (crash-*, timeout-*, oom-*),
# logs/<target>.log, summary.txt. Exit status 1 when any target left an artifact.
set -euo pipefail
cd "$(dirname -- "$0")/../.."
REPO=$PWD

SECONDS_PER=300
PARALLEL=1
MERGE=0
while getopts "t:p:mh" opt; do
  case $opt in
    t) SECONDS_PER=$OPTARG ;;
    p) PARALLEL=$OPTARG ;;
    m) MERGE=1 ;;
    *) sed -n '2,21p' "$0" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
ALL=(decode_header xfcc rfc9440_chain dn serial certificate authorize)
TARGETS=("$@")
[[ ${#TARGETS[@]} -gt 0 ]] || TARGETS=("${ALL[@]}")

# Longest input worth trying: a little over each target's own limit, so the limit is exercised.
declare -A MAX_LEN=([decode_header]=70000 [xfcc]=70000 [rfc9440_chain]=140000 [dn]=9000
                    [serial]=2048 [certificate]=70000 [authorize]=140000)
for t in "${TARGETS[@]}"; do
  [[ -n ${MAX_LEN[$t]:-} ]] || { echo "unknown target '$t' (known: ${ALL[*]})" >&2; exit 2; }
done

BUILD=${BUILD_DIR:-build-fuzz}
if [[ ! -f $BUILD/CMakeCache.txt ]]; then
  GENERATOR=()
  if command -v ninja >/dev/null 2>&1; then GENERATOR=(-G Ninja); fi
  CC=clang CXX=clang++ cmake -S . -B "$BUILD" "${GENERATOR[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCERTGATE_FUZZ=ON -DSANITIZE=address,undefined -DCERTGATE_BUILD_BENCH=OFF
fi
cmake --build "$BUILD" -j"${JOBS:-2}" --target "${TARGETS[@]/#/fuzz_}"

W=$(mkdir -p "$BUILD/fuzz" && cd "$BUILD/fuzz" && pwd)
BIN=$(cd "$BUILD/tests/fuzz" && pwd)
[[ -f $W/pki/alice.der ]] || bash tests/testdata/gen_pki.sh "$W/pki" >/dev/null
[[ -d $W/seeds ]] || bash tests/fuzz/make_seeds.sh "$W/pki" "$W/seeds" >/dev/null
mkdir -p "$W/logs"

run_one() {
  local t=$1
  mkdir -p "$W/corpus/$t" "$W/artifacts/$t" "$W/run/$t"
  # -jobs=1: one worker process, its output in fuzz-0.log; new inputs go to the first folder.
  (cd "$W/run/$t" && "$BIN/fuzz_$t" -max_total_time="$SECONDS_PER" -jobs=1 -workers=1 \
    -rss_limit_mb=2048 -max_len="${MAX_LEN[$t]}" -timeout=25 -print_final_stats=1 \
    -artifact_prefix="$W/artifacts/$t/" "$W/corpus/$t" "$REPO/tests/fuzz/corpus/$t" \
    "$W/seeds/$t" "$REPO/tests/fuzz/crashes/$t" >/dev/null 2>&1 || true)
  cp "$W/run/$t/fuzz-0.log" "$W/logs/$t.log"
}

echo "fuzzing ${TARGETS[*]} for ${SECONDS_PER}s each, $PARALLEL at a time (logs in $W/logs)"
for t in "${TARGETS[@]}"; do
  run_one "$t" &
  while (($(jobs -rp | wc -l) >= PARALLEL)); do wait -n || true; done
done
wait

# One line per target: executions, final edge coverage (cov) and features (ft), corpus size,
# edge coverage halfway through the run's executions, and the execution at which edge coverage
# last grew (both far below the end means the run had plateaued; ft keeps creeping up as
# libFuzzer also counts hit-count buckets).
status=0
{
  printf '%-14s %11s %6s %6s %7s %9s %15s %s\n' target execs cov ft corpus cov@half \
    last_cov_growth artifacts
  for t in "${TARGETS[@]}"; do
    log=$W/logs/$t.log
    artifacts=$(find "$W/artifacts/$t" -type f | wc -l)
    ((artifacts == 0)) || status=1
    awk -v t="$t" -v artifacts="$artifacts" '
      /^#[0-9]+/ {
        n = substr($1, 2) + 0
        for (i = 1; i <= NF; i++) {
          if ($i == "cov:") c = $(i + 1) + 0
          if ($i == "ft:") f = $(i + 1) + 0
          if ($i == "corp:") { split($(i + 1), a, "/"); corp = a[1] }
        }
        execs_at[++k] = n; cov_at[k] = c
        if (c > best) { best = c; grew = n }
        total = n
      }
      /^stat::number_of_executed_units:/ { total = $2 + 0 }
      END {
        half = 0
        for (j = 1; j <= k; j++) if (execs_at[j] <= total / 2) half = cov_at[j]
        printf "%-14s %11d %6d %6d %7d %9d %15d %d\n", t, total, best, f, corp, half, grew, artifacts
      }' "$log"
  done
} | tee "$W/summary.txt"

if ((MERGE)); then
  for t in "${TARGETS[@]}"; do
    rm -rf "$W/merged/$t" && mkdir -p "$W/merged/$t"
    "$BIN/fuzz_$t" -merge=1 -use_counters=0 -rss_limit_mb=2048 -max_len="${MAX_LEN[$t]}" -timeout=25 \
      "$W/merged/$t" "$W/corpus/$t" "$REPO/tests/fuzz/corpus/$t" "$W/seeds/$t" \
      >"$W/logs/$t.merge.log" 2>&1
    rm -rf "$REPO/tests/fuzz/corpus/$t" && mkdir -p "$REPO/tests/fuzz/corpus/$t"
    cp "$W/merged/$t"/* "$REPO/tests/fuzz/corpus/$t/"
    echo "merged $t: $(find "$REPO/tests/fuzz/corpus/$t" -type f | wc -l) files," \
      "$(du -sh "$REPO/tests/fuzz/corpus/$t" | cut -f1)"
  done
fi
exit $status
