// Property checks and independent encoders for the fuzz targets (see fuzz_support.h).
#include "tests/fuzz/fuzz_support.h"

#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>

#include "server/certs/serial.h"

namespace certgate::fuzz {
namespace {

constexpr char kHexLower[] = "0123456789abcdef";
constexpr char kHexUpper[] = "0123456789ABCDEF";
constexpr size_t kMaxDnTextBytes = 8 * 1024;  // the DN text parsers' documented limit

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// Exactly one DER SEQUENCE (tag 0x30, definite minimal length, nothing after it). Written
// independently of server/certs/der.cc.
bool IsSingleDerSequence(std::string_view der) {
  if (der.size() < 2 || static_cast<unsigned char>(der[0]) != 0x30) return false;
  const auto first = static_cast<unsigned char>(der[1]);
  size_t header = 2;
  size_t length = first;
  if (first & 0x80) {
    const size_t count = first & 0x7f;
    if (count == 0 || count > 4 || der.size() < 2 + count) return false;
    if (static_cast<unsigned char>(der[2]) == 0) return false;
    length = 0;
    for (size_t i = 0; i < count; ++i)
      length = length << 8 | static_cast<unsigned char>(der[2 + i]);
    if (length < 0x80) return false;
    header += count;
  }
  return header + length == der.size();
}

bool IsLowerHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string_view DecodeStatusName(certs::DecodeStatus s) {
  switch (s) {
    case certs::DecodeStatus::kOk:
      return "kOk";
    case certs::DecodeStatus::kMissing:
      return "kMissing";
    case certs::DecodeStatus::kMalformed:
      return "kMalformed";
  }
  return "invalid DecodeStatus";
}

}  // namespace

void Fail(const char* file, int line, const std::string& what) {
  std::fprintf(stderr, "%s:%d: property violated: %s\n", file, line, what.c_str());
  std::fflush(stderr);
  std::abort();
}

std::string Printable(std::string_view bytes, size_t max_len) {
  std::string out;
  for (size_t i = 0; i < bytes.size() && i < max_len; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(kHexLower[c >> 4]);
      out.push_back(kHexLower[c & 15]);
    }
  }
  if (bytes.size() > max_len) out += "...(" + std::to_string(bytes.size()) + " bytes)";
  return out;
}

std::string Sha256Hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr) != 1) {
    Fail(__FILE__, __LINE__, "EVP_Digest(SHA-256) failed");
  }
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHexLower[md[i] >> 4]);
    out.push_back(kHexLower[md[i] & 15]);
  }
  return out;
}

std::string Base64(std::string_view bytes, bool pad) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = acc << 8 | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 63]);
  if (pad) {
    while (out.size() % 4 != 0) out.push_back('=');
  }
  return out;
}

std::string PercentEncode(std::string_view bytes, std::string_view keep) {
  std::string out;
  out.reserve(bytes.size() * 3);
  for (unsigned char c : bytes) {
    if (IsUnreserved(c) || (c != 0 && keep.find(static_cast<char>(c)) != std::string_view::npos)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHexUpper[c >> 4]);
      out.push_back(kHexUpper[c & 15]);
    }
  }
  return out;
}

std::string QueryEscape(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) {
    if (c == ' ') {
      out.push_back('+');
    } else if (IsUnreserved(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHexUpper[c >> 4]);
      out.push_back(kHexUpper[c & 15]);
    }
  }
  return out;
}

std::string Pem(std::string_view der) {
  const std::string body = Base64(der);
  std::string out = "-----BEGIN CERTIFICATE-----\n";
  for (size_t i = 0; i < body.size(); i += 64) {
    out += body.substr(i, 64);
    out.push_back('\n');
  }
  out += "-----END CERTIFICATE-----\n";
  return out;
}

