// Certificate facts from DER, PEM splitting, SHA-256 (see certificate.h).
#include "server/certs/certificate.h"

#include <openssl/objects.h>
#include <openssl/pem.h>

#include <climits>
#include <ctime>

#include "server/certs/certificate_internal.h"
#include "server/certs/decoders.h"
#include "server/certs/der.h"
#include "server/certs/openssl_ptr.h"
#include "server/certs/serial.h"
#include "server/certs/text.h"

namespace certgate::certs {
namespace {

constexpr std::string_view kPemBegin = "-----BEGIN ";
constexpr std::string_view kPemDashes = "-----";
constexpr std::string_view kCertificateLabel = "CERTIFICATE";

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

std::string KeyTypeName(const EVP_PKEY* key) {
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
      return "RSA";
    case EVP_PKEY_RSA_PSS:
      return "RSA-PSS";
    case EVP_PKEY_EC:
      return "EC";
    case EVP_PKEY_ED25519:
      return "ED25519";
    case EVP_PKEY_ED448:
      return "ED448";
    case EVP_PKEY_DSA:
      return "DSA";
    default:
      break;
  }
  const char* name = EVP_PKEY_get0_type_name(key);
  return name != nullptr ? text::AsciiLower(name) : std::string("unknown");
}

// Appends the IA5String names of one kind; fails on embedded control characters (a NUL in a
// SAN is a classic way to make two tools read different names).
Status CollectSans(const GENERAL_NAMES* names, std::vector<std::string>& dns,
                   std::vector<std::string>& uri, std::vector<std::string>& email) {
  const int n = sk_GENERAL_NAME_num(names);
  for (int i = 0; i < n; ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
    const ASN1_IA5STRING* s = nullptr;
    std::vector<std::string>* out = nullptr;
    switch (gn->type) {
      case GEN_DNS:
        s = gn->d.dNSName;
        out = &dns;
        break;
      case GEN_URI:
        s = gn->d.uniformResourceIdentifier;
        out = &uri;
        break;
      case GEN_EMAIL:
        s = gn->d.rfc822Name;
        out = &email;
        break;
      default:
        continue;
    }
    if (s == nullptr) return Status::InvalidArgument("certificate: bad subjectAltName entry");
    std::string value(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                      static_cast<size_t>(ASN1_STRING_length(s)));
    for (unsigned char c : value) {
      if (text::IsControl(c)) {
        return Status::InvalidArgument("certificate: control character in subjectAltName");
      }
    }
    out->push_back(std::move(value));
  }
  return Status::Ok();
}

Result<DistinguishedName> NameFacts(const X509_NAME* name, std::string_view which) {
  Result<DistinguishedName> dn = internal::NameFromX509Name(name);
  if (!dn.ok()) {
    return Status::InvalidArgument("certificate: " + std::string(which) + ": " +
                                   dn.status().message());
  }
  return dn;
}

}  // namespace

namespace internal {

std::optional<int64_t> AsnTimeToUnix(const ASN1_TIME* t) {
  if (t == nullptr) return std::nullopt;
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return std::nullopt;
  const int64_t days =
      DaysFromCivil(static_cast<int64_t>(tm.tm_year) + 1900, static_cast<unsigned>(tm.tm_mon + 1),
                    static_cast<unsigned>(tm.tm_mday));
  return days * 86400 + tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
}

std::optional<std::string> SerialFromAsn1(const ASN1_INTEGER* serial) {
  if (serial == nullptr) return std::nullopt;
  ossl::BignumPtr bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (!bn) return std::nullopt;
  ossl::OpensslString hex(BN_bn2hex(bn.get()));
  if (!hex) return std::nullopt;
  Result<std::string> normalized = NormalizeSerial(hex.get(), SerialFormat::kHex);
  if (!normalized.ok()) return std::nullopt;
  return std::move(normalized).value();
}

Result<DistinguishedName> NameFromX509Name(const X509_NAME* name) {
  const unsigned char* der = nullptr;
  size_t der_len = 0;
  if (name == nullptr || X509_NAME_get0_der(name, &der, &der_len) != 1) {
    return Status::InvalidArgument("cannot read the name");
  }
  return ParseDerName(std::string_view(reinterpret_cast<const char*>(der), der_len));
}

}  // namespace internal

