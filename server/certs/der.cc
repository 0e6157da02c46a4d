// Strict DER framing (see der.h).
#include "server/certs/der.h"

#include <array>
#include <utility>

namespace certgate::certs::der {

std::optional<Tlv> ReadTlv(std::string_view in) {
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const size_t n = in.size();
  size_t i = 0;
  if (n < 2) return std::nullopt;
  Tlv tlv;
  tlv.first_identifier_octet = p[i++];
  if ((tlv.first_identifier_octet & 0x1f) != 0x1f) {
    tlv.tag_number = tlv.first_identifier_octet & 0x1f;
  } else {
    // High tag number form: base-128, minimal (first octet not 0x80), at least 31, fits 28 bits.
    uint32_t tag = 0;
    int octets = 0;
    while (true) {
      if (i >= n || octets == 4) return std::nullopt;
      const unsigned char b = p[i++];
      if (octets == 0 && b == 0x80) return std::nullopt;
      tag = (tag << 7) | (b & 0x7f);
      ++octets;
      if ((b & 0x80) == 0) break;
    }
    if (tag < 31) return std::nullopt;
    tlv.tag_number = tag;
  }
  if (i >= n) return std::nullopt;
  const unsigned char first_len = p[i++];
  size_t length = 0;
  if (first_len < 0x80) {
    length = first_len;
  } else {
    const int count = first_len & 0x7f;
    if (count == 0) return std::nullopt;  // indefinite length: BER, not DER
    if (count > 4) return std::nullopt;   // nothing we accept is that large
    if (n - i < static_cast<size_t>(count)) return std::nullopt;
    if (p[i] == 0) return std::nullopt;  // leading zero octet: not minimal
    for (int k = 0; k < count; ++k) length = (length << 8) | p[i++];
    if (length < 0x80) return std::nullopt;  // should have used the short form
  }
  tlv.header_length = i;
  tlv.content_length = length;
  if (n - i < length) return std::nullopt;
  return tlv;
}

std::optional<std::string> CheckSingleSequence(std::string_view der) {
  if (der.empty()) return "empty DER";
  if (static_cast<uint8_t>(der[0]) != kSequenceTag) return "not a DER SEQUENCE";
  std::optional<Tlv> tlv = ReadTlv(der);
  if (!tlv) return "truncated or non-DER length";
  if (tlv->total_length() != der.size()) return "trailing bytes after the DER certificate";
  return std::nullopt;
}

namespace {

constexpr uint8_t kIntegerTag = 0x02;
constexpr uint8_t kBitStringTag = 0x03;
constexpr uint8_t kUtcTimeTag = 0x17;
constexpr uint8_t kGeneralizedTimeTag = 0x18;
constexpr uint8_t kVersionTag = 0xa0;  // [0] EXPLICIT, constructed

struct Child {
  uint8_t tag = 0;
  std::string_view content;
};

// Splits the content of a constructed element into at most N children; nullopt when the
// content is not a sequence of well-formed elements or has more than N.
template <size_t N>
std::optional<std::pair<std::array<Child, N>, size_t>> Children(std::string_view content) {
  std::array<Child, N> out{};
  size_t count = 0;
  while (!content.empty()) {
    if (count == N) return std::nullopt;
    std::optional<Tlv> tlv = ReadTlv(content);
    if (!tlv) return std::nullopt;
    out[count].tag = tlv->first_identifier_octet;
    out[count].content = content.substr(tlv->header_length, tlv->content_length);
    ++count;
    content.remove_prefix(tlv->total_length());
  }
  return std::make_pair(out, count);
}

bool IsTime(uint8_t tag) { return tag == kUtcTimeTag || tag == kGeneralizedTimeTag; }

}  // namespace

std::optional<std::string> CheckCertificateShape(std::string_view der) {
  std::optional<Tlv> outer = ReadTlv(der);
  if (!outer) return "truncated or non-DER length";
  auto top = Children<4>(der.substr(outer->header_length, outer->content_length));
  if (!top) return "not an X.509 certificate (bad DER inside)";
  const auto& [c, n] = *top;
  if (n >= 1 && c[0].tag == kIntegerTag) return "a private key, not a certificate";
  if (n == 2 && c[0].tag == kSequenceTag && c[1].tag == kBitStringTag) {
    return "a public key, not a certificate";
  }
  if (n != 3 || c[0].tag != kSequenceTag || c[1].tag != kSequenceTag || c[2].tag != kBitStringTag) {
    return "not an X.509 certificate";
  }
  auto tbs_children = Children<10>(c[0].content);
  if (!tbs_children) return "not an X.509 certificate (bad DER inside)";
  const auto& [t, tn] = *tbs_children;
  size_t i = (tn > 0 && t[0].tag == kVersionTag) ? 1 : 0;
  const bool cert_shape = tn >= i + 6 && t[i].tag == kIntegerTag && t[i + 1].tag == kSequenceTag &&
                          t[i + 2].tag == kSequenceTag && t[i + 3].tag == kSequenceTag &&
                          t[i + 4].tag == kSequenceTag && t[i + 5].tag == kSequenceTag;
  if (cert_shape) {
    auto validity = Children<2>(t[i + 3].content);
    if (validity && validity->second == 2 && IsTime(validity->first[0].tag) &&
        IsTime(validity->first[1].tag)) {
      return std::nullopt;
    }
    return "not an X.509 certificate (bad validity)";
  }
  // tbsCertList: version INTEGER OPTIONAL, AlgorithmIdentifier, Name, thisUpdate Time, ...
  size_t j = (tn > 0 && t[0].tag == kIntegerTag) ? 1 : 0;
  if (tn >= j + 3 && t[j].tag == kSequenceTag && t[j + 1].tag == kSequenceTag &&
      IsTime(t[j + 2].tag)) {
    return "a CRL, not a certificate";
  }
  // CertificationRequestInfo: version INTEGER, Name, SubjectPublicKeyInfo, [0] attributes.
  if (tn == 4 && t[0].tag == kIntegerTag && t[1].tag == kSequenceTag && t[2].tag == kSequenceTag &&
      t[3].tag == kVersionTag) {
    return "a certificate request (CSR), not a certificate";
  }
  return "not an X.509 certificate";
}

}  // namespace certgate::certs::der
