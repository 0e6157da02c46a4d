#!/usr/bin/env python3
"""Writes seed inputs for every fuzz target (see make_seeds.sh, README.md).

    make_seeds.py PKI_DIR OUT_DIR ENROLLED_ALICE_PEM

PKI_DIR is the output of tests/testdata/gen_pki.sh. ENROLLED_ALICE_PEM is the certificate the
authorize and xfcc targets embed (tests/fuzz/testdata/alice.pem): the authorize seeds carry it so
that they reach the "allowed" path. Private keys in PKI_DIR are never read.
Python 3 standard library only; the AuthorizeRequest wire format is written by hand (below).
"""
import base64
import hashlib
import os
import re
import sys

CERTS = ["alice", "bob", "carol", "dave", "erin", "multirdn", "expired", "notyet", "lookalike",
         "rogue_alice", "serverauth", "ca_as_client", "leaf_via_intermediate", "rsa1024",
         "samekey", "admin_server", "ca", "intermediate"]
FACTS = ["alice", "bob", "carol", "dave", "erin", "expired", "notyet", "lookalike",
         "leaf_via_intermediate", "multirdn", "rogue_alice", "samekey"]
# certs::Encoding order: the decode_header target's selector byte.
ENCODINGS = ["url-pem", "url-pem-aws", "xfcc", "base64-der", "rfc9440", "traefik", "nginx-legacy"]


def usage():
    sys.stderr.write(__doc__)
    sys.exit(2)


if len(sys.argv) != 4:
    usage()
PKI, OUT, ALICE_PEM = sys.argv[1:4]


def read(name):
    with open(os.path.join(PKI, name), "rb") as f:
        return f.read()


def read_line(name):
    return read(name).decode("utf-8").rstrip("\n")


def pem_blocks(text):
    return [base64.b64decode("".join(body.split()))
            for body in re.findall(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----",
                                   text.decode("ascii"), re.S)]


def pem(der):
    body = base64.b64encode(der).decode("ascii")
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return ("-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) +
            "\n-----END CERTIFICATE-----\n").encode("ascii")


UNRESERVED = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def pct(data, keep=b""):
    return "".join(chr(c) if c in UNRESERVED or c in keep else "%%%02X" % c
                   for c in data).encode("ascii")


def b64(der, pad=True):
    s = base64.b64encode(der)
    return s if pad else s.rstrip(b"=")


def sha(der):
    return hashlib.sha256(der).hexdigest().encode("ascii")


written = {}


