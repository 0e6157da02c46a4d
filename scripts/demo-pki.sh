#!/usr/bin/env bash
# Creates a demo PKI for the quick start: a CA and one client certificate ("demo").
# Usage: scripts/demo-pki.sh OUTDIR. Does nothing if OUTDIR/demo.pem exists.
set -euo pipefail
OUT="$1"
[[ -f "$OUT/demo.pem" ]] && exit 0
mkdir -p "$OUT"
chmod 700 "$OUT"
cd "$OUT"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
  -days 3650 -subj "/C=US/O=certgate demo/CN=certgate Demo CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout demo.key -out demo.csr \
  -subj "/C=US/O=certgate demo/CN=demo" 2>/dev/null
cat > demo.ext <<'EXT'
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
subjectAltName=DNS:demo.example.com,URI:spiffe://example.org/demo
EXT
openssl x509 -req -in demo.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out demo.pem -days 825 \
  -extfile demo.ext 2>/dev/null
openssl x509 -in demo.pem -outform DER -out demo.der
rm -f demo.csr demo.ext ca.srl
chmod 600 ./*.key
echo "demo PKI written to $OUT"
