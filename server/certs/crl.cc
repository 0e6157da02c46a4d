// CRL parsing and signature verification (see crl.h).
#include "server/certs/crl.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <unordered_set>

#include "server/certs/certificate_internal.h"
#include "server/certs/decoders.h"
#include "server/certs/der.h"
#include "server/certs/openssl_ptr.h"
#include "server/certs/text.h"

namespace certgate::certs {
namespace {

using IssuingDistPointPtr =
    std::unique_ptr<ISSUING_DIST_POINT, ossl::internal::Deleter<ISSUING_DIST_POINT_free>>;
using AuthorityKeyIdPtr =
    std::unique_ptr<AUTHORITY_KEYID, ossl::internal::Deleter<AUTHORITY_KEYID_free>>;

constexpr std::string_view kPemCrlBegin = "-----BEGIN X509 CRL-----";
constexpr std::string_view kPemCrlEnd = "-----END X509 CRL-----";

// The DER of a PEM "X509 CRL" block (exactly one, nothing but whitespace around it).
Result<std::string> PemToDer(std::string_view pem) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  size_t start = 0;
  while (start < pem.size() && is_space(pem[start])) ++start;
  size_t end = pem.size();
  while (end > start && is_space(pem[end - 1])) --end;
  std::string_view block = pem.substr(start, end - start);
  if (block.substr(0, kPemCrlBegin.size()) != kPemCrlBegin ||
      block.size() < kPemCrlBegin.size() + kPemCrlEnd.size() ||
      block.substr(block.size() - kPemCrlEnd.size()) != kPemCrlEnd) {
    return Status::InvalidArgument("CRL: expected one PEM 'X509 CRL' block");
  }
  std::string_view body =
      block.substr(kPemCrlBegin.size(), block.size() - kPemCrlBegin.size() - kPemCrlEnd.size());
  std::string b64;
  b64.reserve(body.size());
  for (char c : body) {
    if (is_space(c)) continue;
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '+' || c == '/' || c == '=';
    if (!ok) return Status::InvalidArgument("CRL: invalid character in the PEM body");
    b64.push_back(c);
  }
  std::optional<std::string> der = Base64Decode(b64, /*require_padding=*/true);
  if (!der || der->empty()) return Status::InvalidArgument("CRL: invalid base64 in the PEM body");
  return std::move(*der);
}

Result<int> ReasonOf(const X509_REVOKED* entry) {
  int crit = -1;
  ossl::Asn1StringPtr reason(
      static_cast<ASN1_STRING*>(X509_REVOKED_get_ext_d2i(entry, NID_crl_reason, &crit, nullptr)));
  if (!reason) {
    if (crit != -1) return Status::InvalidArgument("CRL: unreadable reasonCode in an entry");
    return 0;
  }
  const long code = ASN1_ENUMERATED_get(reason.get());
  if (code < 0 || code > 10 || code == 7) {
    return Status::InvalidArgument("CRL: entry reasonCode " + std::to_string(code) +
                                   " is not an RFC 5280 CRLReason");
  }
  if (code == 8) {
    return Status::InvalidArgument("CRL: removeFromCRL entries belong in delta CRLs");
  }
  return static_cast<int>(code);
}

// Entry extensions we understand; a critical one we do not (or certificateIssuer: indirect
// CRL) makes the CRL unusable.
Status CheckEntryExtensions(const X509_REVOKED* entry) {
  const STACK_OF(X509_EXTENSION)* exts = X509_REVOKED_get0_extensions(entry);
  for (int i = 0; i < sk_X509_EXTENSION_num(exts); ++i) {
    X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts, i);
    const int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));
    if (nid == NID_certificate_issuer) {
      return Status::InvalidArgument(
          "CRL: indirect CRLs (certificateIssuer entries) are not supported");
    }
    const bool known =
        nid == NID_crl_reason || nid == NID_invalidity_date || nid == NID_hold_instruction_code;
    if (!known && X509_EXTENSION_get_critical(ext)) {
      return Status::InvalidArgument("CRL: unknown critical entry extension");
    }
  }
  return Status::Ok();
}