std::optional<EncodedHeader> EncodeHeader(certs::Encoding encoding,
                                          const std::vector<std::string>& ders, int variant) {
  using certs::Encoding;
  if (ders.empty() || ders.size() > certs::kMaxCertificatesPerValue) return std::nullopt;
  const bool single = ders.size() == 1;
  std::string all_pem;
  for (const std::string& der : ders) all_pem += Pem(der);
  EncodedHeader out;
  switch (encoding) {
    case Encoding::kUrlPem:
      if (!single) return std::nullopt;
      out.value = PercentEncode(all_pem);
      break;
    case Encoding::kUrlPemAws:
      out.value = PercentEncode(all_pem, variant != 0 ? "+/=" : "");
      break;
    case Encoding::kXfcc:
      // Envoy's order: By, Hash, Cert, Chain, Subject, URI, DNS.
      out.value = "By=spiffe://certgate.test/ns/edge;Hash=" + Sha256Hex(ders[0]) + ";Cert=\"" +
                  PercentEncode(Pem(ders[0])) + "\"";
      if (!single) out.value += ";Chain=\"" + PercentEncode(all_pem) + "\"";
      if (variant != 0) {
        // Envoy writes the subject's RFC 2253 text between quotes as is.
        Result<certs::CertificateFacts> facts = certs::ParseCertificate(ders[0]);
        if (facts.ok()) out.value += ";Subject=\"" + facts->subject.ToRfc4514() + "\"";
        out.value += ";URI=spiffe://example.org/client;DNS=a.example;DNS=b.example";
      }
      break;
    case Encoding::kBase64Der:
      if (!single) return std::nullopt;
      out.value = Base64(ders[0]);
      break;
    case Encoding::kRfc9440:
      out.value = ":" + Base64(ders[0], variant == 0) + ":";
      if (variant != 0) out.value += ";v=1;x=?0";
      for (size_t i = 1; i < ders.size(); ++i) {
        if (i > 1) out.chain_value += ", ";
        out.chain_value += ":" + Base64(ders[i], variant == 0) + ":";
      }
      break;
    case Encoding::kTraefik:
      for (size_t i = 0; i < ders.size(); ++i) {
        if (i > 0) out.value.push_back(',');
        out.value += variant != 0 ? QueryEscape(Base64(ders[i])) : Base64(ders[i]);
      }
      break;
    case Encoding::kNginxLegacy: {
      if (!single) return std::nullopt;
      // nginx: every line break but the last becomes LF TAB, the final LF is dropped. Apache
      // (variant 1) turns the line breaks into spaces.
      std::string pem = all_pem;
      pem.pop_back();
      for (char c : pem) {
        if (c != '\n') {
          out.value.push_back(c);
        } else {
          out.value += variant != 0 ? " " : "\n\t";
        }
      }
      break;
    }
  }
  return out;
}

bool StrictDecode() {
  static const bool strict = [] {
    const char* v = std::getenv("CERTGATE_FUZZ_STRICT_DECODE");
    return v != nullptr && std::string_view(v) == "1";
  }();
  return strict;
}

void CheckDnRoundTrip(const certs::DistinguishedName& dn, std::string_view origin) {
  const std::string where(origin);
  const std::string text = dn.ToRfc4514();
  if (dn.empty()) {
    FUZZ_CHECK(text.empty(), where + ": empty name printed as " + Printable(text));
    return;
  }
  if (text.size() > kMaxDnTextBytes) return;
  Result<certs::DistinguishedName> again = certs::ParseRfc4514(text);
  FUZZ_CHECK(again.ok(), where + ": ToRfc4514() text does not parse: " + Printable(text) + ": " +
                             again.status().message());
  FUZZ_CHECK(again->Canonical() == dn.Canonical(),
             where + ": canonical form changed: " + Printable(dn.Canonical()) + " -> " +
                 Printable(again->Canonical()) + " via " + Printable(text));
  FUZZ_CHECK(again->ToRfc4514() == text,
             where + ": display text is not a fixed point: " + Printable(text) + " -> " +
                 Printable(again->ToRfc4514()));
  // The subject+serial path reads DN text with ParseDnString: it must agree.
  Result<certs::DistinguishedName> via_string = certs::ParseDnString(text);
  FUZZ_CHECK(via_string.ok(), where + ": ParseDnString rejects ToRfc4514() text " +
                                  Printable(text) + ": " + via_string.status().message());
  FUZZ_CHECK(via_string->Canonical() == dn.Canonical(),
             where + ": ParseDnString canonical form differs for " + Printable(text));
}

