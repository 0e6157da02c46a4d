// Certificate revocation lists: strict parsing into our own structs and signature verification
// against an issuer certificate. No OpenSSL type leaves certs/.
//
// Only complete, direct CRLs are accepted: a delta CRL, an indirect CRL (entries for other
// issuers), or one whose issuingDistributionPoint limits its scope (only user / CA / attribute
// certificates, only some reasons) is refused, because certgate treats "not listed in the
// issuer's CRL" as "not revoked by that issuer", which only a complete CRL can say.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "server/certs/certificate.h"
#include "server/certs/dn.h"
#include "server/common/status.h"

namespace certgate::certs {

// Largest CRL accepted (DER bytes): room for several hundred thousand entries.
inline constexpr size_t kMaxCrlBytes = 64 * 1024 * 1024;

struct CrlEntryFacts {
  std::string serial;           // normalised (serial.h)
  int reason = 0;               // RFC 5280 CRLReason code; 0 (unspecified) when absent
  int64_t revocation_date = 0;  // Unix seconds
};

struct CrlFacts {
  std::string der;                 // the exact DER bytes
  std::string fingerprint_sha256;  // of der
  DistinguishedName issuer;
  std::string crl_number;        // normalised hex, like a serial; empty when the CRL has none
  int64_t this_update = 0;       // Unix seconds
  int64_t next_update = 0;       // Unix seconds; 0 when the CRL has no nextUpdate
  std::string authority_key_id;  // lowercase hex keyIdentifier; empty when absent
  std::vector<CrlEntryFacts> entries;
};

// Parses one CRL given as DER or as PEM text with one "X509 CRL" block. Fails with
// InvalidArgument (saying why) on anything else: trailing bytes, a non-canonical encoding, a
// certificate or other PEM block, a CRL over kMaxCrlBytes, a delta / indirect / scoped CRL (see
// above), an unknown critical extension (CRL or entry), a serial listed twice, an unknown reason
// code. Does NOT check the signature. Thread-safe.
Result<CrlFacts> ParseCrl(std::string_view der_or_pem);

// OK when `issuer` signed `crl`: the issuer's subject equals the CRL's issuer name (canonical
// form), it is a CA certificate whose keyUsage, when present, allows cRLSign, its subject key
// identifier matches the CRL's authority key identifier when both are present, and the
// signature verifies with its public key. InvalidArgument saying which check failed otherwise.
Status VerifyCrlSignature(const CrlFacts& crl, const CertificateFacts& issuer);

}  // namespace certgate::certs