def write(target, name, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
    written[target] = written.get(target, 0) + 1


der = {name: read(name + ".der") for name in CERTS}
chains = {
    "alice_chain": [der["alice"], der["ca"]],
    "via_intermediate": [der["leaf_via_intermediate"], der["intermediate"]],
    "three": [der["leaf_via_intermediate"], der["intermediate"], der["ca"]],
    # At and just over the 10-certificates-per-value limit.
    "ten": [der[n] for n in ["alice", "bob", "carol", "dave", "erin", "multirdn", "expired",
                             "notyet", "intermediate", "ca"]],
    "eleven": [der[n] for n in ["alice", "bob", "carol", "dave", "erin", "multirdn", "expired",
                                "notyet", "lookalike", "intermediate", "ca"]],
}
# A DER SEQUENCE just over the 32 KiB per-certificate limit (not a certificate).
oversize = b"\x30\x82\x80\x04" + b"\x00" * 0x8004
with open(ALICE_PEM, "rb") as f:
    enrolled_alice = pem_blocks(f.read())[0]
subjects = {name: read_line(name + ".subject") for name in FACTS}


def encode(encoding, ders, variant=0):
    """The header value (and rfc9440 chain value) a proxy would send."""
    chain = b""
    if encoding == "url-pem":
        value = pct(pem(ders[0]))
    elif encoding == "url-pem-aws":
        value = pct(b"".join(pem(d) for d in ders), keep=b"+/=" if variant else b"")
    elif encoding == "xfcc":
        value = (b"By=spiffe://cluster.local/ns/edge/sa/gw;Hash=" + sha(ders[0]) + b';Cert="' +
                 pct(pem(ders[0])) + b'"')
        if len(ders) > 1:
            value += b';Chain="' + pct(b"".join(pem(d) for d in ders)) + b'"'
        if variant:
            value += b';Subject="CN=client,O=Example\\, Inc.";URI=spiffe://x/y;DNS=a.example'
    elif encoding == "base64-der":
        value = b64(ders[0])
    elif encoding == "rfc9440":
        value = b":" + b64(ders[0], pad=not variant) + b":" + (b";v=1" if variant else b"")
        chain = b", ".join(b":" + b64(d) + b":" for d in ders[1:])
    elif encoding == "traefik":
        items = [b64(d) for d in ders]
        if variant:
            items = [pct(i) for i in items]
        value = b",".join(items)
    elif encoding == "nginx-legacy":
        value = pem(ders[0]).rstrip(b"\n").replace(b"\n", b" " if variant else b"\n\t")
    else:
        raise ValueError(encoding)
    return value, chain


# ---- decode_header: selector byte + value -------------------------------------------------------
for idx, enc in enumerate(ENCODINGS):
    sel = bytes([idx])
    for name in ["alice", "bob", "carol", "multirdn", "notyet"]:
        for variant in (0, 1):
            value, _ = encode(enc, [der[name]], variant)
            write("decode_header", "%s-%s-%d" % (enc, name, variant), sel + value)
    if enc in ("url-pem-aws", "xfcc", "traefik"):
        for cname, ders in chains.items():
            value, _ = encode(enc, ders)
            write("decode_header", "%s-%s" % (enc, cname), sel + value)
    for other in ("crl", "csr"):
        blob = read(other + ".der")
        value = {"base64-der": b64(blob), "rfc9440": b":" + b64(blob) + b":",
                 "traefik": b64(blob)}.get(enc, pct(read(other + ".pem")))
        write("decode_header", "%s-%s" % (enc, other), sel + value)
    write("decode_header", "%s-empty" % enc, sel)
write("decode_header", "nginx-legacy-null", bytes([6]) + b"(null)")
write("decode_header", "base64-der-oversize", bytes([3]) + b64(oversize))
write("decode_header", "base64-der-pem-text", bytes([3]) + b64(pem(der["alice"])))

# ---- xfcc: element selector byte + value --------------------------------------------------------
def xfcc_elem(d, extra=b""):
    return (b"By=spiffe://cluster.local/ns/default/sa/edge;Hash=" + sha(d) + b';Cert="' +
            pct(pem(d)) + b'"' + extra)


for name in ["alice", "carol", "multirdn"]:
    subj = subjects[name].encode("utf-8")
    write("xfcc", "envoy-" + name, b"\x00" + xfcc_elem(der[name], b';Subject="' + subj +
                                                       b'";URI=spiffe://example.org/' +
                                                       name.encode() + b";DNS=" +
                                                       name.encode() + b".example.com"))
two_hops = xfcc_elem(der["alice"]) + b", " + xfcc_elem(der["bob"])
for sel in range(4):
    write("xfcc", "two-hops-%d" % sel, bytes([sel]) + two_hops)
write("xfcc", "chain", b"\x00" + xfcc_elem(chains["via_intermediate"][0], b';Chain="' +
                                         pct(b"".join(pem(d) for d in chains["via_intermediate"])) +
                                         b'"'))
for cname in ("ten", "eleven"):
    write("xfcc", "chain-" + cname, b"\x00" + xfcc_elem(chains[cname][0], b';Chain="' +
                                                        pct(b"".join(pem(d) for d in chains[cname])) +
                                                        b'"'))
write("xfcc", "chain-only", b"\x00Chain=\"" + pct(pem(der["alice"]) + pem(der["ca"])) + b'"')
write("xfcc", "subject-injection", b'\x00Subject="CN=evil;Cert=' + pct(pem(der["bob"])) +
      b'";Cert="' + pct(pem(der["alice"])) + b'"')
write("xfcc", "no-cert", b"\x00By=spiffe://a/b;URI=spiffe://c/d;DNS=x.example;DNS=y.example")
write("xfcc", "hash-mismatch", b"\x00Hash=" + sha(der["bob"]) + b';Cert="' +
      pct(pem(der["alice"])) + b'"')
write("xfcc", "unquoted-cert", b"\x00Cert=" + pct(pem(der["alice"])))
write("xfcc", "escaped-quote", b'\x00Subject="CN=a\\"b\\\\";' + b'Cert="' +
      pct(pem(der["dave"])) + b'"')

# ---- rfc9440_chain: Client-Cert LF Client-Cert-Chain --------------------------------------------
for cname, ders in chains.items():
    value, chain = encode("rfc9440", ders)
    write("rfc9440_chain", cname, value + b"\n" + chain)
    value, chain = encode("rfc9440", ders, 1)
    write("rfc9440_chain", cname + "-unpadded", value + b"\n" + chain)
write("rfc9440_chain", "leaf-only", b":" + b64(der["alice"]) + b":")
write("rfc9440_chain", "params", b":" + b64(der["bob"]) + b':;a=1;b="x";c=?1;d=tok/en;e=-1.5\n:' +
      b64(der["ca"]) + b":;x")

# ---- dn: DN text ---------------------------------------------------------------------------------
for name in FACTS:
    write("dn", name + ".subject", subjects[name])
    write("dn", name + ".subject_legacy", read_line(name + ".subject_legacy"))
    write("dn", name + ".issuer", read_line(name + ".issuer"))
for i, text in enumerate([
        "CN=Smith\\, John+UID=jsmith,OU=Sales\\+Marketing,O=Example,C=US",
        'CN="Quoted, Name",O="a;b"',
        "2.5.4.3=#0C05616C696365,O=x",
        "1.2.3.4=#04020102,CN=octets",
        "OID.2.5.4.3=alice , o = spaced ;C=US",
        "CN=trailing\\ ,O=\\ leading",
        "CN=\\#hash\\<\\>\\=\\;,DC=example,DC=com",
        "emailAddress=a@example.com,E=b@example.com,street=Main St,serialNumber=42",
        "/C=US/O=a\\/b/CN=c+UID=d",
        "/CN=caf\\xC3\\xA9/OU=x+y/emailAddress=a@b",
        "/C=US/O=plus+minus/CN=x",
]):
    write("dn", "handmade-%02d" % i, text)

# ---- serial: serial text ------------------------------------------------------------------------
for name in FACTS:
    s = read_line(name + ".serial")
    write("serial", name, s)
    padded = s if len(s) % 2 == 0 else "0" + s
    write("serial", name + "-colons", ":".join(padded[i:i + 2].upper()
                                              for i in range(0, len(padded), 2)))
    write("serial", name + "-decimal", str(int(s, 16)))
for i, text in enumerate(["0", "00:00", "0x0A11CE", "-01", " 1f\t", "-0", "18446744073709551616",
                          "F" * 128, "9" * 154]):
    write("serial", "handmade-%02d" % i, text)

# ---- certificate: DER and PEM -------------------------------------------------------------------
for name in CERTS:
    write("certificate", name + ".der", der[name])
for name in ["alice", "carol", "multirdn"]:
    write("certificate", name + ".pem", read(name + ".pem"))
write("certificate", "alice_chain.pem", read("alice_chain.pem"))
write("certificate", "ten.pem", b"".join(pem(d) for d in chains["ten"]))
write("certificate", "eleven.pem", b"".join(pem(d) for d in chains["eleven"]))
write("certificate", "oversize.der", oversize)
write("certificate", "leaf_via_intermediate_chain.pem", read("leaf_via_intermediate_chain.pem"))
for name in ["crl.der", "csr.der", "pubkey.der", "crl.pem", "csr.pem"]:
    write("certificate", name, read(name))
# alice with her subject's O value re-typed (same length, so the DER stays well formed): string
# types OpenSSL converts to UTF-8, invalid ones it refuses, and a non-string value ("#hex").
_o = b"\x0c\x0ecertgate tests"
_subject_o = der["alice"].index(_o, der["alice"].index(_o) + 1)  # the issuer's O comes first
for name, repl in [("bmpstring", b"\x1e\x0e\x00c\x00e\x00r\x00t\x00g\x00a\x00t"),
                   ("bmpstring-surrogate", b"\x1e\x0e\xd8\x00\x00e\x00r\x00t\x00g\x00a\x00t"),
                   ("t61string", b"\x14\x0e\xe9ertgate tests"),
                   ("ia5string-control", b"\x16\x0e\x01ertgate tests"),
                   ("utf8string-invalid", b"\x0c\x0e\xffertgate tests"),
                   ("octetstring", b"\x04\x0ecertgate tests"),
                   ("sequence", b"\x30\x0e\x04\x0crtgate tests")]:
    assert len(repl) == len(_o), name
    write("certificate", "alice-o-" + name + ".der",
          der["alice"][:_subject_o] + repl + der["alice"][_subject_o + len(_o):])


# ---- authorize: peer selector byte + serialized certgate.v1.AuthorizeRequest --------------------
def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(num, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return varint(num << 3 | 2) + varint(len(data)) + data


def request(cred, request_id="seed-1", action="GET", resource="/v1/things", chain_der=()):
    msg = cred + b"".join(field(5, c) for c in chain_der)
    if request_id:
        msg += field(10, request_id)
    if action:
        msg += field(11, action)
    if resource:
        msg += field(12, resource)
    return msg


def header(value, encoding="", preset="", chain="", verification=""):
    body = field(1, value)
    if encoding:
        body += field(2, encoding)
    if preset:
        body += field(3, preset)
    if chain:
        body += field(4, chain)
    if verification:
        body += field(5, verification)
    return field(3, body)


def subject_serial(subject, serial, decimal=False, issuer=""):
    body = field(1, subject) + field(2, serial)
    if decimal:
        body += varint(3 << 3) + varint(1)
    if issuer:
        body += field(4, issuer)
    return field(4, body)


PEER_EDGE, PEER_EDGE6, PEER_ENVOY, PEER_SOCKET, PEER_STRANGER = range(5)
alice = enrolled_alice


def authorize(name, peer, msg):
    write("authorize", name, bytes([peer]) + msg)


authorize("der-alice", PEER_EDGE, request(field(1, alice)))
authorize("der-alice-stranger", PEER_STRANGER, request(field(1, alice)))
authorize("der-alice-chain", PEER_SOCKET, request(field(1, alice), chain_der=[der["ca"]]))
for name in ["bob", "expired", "notyet", "lookalike", "rogue_alice", "ca_as_client", "serverauth"]:
    authorize("der-" + name, PEER_EDGE, request(field(1, der[name])))
authorize("pem-alice", PEER_EDGE6, request(field(2, pem(alice) + pem(der["ca"]))))
authorize("pem-csr", PEER_EDGE, request(field(2, read("csr.pem"))))
for enc in ENCODINGS:
    value, chain = encode(enc, [alice, der["ca"]] if enc == "rfc9440" else [alice])
    authorize("header-%s-alice" % enc, PEER_EDGE, request(header(value, encoding=enc,
                                                                 chain=chain)))
value, _ = encode("xfcc", [alice], 1)
authorize("header-envoy-verified", PEER_ENVOY, request(header(value, preset="envoy",
                                                              verification="SUCCESS")))
authorize("header-xfcc-unverified", PEER_ENVOY, request(header(value, encoding="xfcc",
                                                               verification="FAILED:x")))
authorize("header-url-pem-envoy-peer", PEER_ENVOY, request(header(encode("url-pem", [alice])[0],
                                                                  encoding="url-pem",
                                                                  verification="SUCCESS")))
value, _ = encode("rfc9440", [alice])
authorize("header-gcp-socket", PEER_SOCKET, request(header(value, preset="gcp")))
authorize("header-stranger", PEER_STRANGER, request(header(value, encoding="rfc9440")))
authorize("header-aws-bob", PEER_EDGE, request(header(encode("url-pem-aws", [der["bob"]], 1)[0],
                                                      preset="aws-alb")))
authorize("header-unknown-encoding", PEER_EDGE, request(header(value, encoding="pem")))
alice_subject = "CN=alice,OU=Engineering,O=certgate tests,C=US"
alice_serial = "a11ce00112233445566778899aabbccddeeff01"
issuer = "CN=certgate Test Root CA,O=certgate tests,C=US"
authorize("ss-alice", PEER_EDGE, request(subject_serial(alice_subject, alice_serial)))
authorize("ss-alice-legacy-decimal", PEER_EDGE6, request(subject_serial(
    "/C=US/O=certgate tests/OU=Engineering/CN=alice", str(int(alice_serial, 16)), decimal=True,
    issuer=issuer)))
authorize("ss-alice-colons", PEER_EDGE, request(subject_serial(
    alice_subject, "0A:11:CE:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:01")))
authorize("ss-alice-envoy", PEER_ENVOY, request(subject_serial(alice_subject, alice_serial)))
authorize("ss-alice-wrong-issuer", PEER_EDGE, request(subject_serial(alice_subject, alice_serial,
                                                                      issuer="CN=Other CA")))
authorize("ss-dan-disabled", PEER_EDGE, request(subject_serial("CN=dan,O=certgate tests,C=US",
                                                               "D4", issuer=issuer)))
authorize("ss-rita-revoked", PEER_EDGE, request(subject_serial("CN=rita,O=certgate tests,C=US",
                                                               "7E")))
authorize("empty", PEER_EDGE, request(b""))
authorize("bad-request-id", PEER_EDGE, request(field(1, alice), request_id="bad\x01id"))
authorize("no-request-id", PEER_EDGE, request(field(1, alice), request_id=""))

for target in sorted(written):
    print("%-14s %d seeds" % (target, written[target]))
