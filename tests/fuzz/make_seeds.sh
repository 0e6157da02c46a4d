#!/usr/bin/env bash
# Builds seed inputs for every fuzz target from a test PKI:
#
#   tests/testdata/gen_pki.sh /tmp/pki
#   tests/fuzz/make_seeds.sh /tmp/pki /tmp/seeds     # writes /tmp/seeds/<target>/...
#
# Seeds: header values in every encoding (several certificates, chains, CRL/CSR, proxy
# variants), XFCC headers as Envoy writes them, RFC 9440 leaf+chain pairs, DN strings from the
# .subject/.subject_legacy/.issuer files, serials (hex, colon, decimal), DER/PEM files, and
# serialized AuthorizeRequests carrying tests/fuzz/testdata/alice.pem (the certificate the
# authorize target embeds as enrolled). Private keys are never read. These are seeds, not the
# committed corpus: README.md shows how they are merged (-merge=1) into tests/fuzz/corpus/.
set -euo pipefail
if [[ $# -ne 2 || -z $1 || -z $2 ]]; then
  echo "usage: $0 PKI_DIR OUT_DIR" >&2
  exit 2
fi
here=$(cd -- "$(dirname -- "$0")" && pwd)
[[ -f $1/alice.der ]] || { echo "$0: $1 is not a gen_pki.sh output (no alice.der)" >&2; exit 1; }
mkdir -p -- "$2"
exec python3 "$here/make_seeds.py" "$1" "$2" "$here/testdata/alice.pem"