std::string Sha256Hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), md, &md_len, EVP_sha256(), nullptr) != 1) {
    // Only an OpenSSL installation without SHA-256 gets here; nothing sensible can continue.
    std::abort();
  }
  return text::HexLower(std::string_view(reinterpret_cast<const char*>(md), md_len));
}

Result<CertificateFacts> ParseCertificate(std::string_view der) {
  ossl::X509Ptr unused;
  return internal::ParseCertificateX509(der, unused);
}

Result<CertificateFacts> internal::ParseCertificateX509(std::string_view der,
                                                        ossl::X509Ptr& x509_out) {
  if (der.empty()) return Status::InvalidArgument("certificate: empty");
  if (der.size() > kMaxCertificateBytes) {
    return Status::InvalidArgument("certificate: larger than 32 KiB");
  }
  if (der.substr(0, kPemBegin.size()) == kPemBegin || der.substr(0, 5) == kPemDashes) {
    return Status::InvalidArgument("certificate: PEM text where DER was expected");
  }
  if (std::optional<std::string> err = der::CheckSingleSequence(der)) {
    return Status::InvalidArgument("certificate: " + *err);
  }
  if (std::optional<std::string> err = der::CheckCertificateShape(der)) {
    return Status::InvalidArgument("certificate: " + *err);
  }
  const auto* start = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* p = start;
  ossl::X509Ptr x509(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!x509) {
    return Status::InvalidArgument("certificate: not an X.509 certificate OpenSSL can decode");
  }
  if (p != start + der.size()) {
    return Status::InvalidArgument("certificate: trailing bytes after the DER certificate");
  }
  {
    unsigned char* enc = nullptr;
    const int enc_len = i2d_X509(x509.get(), &enc);
    ossl::OpensslBytes owned(enc);
    if (enc_len < 0 || static_cast<size_t>(enc_len) != der.size() ||
        std::string_view(reinterpret_cast<const char*>(owned.get()), der.size()) != der) {
      return Status::InvalidArgument("certificate: not in canonical DER");
    }
  }
  X509* x = x509.get();
  // Computes OpenSSL's cached extension flags; EXFLAG_INVALID covers undecodable and duplicate
  // extensions, which RFC 5280 forbids and which verification would reject anyway.
  const uint32_t flags = X509_get_extension_flags(x);
  if ((flags & EXFLAG_INVALID) != 0) {
    return Status::InvalidArgument("certificate: invalid or duplicate extensions");
  }

  CertificateFacts facts;
  facts.der = std::string(der);
  facts.fingerprint_sha256 = Sha256Hex(der);

  Result<DistinguishedName> subject = NameFacts(X509_get_subject_name(x), "subject");
  if (!subject.ok()) return subject.status();
  facts.subject = std::move(subject).value();
  Result<DistinguishedName> issuer = NameFacts(X509_get_issuer_name(x), "issuer");
  if (!issuer.ok()) return issuer.status();
  facts.issuer = std::move(issuer).value();
  facts.self_issued = facts.subject.Canonical() == facts.issuer.Canonical();

  std::optional<std::string> serial = internal::SerialFromAsn1(X509_get0_serialNumber(x));
  if (!serial) return Status::InvalidArgument("certificate: bad serial number");
  facts.serial = std::move(*serial);

  std::optional<int64_t> not_before = internal::AsnTimeToUnix(X509_get0_notBefore(x));
  std::optional<int64_t> not_after = internal::AsnTimeToUnix(X509_get0_notAfter(x));
  if (!not_before || !not_after) return Status::InvalidArgument("certificate: bad validity");
  facts.not_before = *not_before;
  facts.not_after = *not_after;

  {
    int crit = -1;
    ossl::GeneralNamesPtr sans(
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, &crit, nullptr)));
    if (!sans && crit != -1) return Status::InvalidArgument("certificate: bad subjectAltName");
    if (sans) {
      CERTGATE_RETURN_IF_ERROR(
          CollectSans(sans.get(), facts.dns_sans, facts.uri_sans, facts.email_sans));
    }
  }

  facts.is_ca = (flags & EXFLAG_BCONS) != 0 && (flags & EXFLAG_CA) != 0;
  facts.has_eku = (flags & EXFLAG_XKUSAGE) != 0;
  facts.eku_client_auth =
      facts.has_eku && (X509_get_extended_key_usage(x) & (XKU_SSL_CLIENT | XKU_ANYEKU)) != 0;

  const EVP_PKEY* key = X509_get0_pubkey(x);
  if (key == nullptr) return Status::InvalidArgument("certificate: unsupported or bad public key");
  facts.key_type = KeyTypeName(key);
  facts.key_bits = EVP_PKEY_get_bits(key);
  {
    unsigned char* spki = nullptr;
    const int spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki);
    ossl::OpensslBytes owned(spki);
    if (spki_len <= 0) return Status::InvalidArgument("certificate: bad public key");
    facts.spki_sha256 = Sha256Hex(std::string_view(reinterpret_cast<const char*>(owned.get()),
                                                   static_cast<size_t>(spki_len)));
  }
  x509_out = std::move(x509);
  return facts;
}

