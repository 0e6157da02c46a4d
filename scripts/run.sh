#!/usr/bin/env bash
# Quick start: installs what is needed, builds, and runs certgate-server on its embedded default
# (SQLite file and admin socket under ./data, a demo PKI, and an enrolled demo user made on
# first run). Ctrl-C stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
JOBS="${JOBS:-$(nproc)}" bash scripts/build.sh build -DCERTGATE_BUILD_TESTS=OFF -DCERTGATE_BUILD_BENCH=OFF
mkdir -p data && chmod 700 data
bash scripts/demo-pki.sh data/pki

./build/certgate-server --config deploy/certgate.yaml "$@" &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER' INT TERM
# Wait for the admin socket (the server prints a ready line when both listeners are up).
for _ in $(seq 1 100); do [[ -S data/admin.sock ]] && break; sleep 0.1; done

CLI=./build/certgate
if ! $CLI user get demo >/dev/null 2>&1; then
  $CLI user create demo --display-name "Demo User" >/dev/null
  $CLI cert enroll --user demo data/pki/demo.pem >/dev/null
  echo "enrolled demo user with data/pki/demo.pem"
fi
cat <<MSG

certgate is running: Authorize on 127.0.0.1:8443, admin API on data/admin.sock.
Try, in another shell:
  ./build/certgate authorize data/pki/demo.pem
  ./build/certgate audit list
MSG
wait $SERVER