void CheckCertificateFacts(std::string_view der, const certs::CertificateFacts& facts) {
  FUZZ_CHECK(facts.der == der, "facts.der is not the parsed bytes");
  const std::string fingerprint = Sha256Hex(der);
  FUZZ_CHECK(facts.fingerprint_sha256 == fingerprint,
             "fingerprint " + facts.fingerprint_sha256 + " is not SHA-256(der) " + fingerprint);
  FUZZ_CHECK(IsLowerHex64(facts.spki_sha256), "bad spki_sha256 " + Printable(facts.spki_sha256));
  Result<std::string> serial = certs::NormalizeSerial(facts.serial, certs::SerialFormat::kHex);
  FUZZ_CHECK(serial.ok() && *serial == facts.serial,
             "certificate serial " + Printable(facts.serial) + " is not normalised");
  CheckDnRoundTrip(facts.subject, "certificate subject");
  CheckDnRoundTrip(facts.issuer, "certificate issuer");
  FUZZ_CHECK(facts.self_issued == (facts.subject.Canonical() == facts.issuer.Canonical()),
             "self_issued disagrees with the canonical names");
  Result<std::vector<std::string>> split = certs::SplitPemCertificates(Pem(der));
  FUZZ_CHECK(split.ok() && split->size() == 1 && split->front() == der,
             "PEM of an accepted certificate does not split back to its DER" +
                 (split.ok() ? std::string() : ": " + split.status().message()));
}

void CheckDecoded(certs::Encoding encoding, const certs::DecodedChain& decoded) {
  using certs::DecodeStatus;
  using certs::Encoding;
  const std::string name(certs::EncodingName(encoding));
  if (decoded.status != DecodeStatus::kOk) {
    FUZZ_CHECK(
        decoded.status == DecodeStatus::kMissing || decoded.status == DecodeStatus::kMalformed,
        name + ": invalid status");
    FUZZ_CHECK(decoded.certs.empty(), name + ": a rejection carries certificates");
    FUZZ_CHECK(!decoded.message.empty(), name + ": a rejection without a message");
    return;
  }
  const size_t n = decoded.certs.size();
  FUZZ_CHECK(n >= 1 && n <= certs::kMaxCertificatesPerValue,
             name + ": " + std::to_string(n) + " certificates");
  const bool single = encoding == Encoding::kUrlPem || encoding == Encoding::kBase64Der ||
                      encoding == Encoding::kNginxLegacy;
  FUZZ_CHECK(!single || n == 1, name + ": more than one certificate");
  for (size_t i = 0; i < n; ++i) {
    const std::string& der = decoded.certs[i];
    const std::string which = name + " certificate " + std::to_string(i);
    FUZZ_CHECK(der.size() <= certs::kMaxCertificateBytes, which + " larger than 32 KiB");
    FUZZ_CHECK(IsSingleDerSequence(der), which + " is not one DER SEQUENCE: " + Printable(der));
    Result<certs::CertificateFacts> facts = certs::ParseCertificate(der);
    if (facts.ok()) {
      CheckCertificateFacts(der, *facts);
    } else {
      FUZZ_CHECK(!StrictDecode(), which + " is rejected by ParseCertificate (strict mode): " +
                                      facts.status().message());
    }
  }
  for (int variant = 0; variant < 2; ++variant) {
    std::optional<EncodedHeader> encoded = EncodeHeader(encoding, decoded.certs, variant);
    // Every encoding carries 1..10 certificates except the single-certificate ones (n == 1 here).
    FUZZ_CHECK(encoded.has_value(), name + ": cannot re-encode the decoded certificates");
    if (encoded->value.size() > certs::kMaxHeaderValueBytes ||
        encoded->chain_value.size() > certs::kMaxHeaderValueBytes) {
      continue;  // the canonical form of what was sent compactly may exceed the value limit
    }
    const certs::DecodedChain again =
        certs::DecodeHeader(encoding, encoded->value, encoded->chain_value);
    FUZZ_CHECK(again.status == DecodeStatus::kOk,
               name + " variant " + std::to_string(variant) + ": re-encoded value " +
                   Printable(encoded->value) + " decodes to " +
                   std::string(DecodeStatusName(again.status)) + ": " + again.message);
    FUZZ_CHECK(again.certs == decoded.certs, name + " variant " + std::to_string(variant) +
                                                 ": re-encoded value decodes to other bytes");
  }
}

}  // namespace certgate::fuzz
