// CRL import (see crl_import.h).
#include "server/authz/crl_import.h"

#include <string>
#include <vector>

#include "server/certs/certificate.h"
#include "server/certs/crl.h"

namespace certgate::authz {
namespace {

// The DER of a certificate given as PEM (exactly one) or DER.
Result<std::string> CertificateDer(std::string_view text) {
  if (text.find("-----BEGIN") != std::string_view::npos) {
    Result<std::vector<std::string>> certs = certs::SplitPemCertificates(text);
    if (!certs.ok()) return certs.status();
    if (certs->size() != 1) return Status::InvalidArgument("give exactly one issuer certificate");
    return std::move(certs->front());
  }
  return std::string(text);
}

}  // namespace

Result<store::CrlInfo> ImportCrl(store::Store& store, certs::Validator& validator,
                                 const Clock& clock, std::string_view crl_text,
                                 std::string_view issuer_certificate) {
  Result<certs::CrlFacts> crl = certs::ParseCrl(crl_text);
  if (!crl.ok()) return crl.status();
  const std::string issuer_display = crl->issuer.ToRfc4514();
  if (crl->crl_number.empty()) {
    return Status::InvalidArgument("the CRL of '" + issuer_display +
                                   "' has no cRLNumber; certgate orders CRLs by it");
  }

  const std::shared_ptr<const certs::TrustStore> trust = validator.trust_store();
  std::vector<certs::CertificateFacts> candidates;
  for (const certs::CertificateFacts* c : trust->FindBySubject(crl->issuer.Canonical())) {
    candidates.push_back(*c);
  }
  if (!issuer_certificate.empty()) {
    Result<std::string> der = CertificateDer(issuer_certificate);
    if (!der.ok()) return Status::InvalidArgument("issuer certificate: " + der.status().message());
    Result<certs::CertificateFacts> given = certs::ParseCertificate(*der);
    if (!given.ok()) {
      return Status::InvalidArgument("issuer certificate: " + given.status().message());
    }
    if (trust->has_anchors()) {
      certs::Validation chained = certs::VerifyChain(*trust, {*der}, clock.NowSeconds());
      if (chained.outcome != certs::Validation::Outcome::kOk) {
        return Status::FailedPrecondition(
            "the given issuer certificate '" + given->subject.ToRfc4514() +
            "' does not chain to the trust anchors: " + chained.message);
      }
    }
    candidates.push_back(std::move(given).value());
  }
  if (candidates.empty()) {
    return Status::FailedPrecondition(
        "no certificate of the CRL's issuer '" + issuer_display +
        "' is configured (trust.ca_files / trust.intermediate_files); give it with the import");
  }
  Status verified = Status::InvalidArgument("no candidate");
  for (const certs::CertificateFacts& issuer : candidates) {
    verified = certs::VerifyCrlSignature(*crl, issuer);
    if (verified.ok()) break;
  }
  if (!verified.ok()) {
    return Status::InvalidArgument("the CRL is not signed by its issuer: " + verified.message());
  }

  store::CrlInfo info;
  info.issuer_canonical = crl->issuer.Canonical();
  info.issuer_display = issuer_display;
  info.crl_number = crl->crl_number;
  info.this_update = crl->this_update;
  info.next_update = crl->next_update;
  info.fingerprint_sha256 = crl->fingerprint_sha256;
  std::vector<store::CrlEntry> entries;
  entries.reserve(crl->entries.size());
  for (const certs::CrlEntryFacts& e : crl->entries) {
    store::CrlEntry entry;
    entry.issuer_canonical = info.issuer_canonical;
    entry.serial = e.serial;
    entry.reason = static_cast<store::RevocationReason>(e.reason);
    entry.revocation_date = e.revocation_date;
    entries.push_back(std::move(entry));
  }
  info.der = std::move(crl->der);
  Result<store::CrlInfo> stored = store.ImportCrl(info, entries);
  if (!stored.ok()) return stored.status();
  // Revocation is never cached, but cached validations are dropped anyway so that nothing
  // computed before the import outlives it.
  validator.InvalidateCache();
  return stored;
}

}  // namespace certgate::authz