Status CheckCrlExtensions(const X509_CRL* crl) {
  const STACK_OF(X509_EXTENSION)* exts = X509_CRL_get0_extensions(crl);
  for (int i = 0; i < sk_X509_EXTENSION_num(exts); ++i) {
    X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts, i);
    const int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));
    if (nid == NID_delta_crl) {
      return Status::InvalidArgument("CRL: delta CRLs are not supported; import a complete CRL");
    }
    const bool known = nid == NID_crl_number || nid == NID_authority_key_identifier ||
                       nid == NID_issuing_distribution_point || nid == NID_freshest_crl ||
                       nid == NID_info_access;
    if (!known && X509_EXTENSION_get_critical(ext)) {
      return Status::InvalidArgument("CRL: unknown critical CRL extension");
    }
  }
  int crit = -1;
  IssuingDistPointPtr idp(static_cast<ISSUING_DIST_POINT*>(
      X509_CRL_get_ext_d2i(crl, NID_issuing_distribution_point, &crit, nullptr)));
  if (!idp && crit != -1) {
    return Status::InvalidArgument("CRL: unreadable issuingDistributionPoint");
  }
  if (idp) {
    if (idp->indirectCRL) {
      return Status::InvalidArgument("CRL: indirect CRLs are not supported");
    }
    if (idp->onlyuser || idp->onlyCA || idp->onlyattr || idp->onlysomereasons) {
      return Status::InvalidArgument(
          "CRL: its issuingDistributionPoint limits its scope (only some certificates or reasons); "
          "import a complete CRL");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<CrlFacts> ParseCrl(std::string_view input) {
  if (input.empty()) return Status::InvalidArgument("CRL: empty");
  if (input.size() > kMaxCrlBytes * 2) return Status::InvalidArgument("CRL: too large");
  std::string der;
  if (input.find("-----BEGIN") != std::string_view::npos) {
    Result<std::string> decoded = PemToDer(input);
    if (!decoded.ok()) return decoded.status();
    der = std::move(decoded).value();
  } else {
    der = std::string(input);
  }
  if (der.size() > kMaxCrlBytes) return Status::InvalidArgument("CRL: larger than 64 MiB");
  if (std::optional<std::string> err = der::CheckSingleSequence(der)) {
    return Status::InvalidArgument("CRL: " + *err);
  }
  if (!der::CheckCertificateShape(der)) {
    return Status::InvalidArgument("CRL: this is a certificate, not a CRL");
  }
  const auto* start = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* p = start;
  ossl::X509CrlPtr crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())));
  ERR_clear_error();
  if (!crl) return Status::InvalidArgument("CRL: not a CRL OpenSSL can decode");
  if (p != start + der.size()) return Status::InvalidArgument("CRL: trailing bytes");
  {
    unsigned char* enc = nullptr;
    const int enc_len = i2d_X509_CRL(crl.get(), &enc);
    ossl::OpensslBytes owned(enc);
    if (enc_len < 0 || static_cast<size_t>(enc_len) != der.size() ||
        std::string_view(reinterpret_cast<const char*>(owned.get()), der.size()) != der) {
      return Status::InvalidArgument("CRL: not in canonical DER");
    }
  }
  CERTGATE_RETURN_IF_ERROR(CheckCrlExtensions(crl.get()));

  CrlFacts facts;
  Result<DistinguishedName> issuer = internal::NameFromX509Name(X509_CRL_get_issuer(crl.get()));
  if (!issuer.ok()) return Status::InvalidArgument("CRL: issuer: " + issuer.status().message());
  if (issuer->empty()) return Status::InvalidArgument("CRL: empty issuer name");
  facts.issuer = std::move(issuer).value();

  std::optional<int64_t> this_update = internal::AsnTimeToUnix(X509_CRL_get0_lastUpdate(crl.get()));
  if (!this_update) return Status::InvalidArgument("CRL: bad thisUpdate");
  facts.this_update = *this_update;
  if (const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl.get())) {
    std::optional<int64_t> next_update = internal::AsnTimeToUnix(next);
    if (!next_update) return Status::InvalidArgument("CRL: bad nextUpdate");
    if (*next_update < facts.this_update) {
      return Status::InvalidArgument("CRL: nextUpdate is before thisUpdate");
    }
    facts.next_update = *next_update;
  }
  {
    int crit = -1;
    ossl::Asn1StringPtr number(
        static_cast<ASN1_STRING*>(X509_CRL_get_ext_d2i(crl.get(), NID_crl_number, &crit, nullptr)));
    if (!number && crit != -1) return Status::InvalidArgument("CRL: unreadable cRLNumber");
    if (number) {
      std::optional<std::string> n = internal::SerialFromAsn1(number.get());
      if (!n || (*n)[0] == '-') return Status::InvalidArgument("CRL: bad cRLNumber");
      facts.crl_number = std::move(*n);
    }
  }
  {
    int crit = -1;
    AuthorityKeyIdPtr akid(static_cast<AUTHORITY_KEYID*>(
        X509_CRL_get_ext_d2i(crl.get(), NID_authority_key_identifier, &crit, nullptr)));
    if (!akid && crit != -1)
      return Status::InvalidArgument("CRL: unreadable authorityKeyIdentifier");
    if (akid && akid->keyid != nullptr) {
      facts.authority_key_id = text::HexLower(
          std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(akid->keyid)),
                           static_cast<size_t>(ASN1_STRING_length(akid->keyid))));
    }
  }

  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl.get());
  const int n = sk_X509_REVOKED_num(revoked);
  facts.entries.reserve(n > 0 ? static_cast<size_t>(n) : 0);
  std::unordered_set<std::string> seen;
  seen.reserve(n > 0 ? static_cast<size_t>(n) : 0);
  for (int i = 0; i < n; ++i) {
    const X509_REVOKED* entry = sk_X509_REVOKED_value(revoked, i);
    CERTGATE_RETURN_IF_ERROR(CheckEntryExtensions(entry));
    CrlEntryFacts e;
    std::optional<std::string> serial =
        internal::SerialFromAsn1(X509_REVOKED_get0_serialNumber(entry));
    if (!serial) return Status::InvalidArgument("CRL: bad serial number in an entry");
    e.serial = std::move(*serial);
    std::optional<int64_t> date = internal::AsnTimeToUnix(X509_REVOKED_get0_revocationDate(entry));
    if (!date) return Status::InvalidArgument("CRL: bad revocationDate in an entry");
    e.revocation_date = *date;
    Result<int> reason = ReasonOf(entry);
    if (!reason.ok()) return reason.status();
    e.reason = *reason;
    if (!seen.insert(e.serial).second) {
      return Status::InvalidArgument("CRL: serial " + e.serial + " is listed twice");
    }
    facts.entries.push_back(std::move(e));
  }
  facts.fingerprint_sha256 = Sha256Hex(der);
  facts.der = std::move(der);
  return facts;
}

