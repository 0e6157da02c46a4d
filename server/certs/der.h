// Minimal strict DER framing, used to check that a blob is exactly one DER element before any
// ASN.1 library sees it (private to certs/). Only framing: tag, definite minimal length, size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace certgate::certs::der {

inline constexpr uint8_t kSequenceTag = 0x30;  // universal, constructed, SEQUENCE

struct Tlv {
  uint8_t first_identifier_octet = 0;  // class, constructed bit and tag number (or 0x1f)
  uint32_t tag_number = 0;             // the tag number (multi-octet form decoded)
  size_t header_length = 0;            // identifier + length octets
  size_t content_length = 0;
  size_t total_length() const { return header_length + content_length; }
};

// Reads the element at the start of `in`. Fails (nullopt) on truncation, indefinite length,
// non-minimal length encodings, lengths over 2^32, and malformed high tag numbers. Bytes after
// the element are not examined.
std::optional<Tlv> ReadTlv(std::string_view in);

// Returns nullopt when `der` is exactly one DER SEQUENCE with nothing after it, else a short
// reason ("empty", "truncated DER", "trailing bytes after the DER certificate", ...).
std::optional<std::string> CheckSingleSequence(std::string_view der);

// Assuming CheckSingleSequence passed: returns nullopt when the element has the outer shape of
// an X.509 Certificate (SEQUENCE { tbsCertificate, signatureAlgorithm, BIT STRING } with
// tbsCertificate = [0] version?, INTEGER, SEQUENCE, Name, Validity of two Times, Name, SPKI, ...),
// else a short reason that names what it looks like instead ("a CRL, not a certificate", ...).
// Cheap (no allocation, no ASN.1 library): decoders use it to reject a CRL, CSR or key without
// paying for a full parse, which ParseCertificate does later.
std::optional<std::string> CheckCertificateShape(std::string_view der);

}  // namespace certgate::certs::der
