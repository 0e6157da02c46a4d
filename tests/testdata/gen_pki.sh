#!/usr/bin/env bash
# Generates certgate's throwaway test PKI into OUTDIR (see tests/testdata/README.md for every file).
#
#   tests/testdata/gen_pki.sh OUTDIR
#
# Bash and the openssl CLI only. File names are fixed; keys and most serials are fresh on every
# run. Idempotent: OUTDIR's previous contents are removed first (the script refuses to empty a
# non-empty folder it did not create). Nothing it writes may be committed: these keys are public.
set -euo pipefail
shopt -s extglob

if [[ $# -ne 1 || -z $1 ]]; then
  echo "usage: $0 OUTDIR" >&2
  exit 2
fi

readonly MARKER=.certgate-test-pki
mkdir -p -- "$1"
OUT=$(cd -- "$1" && pwd -P)
readonly OUT
if [[ -n $(ls -A -- "$OUT") && ! -e $OUT/$MARKER ]]; then
  echo "$0: refusing to empty $OUT: not a folder this script created (no $MARKER)" >&2
  exit 1
fi
find "$OUT" -mindepth 1 -delete
touch "$OUT/$MARKER"

WORK=$OUT/.work # CA databases and CSRs; removed on exit
mkdir -p "$WORK"
trap 'rm -rf -- "$WORK"' EXIT
cd "$OUT"

# Fixed validity windows (openssl ca -startdate/-enddate) so that tests with an injected clock
# anywhere in 2024..2089 see every "good" certificate as valid and the CAs cover all of them.
readonly CA_START=20000101000000Z CA_END=21000101000000Z
readonly LEAF_START=20240101000000Z LEAF_END=20990101000000Z
# alice's serial: 20 bytes, first byte 0x0A (positive, and its normalised form drops a leading
# zero nibble). lookalike and rogue_alice reuse it on purpose.
readonly ALICE_SERIAL=0A11CE00112233445566778899AABBCCDDEEFF01

readonly ROOT_SUBJ='/C=US/O=certgate tests/CN=certgate Test Root CA'
readonly ALICE_SUBJ='/C=US/O=certgate tests/OU=Engineering/CN=alice'

ossl() { openssl "$@" 2>"$WORK/openssl.err" || { cat "$WORK/openssl.err" >&2; exit 1; }; }

# ---- extensions used by `openssl ca -extfile` ---------------------------------------------------
cat >"$WORK/ext.cnf" <<'EOF'
[ root_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ intermediate_ca ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ client ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ client_rsa ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ alice ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = DNS:alice.example.com, URI:spiffe://example.org/alice, email:alice@example.com
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ tls_server ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ forwarder ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = DNS:forwarder.example.com, URI:spiffe://example.org/forwarder
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ server ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:serverauth.example.com
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ ca_as_client ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF

# ---- helpers ------------------------------------------------------------------------------------
ec_key() { ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key"; }
rsa_key() { ossl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:$2" -out "$1.key"; }

# new_ca NAME CERT KEY: an `openssl ca` database in $WORK/NAME signing with CERT/KEY.
new_ca() {
  local dir=$WORK/$1
  mkdir -p "$dir/newcerts"
  : >"$dir/index.txt"
  echo 1000 >"$dir/crlnumber"
  cat >"$dir/ca.cnf" <<EOF
[ ca ]
default_ca = CA_default
[ CA_default ]
dir = $dir
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
certificate = $OUT/$2
private_key = $OUT/$3
serial = \$dir/serial
crlnumber = \$dir/crlnumber
default_md = sha256
default_crl_days = 3650
policy = policy_any
unique_subject = no
email_in_dn = no
copy_extensions = none
string_mask = utf8only
preserve = yes
[ policy_any ]
commonName = supplied
EOF
}

# issue CA NAME SUBJECT EXT_SECTION SERIAL|rand [extra openssl-ca args]: NAME.pem and NAME.der
# from the existing NAME.key.
issue() {
  local ca=$1 name=$2 subj=$3 ext=$4 serial=$5
  shift 5
  local serial_args=(-rand_serial)
  if [[ $serial != rand ]]; then
    echo "$serial" >"$WORK/$ca/serial"
    serial_args=()
  fi
  ossl req -new -key "$name.key" -utf8 -subj "$subj" -out "$WORK/$name.csr"
  ossl ca -batch -config "$WORK/$ca/ca.cnf" -utf8 -preserveDN -notext "${serial_args[@]}" \
    -startdate "$LEAF_START" -enddate "$LEAF_END" \
    -extfile "$WORK/ext.cnf" -extensions "$ext" -in "$WORK/$name.csr" -out "$name.pem" "$@"
  ossl x509 -in "$name.pem" -outform DER -out "$name.der"
}

# self_signed_ca NAME SUBJECT: NAME.pem (and NAME.der) self-signed with NAME.key, root_ca profile.
self_signed_ca() {
  local name=$1 subj=$2
  new_ca "$name" "$name.pem" "$name.key"
  ossl req -new -key "$name.key" -utf8 -subj "$subj" -out "$WORK/$name.csr"
  ossl ca -batch -selfsign -config "$WORK/$name/ca.cnf" -keyfile "$name.key" -utf8 -preserveDN \
    -notext -rand_serial -startdate "$CA_START" -enddate "$CA_END" \
    -extfile "$WORK/ext.cnf" -extensions root_ca -in "$WORK/$name.csr" -out "$name.pem"
  ossl x509 -in "$name.pem" -outform DER -out "$name.der"
}

# facts NAME: NAME.serial, NAME.fingerprint, NAME.subject, NAME.subject_legacy, NAME.issuer,
# written from openssl's own output (an independent source for the unit tests).
facts() {
  local name=$1 s
  s=$(ossl x509 -in "$name.pem" -noout -serial)
  s=${s#serial=}
  s=${s,,}
  s=${s##+(0)}
  echo "${s:-0}" >"$name.serial"
  s=$(ossl dgst -sha256 -r "$name.der")
  echo "${s%% *}" >"$name.fingerprint"
  s=$(ossl x509 -in "$name.pem" -noout -subject -nameopt RFC2253)
  echo "${s#subject=}" >"$name.subject"
  s=$(ossl x509 -in "$name.pem" -noout -subject -nameopt compat)
  echo "${s#subject=}" >"$name.subject_legacy"
  s=$(ossl x509 -in "$name.pem" -noout -issuer -nameopt RFC2253)
  echo "${s#issuer=}" >"$name.issuer"
}

# ---- root CA ------------------------------------------------------------------------------------
ec_key ca
self_signed_ca ca "$ROOT_SUBJ"
new_ca root ca.pem ca.key

# ---- intermediate CA and a leaf under it --------------------------------------------------------
ec_key intermediate
issue root intermediate '/C=US/O=certgate tests/CN=certgate Test Intermediate CA' intermediate_ca \
  rand -startdate "$CA_START" -enddate "$CA_END"
new_ca inter intermediate.pem intermediate.key
ec_key leaf_via_intermediate
issue inter leaf_via_intermediate '/C=US/O=certgate tests/CN=leaf via intermediate' client rand
cat leaf_via_intermediate.pem intermediate.pem >leaf_via_intermediate_chain.pem

# ---- leaves from the root -----------------------------------------------------------------------
ec_key alice
issue root alice "$ALICE_SUBJ" alice "$ALICE_SERIAL"
cat alice.pem ca.pem >alice_chain.pem
ossl base64 -A -in alice.der -out alice.b64
ossl pkey -in alice.key -pubout -outform DER -out pubkey.der
s=$(ossl dgst -sha256 -r pubkey.der)
echo "${s%% *}" >alice.spki_sha256

rsa_key bob 2048
issue root bob '/C=US/O=certgate tests/CN=bob' client_rsa rand
ossl pkey -in bob.key -pubout -outform DER -out "$WORK/bob.spki"
s=$(ossl dgst -sha256 -r "$WORK/bob.spki")
echo "${s%% *}" >bob.spki_sha256

# alice_renewed: alice's subject, a new key and a fresh serial (a renewal not yet enrolled).
ec_key alice_renewed
issue root alice_renewed "$ALICE_SUBJ" alice rand

ec_key carol
issue root carol '/C=US/O=Example, Inc./OU=R\+D/CN=Carol "CJ" O'"'"'Neil, Zoë' client rand

for name in dave erin; do
  ec_key "$name"
  issue root "$name" "/C=US/O=certgate tests/CN=$name" client rand
done

ec_key multirdn
issue root multirdn '/C=US/O=certgate tests/CN=multi+UID=m-1' client rand

ec_key expired
issue root expired '/C=US/O=certgate tests/CN=expired' client rand \
  -startdate 20200101000000Z -enddate 20210101000000Z
ec_key notyet
issue root notyet '/C=US/O=certgate tests/CN=notyet' client rand \
  -startdate 20900101000000Z -enddate 20910101000000Z

ec_key serverauth
issue root serverauth '/C=US/O=certgate tests/CN=serverauth.example.com' server rand
ec_key ca_as_client
issue root ca_as_client '/C=US/O=certgate tests/CN=certgate Test CA used as client' ca_as_client rand

rsa_key rsa1024 1024
issue root rsa1024 '/C=US/O=certgate tests/CN=rsa1024' client_rsa rand

# ---- TLS on certgate's own listener ------------------------------------------------------------
# server: certgate's server certificate (localhost, 127.0.0.1, ::1); forwarder: a proxy's client
# certificate for mTLS to certgate (trusted as a forwarder by its fingerprint, subject or SAN).
ec_key server
issue root server '/C=US/O=certgate tests/CN=localhost' tls_server rand
ec_key forwarder
issue root forwarder '/C=US/O=certgate tests/OU=Proxies/CN=certgate test forwarder' forwarder rand

# ---- an intermediate that has expired, and a still-valid leaf under it ---------------------------
ec_key expired_intermediate
issue root expired_intermediate '/C=US/O=certgate tests/CN=certgate Expired Intermediate CA' \
  intermediate_ca rand -startdate 20200101000000Z -enddate 20210101000000Z
new_ca expinter expired_intermediate.pem expired_intermediate.key
ec_key leaf_via_expired_intermediate
issue expinter leaf_via_expired_intermediate '/C=US/O=certgate tests/CN=leaf via expired intermediate' \
  client rand -startdate 20200601000000Z
cat leaf_via_expired_intermediate.pem expired_intermediate.pem >leaf_via_expired_intermediate_chain.pem

# ---- impostors ----------------------------------------------------------------------------------
# lookalike: self-signed, alice's subject and serial and extensions.
ec_key lookalike
new_ca lookalike lookalike.pem lookalike.key
ossl req -new -key lookalike.key -utf8 -subj "$ALICE_SUBJ" -out "$WORK/lookalike.csr"
echo "$ALICE_SERIAL" >"$WORK/lookalike/serial"
ossl ca -batch -selfsign -config "$WORK/lookalike/ca.cnf" -keyfile lookalike.key -utf8 \
  -preserveDN -notext -startdate "$LEAF_START" -enddate "$LEAF_END" \
  -extfile "$WORK/ext.cnf" -extensions alice -in "$WORK/lookalike.csr" -out lookalike.pem
ossl x509 -in lookalike.pem -outform DER -out lookalike.der

# rogue_ca: another key with the root's exact subject; rogue_alice: alice's subject and serial.
ec_key rogue_ca
self_signed_ca rogue_ca "$ROOT_SUBJ"
new_ca rogue rogue_ca.pem rogue_ca.key
ec_key rogue_alice
issue rogue rogue_alice "$ALICE_SUBJ" alice "$ALICE_SERIAL"

# ---- revocation and non-certificate DER ---------------------------------------------------------
# CRL numbers are hex (openssl's crlnumber file): crl 0x1000, crl_newer 0x1001.
ossl ca -batch -config "$WORK/root/ca.cnf" -revoke erin.pem -crl_reason keyCompromise
ossl ca -batch -config "$WORK/root/ca.cnf" -gencrl -out crl.pem
ossl crl -in crl.pem -outform DER -out crl.der
ossl ca -batch -config "$WORK/root/ca.cnf" -revoke bob.pem -crl_reason superseded
ossl ca -batch -config "$WORK/root/ca.cnf" -gencrl -out crl_newer.pem
ossl crl -in crl_newer.pem -outform DER -out crl_newer.der
# crl_rogue: signed by rogue_ca (issuer name = the real root's), listing alice's serial, with a
# CRL number far above the real ones.
echo 9000 >"$WORK/rogue/crlnumber"
ossl ca -batch -config "$WORK/rogue/ca.cnf" -revoke rogue_alice.pem -crl_reason keyCompromise
ossl ca -batch -config "$WORK/rogue/ca.cnf" -gencrl -out crl_rogue.pem
ossl crl -in crl_rogue.pem -outform DER -out crl_rogue.der
# The intermediate's CRLs: crl_intermediate_stale (0x1000) was due 2020-02-01; crl_intermediate
# (0x1001) is current. Neither lists anything.
ossl ca -batch -config "$WORK/inter/ca.cnf" -gencrl -crl_lastupdate 20200101000000Z \
  -crl_nextupdate 20200201000000Z -out crl_intermediate_stale.pem
ossl crl -in crl_intermediate_stale.pem -outform DER -out crl_intermediate_stale.der
ossl ca -batch -config "$WORK/inter/ca.cnf" -gencrl -out crl_intermediate.pem
ossl crl -in crl_intermediate.pem -outform DER -out crl_intermediate.der
ossl pkey -in alice.key -outform DER -out key.der
ossl req -in "$WORK/alice.csr" -outform DER -out csr.der
ossl req -in "$WORK/alice.csr" -outform PEM -out csr.pem

for name in alice alice_renewed bob carol dave erin expired notyet lookalike leaf_via_intermediate \
  multirdn rogue_alice forwarder; do
  facts "$name"
done

# ---- admin listener TLS, and a second certificate for alice's key ---------------------------------
cat >>"$WORK/ext.cnf" <<'EXT'

[ tls_server ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EXT
# admin_server: the TCP admin listener's server certificate (localhost / 127.0.0.1).
ec_key admin_server
issue root admin_server '/C=US/O=certgate tests/CN=localhost' tls_server rand
# samekey: another certificate for alice's public key (enrollment refuses the same SPKI for
# another user).
cp alice.key samekey.key
issue root samekey '/C=US/O=certgate tests/CN=samekey' client rand
facts samekey
