// Shared code for certgate's fuzz targets: property checks that abort loudly, and small
// independent encoders (base64, percent-encoding, PEM, each proxy's header format) used to
// re-encode what a decoder returned and check that it decodes back to the same bytes.
//
// The encoders are written here on purpose rather than taken from server/certs: a round trip
// through the code under test's own encoder would hide a bug shared by encoder and decoder.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/certs/certificate.h"
#include "server/certs/decoders.h"
#include "server/certs/dn.h"

namespace certgate::fuzz {

// Prints "<file>:<line>: property violated: <what>" to stderr and aborts (libFuzzer then saves
// the input as a crash; the regression runner names the input file).
[[noreturn]] void Fail(const char* file, int line, const std::string& what);

// Checks a property; `what` is only evaluated on failure.
#define FUZZ_CHECK(cond, what)                                                                 \
  do {                                                                                         \
    if (!(cond)) ::certgate::fuzz::Fail(__FILE__, __LINE__, std::string(#cond ": ") + (what)); \
  } while (0)

// Bytes as a short printable string for failure messages (hex-escapes non-printable bytes,
// truncates long input).
std::string Printable(std::string_view bytes, size_t max_len = 200);

// Lowercase hex SHA-256, computed with OpenSSL's EVP API directly (not certs::Sha256Hex).
std::string Sha256Hex(std::string_view bytes);

// ---- independent encoders ------------------------------------------------------------------

// RFC 4648 standard base64; `pad` adds '=' padding.
std::string Base64(std::string_view bytes, bool pad = true);
// Percent-encodes every byte except A-Z a-z 0-9 - . _ ~ with uppercase hex (nginx's
// $ssl_client_escaped_cert). `keep` lists extra bytes left literal (AWS ALB leaves "+/=").
std::string PercentEncode(std::string_view bytes, std::string_view keep = {});
// Go's url.QueryEscape as Traefik before 2.9.2 applied it to base64 text: '+', '/', '=' and
// every other byte outside A-Z a-z 0-9 - . _ ~ escaped (a space would become '+').
std::string QueryEscape(std::string_view bytes);
// One "CERTIFICATE" PEM block with 64-column lines and a final newline.
std::string Pem(std::string_view der);

// Encodes DER certificates (leaf first) as the given proxy writes them. `variant` picks an
// equally valid alternative the real proxy also emits (0 = the canonical form): unpadded
// base64 for rfc9440, query-escaped items for traefik, "+/=" left literal for url-pem-aws, a
// Subject key for xfcc. Returns nullopt when the encoding cannot carry this many certificates.
// `chain_value` receives the Client-Cert-Chain value for rfc9440 (empty otherwise).
struct EncodedHeader {
  std::string value;
  std::string chain_value;
};
std::optional<EncodedHeader> EncodeHeader(certs::Encoding encoding,
                                          const std::vector<std::string>& ders, int variant);

// ---- property checks -----------------------------------------------------------------------

// Everything that must hold for the result of certs::DecodeHeader(encoding, ...):
//  - not kOk: no certificates and a message;
//  - kOk: 1..10 certificates (exactly 1 for url-pem, base64-der, nginx-legacy), each a single
//    DER SEQUENCE of at most 32 KiB; each certificate ParseCertificate accepts passes
//    CheckCertificateFacts (its DER is the returned bytes and hashes to the reported
//    fingerprint). Decoders only promise DER framing and certificate shape, not a full X.509
//    parse (decoders.h), so a certificate ParseCertificate rejects is allowed unless the
//    environment sets CERTGATE_FUZZ_STRICT_DECODE=1;
//  - the certificates re-encoded by EncodeHeader (every variant) decode back to the same DER.
void CheckDecoded(certs::Encoding encoding, const certs::DecodedChain& decoded);

// For a certificate ParseCertificate accepted: facts.der is `der`, the fingerprint is the
// SHA-256 of `der` (computed independently), the serial is normalised (normalising it again is
// the identity), subject and issuer survive CheckDnRoundTrip, and the PEM of `der` splits back to
// `der`.
void CheckCertificateFacts(std::string_view der, const certs::CertificateFacts& facts);

// For a parsed name: ToRfc4514() parses again (ParseRfc4514) to a name with the same Canonical()
// and the same ToRfc4514() (display text is a fixed point). Skipped for the empty name (a
// certificate may have an empty subject; DN text parsers reject empty text by design) and when the
// display text is over the parsers' 8 KiB limit (escaping and long type names can grow it).
void CheckDnRoundTrip(const certs::DistinguishedName& dn, std::string_view origin);

// Whether env CERTGATE_FUZZ_STRICT_DECODE is "1" (read once).
bool StrictDecode();

}  // namespace certgate::fuzz
