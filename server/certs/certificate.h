// Certificate facts extracted from DER. No OpenSSL type leaves certs/: callers get these structs.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "server/certs/dn.h"
#include "server/common/status.h"

namespace certgate::certs {

// Lowercase hex SHA-256 of bytes.
std::string Sha256Hex(std::string_view bytes);

struct CertificateFacts {
  std::string der;                 // the exact DER bytes
  std::string fingerprint_sha256;  // lowercase hex SHA-256 of der (64 chars)
  DistinguishedName subject;
  DistinguishedName issuer;
  std::string serial;      // normalised as in serial.h
  int64_t not_before = 0;  // Unix seconds
  int64_t not_after = 0;   // Unix seconds
  std::vector<std::string> dns_sans;
  std::vector<std::string> uri_sans;
  std::vector<std::string> email_sans;
  bool is_ca = false;            // basicConstraints cA=TRUE
  bool has_eku = false;          // has an extendedKeyUsage extension
  bool eku_client_auth = false;  // EKU contains id-kp-clientAuth (or anyExtendedKeyUsage)
  std::string key_type;          // "RSA", "EC", "ED25519", ...
  int key_bits = 0;
  std::string spki_sha256;   // lowercase hex SHA-256 of the DER SubjectPublicKeyInfo
  bool self_issued = false;  // subject == issuer (canonical)
};

// Parses exactly one DER-encoded X.509 Certificate. Strict: the input must be one DER SEQUENCE
// with no trailing bytes that OpenSSL decodes as a Certificate and whose re-encoding is
// byte-identical; at most 32 KiB. A CRL, key, CSR, PEM text or anything else fails with
// InvalidArgument (message says what is wrong). Thread-safe.
Result<CertificateFacts> ParseCertificate(std::string_view der);

// Parses PEM text holding one or more "CERTIFICATE" blocks (leaf first), at most 10, each at
// most 32 KiB of DER; nothing but whitespace between and around blocks; any other block type is
// an error. Returns the DER of each certificate (not yet parsed by ParseCertificate).
Result<std::vector<std::string>> SplitPemCertificates(std::string_view pem);

}  // namespace certgate::certs
