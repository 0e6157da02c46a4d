#!/usr/bin/env bash
# bench_smoke (ctest, label unit): keeps the load harness from rotting without running it.
# Starts bench/echo_server, sends 300 requests through h2load (the harness's gRPC framing and
# headers) and 300 through load_client, and checks both against the server's own count.
#   bench/smoke.sh BUILD_DIR
set -euo pipefail
BUILD=${1:?usage: smoke.sh BUILD_DIR}
WORK=$(mktemp -d)
PID=
cleanup() {
  [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

if ! command -v h2load >/dev/null; then
  echo "bench_smoke: h2load not installed (scripts/setup.sh installs nghttp2-client)" >&2
  exit 1
fi

"$BUILD/bench/bench_tool" ca --out-cert "$WORK/ca.pem" --out-key "$WORK/ca.key"
"$BUILD/bench/bench_tool" mint --ca-cert "$WORK/ca.pem" --ca-key "$WORK/ca.key" --count 3 \
  --first-serial 1 --out "$WORK/certs.bin"
"$BUILD/bench/bench_tool" requests --certs "$WORK/certs.bin" --encoding xfcc --limit 1 \
  --out "$WORK/one.bin"
"$BUILD/bench/bench_tool" requests --certs "$WORK/certs.bin" --encoding xfcc --out "$WORK/three.bin"

"$BUILD/bench/echo_server" --listen 127.0.0.1:0 >"$WORK/echo.log" &
PID=$!
for _ in $(seq 100); do grep -q ready "$WORK/echo.log" && break; sleep 0.05; done
PORT=$(sed -n 's/.*ready: port=\([0-9]*\).*/\1/p' "$WORK/echo.log")
[[ -n $PORT ]] || { echo "bench_smoke: echo_server did not start" >&2; exit 1; }

# The server's own count of answered calls (it prints one on SIGUSR1).
count() {
  local before
  before=$(grep -c count= "$WORK/echo.log" || true)
  kill -USR1 "$PID"
  for _ in $(seq 200); do
    [[ $(grep -c count= "$WORK/echo.log" || true) -gt $before ]] && break
    sleep 0.02
  done
  grep count= "$WORK/echo.log" | tail -1 | sed 's/.*count=//'
}

h2load -n 300 -c 2 -m 4 -d "$WORK/one.bin" -H 'content-type: application/grpc' -H 'te: trailers' \
  --log-file="$WORK/h2load.log" "http://127.0.0.1:$PORT/certgate.v1.Authorizer/Authorize" \
  >"$WORK/h2load.out"
ok=$(sed -n 's/^status codes: \([0-9]*\) 2xx.*/\1/p' "$WORK/h2load.out")
logged=$(wc -l <"$WORK/h2load.log")
served=$(count)
echo "bench_smoke: h2load 2xx=$ok logged=$logged echo_server count=$served"
[[ $ok == 300 && $logged == 300 && $served == 300 ]] || { cat "$WORK/h2load.out"; exit 1; }

out=$("$BUILD/bench/load_client" --target "127.0.0.1:$PORT" --requests "$WORK/three.bin" \
  --connections 2 --streams 4 --duration 0.3 --warmup 0.1)
echo "bench_smoke: load_client $out"
allowed=$(sed -n 's/.*"allowed":\([0-9]*\).*/\1/p' <<<"$out")
served2=$(count)
[[ $((served2 - served)) == "$allowed" && $allowed -gt 0 ]] ||
  { echo "bench_smoke: load_client allowed=$allowed but the server answered $((served2 - served))" >&2; exit 1; }
echo "bench_smoke: OK"