Status VerifyCrlSignature(const CrlFacts& crl, const CertificateFacts& issuer) {
  const std::string who = "'" + issuer.subject.ToRfc4514() + "'";
  if (issuer.subject.Canonical() != crl.issuer.Canonical()) {
    return Status::InvalidArgument("the CRL's issuer '" + crl.issuer.ToRfc4514() +
                                   "' is not the certificate " + who);
  }
  if (!issuer.is_ca) return Status::InvalidArgument(who + " is not a CA certificate");
  ossl::X509Ptr x;
  Result<CertificateFacts> reparsed = internal::ParseCertificateX509(issuer.der, x);
  if (!reparsed.ok()) return Status::InvalidArgument("issuer: " + reparsed.status().message());
  if ((X509_get_extension_flags(x.get()) & EXFLAG_KUSAGE) != 0 &&
      (X509_get_key_usage(x.get()) & KU_CRL_SIGN) == 0) {
    return Status::InvalidArgument(who + " may not sign CRLs (its keyUsage lacks cRLSign)");
  }
  if (!crl.authority_key_id.empty()) {
    const ASN1_OCTET_STRING* skid = X509_get0_subject_key_id(x.get());
    if (skid != nullptr) {
      const std::string skid_hex = text::HexLower(
          std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(skid)),
                           static_cast<size_t>(ASN1_STRING_length(skid))));
      if (skid_hex != crl.authority_key_id) {
        return Status::InvalidArgument("the CRL's authority key identifier is not the key of " +
                                       who);
      }
    }
  }
  const auto* p = reinterpret_cast<const unsigned char*>(crl.der.data());
  ossl::X509CrlPtr decoded(d2i_X509_CRL(nullptr, &p, static_cast<long>(crl.der.size())));
  if (!decoded) {
    ERR_clear_error();
    return Status::InvalidArgument("CRL: cannot decode");
  }
  EVP_PKEY* key = X509_get0_pubkey(x.get());
  const int ok = key != nullptr ? X509_CRL_verify(decoded.get(), key) : -1;
  ERR_clear_error();
  if (ok != 1) {
    return Status::InvalidArgument("the CRL's signature does not verify with the key of " + who);
  }
  return Status::Ok();
}

}  // namespace certgate::certs