Result<std::vector<std::string>> SplitPemCertificates(std::string_view pem) {
  auto is_space = [](char c) { return c == ' ' || c == '\r' || c == '\n'; };
  std::vector<std::string> certs;
  size_t pos = 0;
  while (true) {
    while (pos < pem.size() && is_space(pem[pos])) ++pos;
    if (pos == pem.size()) break;
    if (pem.substr(pos, kPemBegin.size()) != kPemBegin) {
      return Status::InvalidArgument("PEM: unexpected text outside a PEM block");
    }
    pos += kPemBegin.size();
    const size_t label_end = pem.find(kPemDashes, pos);
    if (label_end == std::string_view::npos || label_end - pos > 64) {
      return Status::InvalidArgument("PEM: malformed BEGIN line");
    }
    const std::string_view label = pem.substr(pos, label_end - pos);
    if (label != kCertificateLabel) {
      std::string shown;
      for (char c : label) shown.push_back(c >= 0x20 && c < 0x7f ? c : '?');
      return Status::InvalidArgument("PEM: a '" + shown + "' block, expected CERTIFICATE");
    }
    pos = label_end + kPemDashes.size();
    const std::string end_line = "-----END CERTIFICATE-----";
    const size_t end = pem.find(end_line, pos);
    if (end == std::string_view::npos) return Status::InvalidArgument("PEM: missing END line");
    std::string body;
    body.reserve(end - pos);
    for (char c : pem.substr(pos, end - pos)) {
      if (is_space(c)) continue;
      const bool b64 = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                       c == '+' || c == '/' || c == '=';
      if (!b64) return Status::InvalidArgument("PEM: invalid character in the base64 body");
      body.push_back(c);
    }
    pos = end + end_line.size();
    if (certs.size() == kMaxCertificatesPerValue) {
      return Status::InvalidArgument("PEM: more than 10 certificates");
    }
    if (body.size() > (kMaxCertificateBytes / 3 + 1) * 4) {
      return Status::InvalidArgument("PEM: certificate larger than 32 KiB");
    }
    std::optional<std::string> der = Base64Decode(body, /*require_padding=*/true);
    if (!der) return Status::InvalidArgument("PEM: invalid base64 body");
    if (der->empty()) return Status::InvalidArgument("PEM: empty certificate");
    if (der->size() > kMaxCertificateBytes) {
      return Status::InvalidArgument("PEM: certificate larger than 32 KiB");
    }
    std::optional<std::string> err = der::CheckSingleSequence(*der);
    if (!err) err = der::CheckCertificateShape(*der);
    if (err) return Status::InvalidArgument("PEM: " + *err);
    certs.push_back(std::move(*der));
  }
  if (certs.empty()) return Status::InvalidArgument("PEM: no certificate");
  return certs;
}

}  // namespace certgate::certs
