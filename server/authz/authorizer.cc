#include "server/authz/authorizer.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "server/authz/audit_event.h"
#include "server/certs/certificate.h"
#include "server/certs/decoders.h"
#include "server/certs/dn.h"
#include "server/common/net.h"

namespace certgate::authz {
namespace {

Decision Deny(Decision d, Reason reason, std::string message) {
  d.allowed = false;
  d.reason = reason;
  d.message = std::move(message);
  if (d.tracing)
    d.trace.push_back("decide: deny " + std::string(ReasonName(reason)) + ": " + d.message);
  return d;
}

CertificateSummary Summarize(const certs::CertificateFacts& f) {
  CertificateSummary s;
  s.fingerprint_sha256 = f.fingerprint_sha256;
  s.subject = f.subject.ToRfc4514();
  s.issuer = f.issuer.ToRfc4514();
  s.serial = f.serial;
  s.not_before = f.not_before;
  s.not_after = f.not_after;
  s.dns_sans = f.dns_sans;
  s.uri_sans = f.uri_sans;
  s.email_sans = f.email_sans;
  return s;
}

CertificateSummary Summarize(const store::EnrolledCertificate& c) {
  CertificateSummary s;
  s.fingerprint_sha256 = c.fingerprint_sha256;
  s.subject = c.subject_display;
  s.issuer = c.issuer_display;
  s.serial = c.serial;
  s.not_before = c.not_before;
  s.not_after = c.not_after;
  return s;
}

std::string AsciiLower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// The format name a header credential uses ("xfcc" or the preset name), for forwarder rules.
std::string FormatName(const Credential& c) { return c.preset.empty() ? c.encoding : c.preset; }

}  // namespace

DecodedCredential DecodeCredential(const Credential& cred, const certs::DecodeOptions& options) {
  DecodedCredential out;
  auto fail = [&](Reason r, std::string m) {
    out.ok = false;
    out.reason = r;
    out.message = std::move(m);
    out.chain.clear();
    return out;
  };
  switch (cred.kind) {
    case Credential::Kind::kDer:
      if (cred.der.empty()) return fail(Reason::kCertificateMissing, "empty certificate");
      if (cred.chain_der.size() + 1 > certs::kMaxCertificatesPerValue) {
        return fail(Reason::kCertificateMalformed, "too many chain certificates");
      }
      out.chain.push_back(cred.der);
      out.chain.insert(out.chain.end(), cred.chain_der.begin(), cred.chain_der.end());
      out.description = "DER, " + std::to_string(out.chain.size()) + " certificate(s)";
      break;
    case Credential::Kind::kPem: {
      if (cred.pem.find_first_not_of(" \t\r\n") == std::string::npos) {
        return fail(Reason::kCertificateMissing, "empty PEM");
      }
      auto split = certs::SplitPemCertificates(cred.pem);
      if (!split.ok()) return fail(Reason::kCertificateMalformed, split.status().message());
      out.chain = std::move(*split);
      out.description = "PEM, " + std::to_string(out.chain.size()) + " certificate(s)";
      break;
    }
    case Credential::Kind::kHeader: {
      std::optional<certs::Encoding> enc = cred.preset.empty()
                                               ? certs::ParseEncodingName(cred.encoding)
                                               : certs::EncodingForPreset(cred.preset);
      if (!enc) {
        return fail(Reason::kCertificateMalformed,
                    "unknown encoding or preset '" + FormatName(cred).substr(0, 64) + "'");
      }
      certs::DecodedChain decoded =
          certs::DecodeHeader(*enc, cred.header_value, cred.chain_value, options);
      if (decoded.status == certs::DecodeStatus::kMissing) {
        return fail(Reason::kCertificateMissing,
                    decoded.message.empty() ? "no certificate" : decoded.message);
      }
      if (decoded.status != certs::DecodeStatus::kOk) {
        return fail(Reason::kCertificateMalformed,
                    std::string(certs::EncodingName(*enc)) + ": " + decoded.message);
      }
      out.chain = std::move(decoded.certs);
      out.description = std::string(certs::EncodingName(*enc)) + " value, " +
                        std::to_string(out.chain.size()) + " certificate(s)";
      break;
    }
    case Credential::Kind::kNone:
      return fail(Reason::kCertificateMissing, "the request carries no credential");
    case Credential::Kind::kSubjectSerial:
      return fail(Reason::kCertificateMissing,
                  "a subject+serial credential carries no certificate");
  }
  if (out.chain.empty()) return fail(Reason::kCertificateMissing, "no certificate");
  out.ok = true;
  return out;
}

Authorizer::Authorizer(Deps deps, AuthorizerOptions options)
    : deps_(deps), options_(std::move(options)) {
  if (deps_.validator == nullptr) {
    own_validator_ = std::make_unique<certs::Validator>(certs::TrustStore::Empty());
  }
  for (const config::ForwarderConfig& f : options_.forwarders) {
    Forwarder compiled;
    compiled.config = &f;
    for (const std::string& fp : f.fingerprints) {
      // config::Validate rejected bad entries; one that slipped through never matches.
      if (std::optional<std::string> n = config::NormalizeFingerprint(fp)) {
        compiled.fingerprints.insert(*n);
      }
    }
    for (const std::string& dn : f.subjects) {
      if (Result<certs::DistinguishedName> parsed = certs::ParseDnString(dn);
          parsed.ok() && !parsed->empty()) {
        compiled.subjects.insert(parsed->Canonical());
      }
    }
    for (const std::string& san : f.sans) {
      if (san.find(':') == std::string::npos) {
        compiled.dns_sans.push_back(AsciiLower(san));
      } else {
        compiled.uri_sans.push_back(san);
      }
    }
    forwarders_.push_back(std::move(compiled));
  }
  crl_required_issuers_.insert(options_.crl_required_issuers.begin(),
                               options_.crl_required_issuers.end());
}

bool Authorizer::Forwarder::MatchesIdentity(const certs::CertificateFacts& caller) const {
  if (fingerprints.count(caller.fingerprint_sha256)) return true;
  if (subjects.count(caller.subject.Canonical())) return true;
  for (const std::string& dns : caller.dns_sans) {
    if (std::find(dns_sans.begin(), dns_sans.end(), AsciiLower(dns)) != dns_sans.end()) return true;
  }
  for (const std::string& uri : caller.uri_sans) {
    if (std::find(uri_sans.begin(), uri_sans.end(), uri) != uri_sans.end()) return true;
  }
  return false;
}

std::optional<Decision> Authorizer::CheckForwarder(const AuthorizeInput& input, Decision& d,
                                                   int64_t now) {
  const Credential& cred = input.credential;
  const std::string format =
      cred.kind == Credential::Kind::kHeader ? FormatName(cred) : "subject-serial";
  const net::Peer peer = net::ParseGrpcPeer(input.caller_peer);
  // The caller's certificate is parsed (through the cache) only if some forwarder needs it.
  std::shared_ptr<const certs::Validation> caller;
  bool caller_parsed = false;
  const Forwarder* match = nullptr;
  for (const Forwarder& f : forwarders_) {
    const auto& addresses = f.config->addresses;
    if (!addresses.empty() &&
        std::none_of(addresses.begin(), addresses.end(),
                     [&](const std::string& a) { return net::PeerMatches(peer, a); })) {
      continue;
    }
    if (f.by_identity()) {
      if (!caller_parsed) {
        caller_parsed = true;
        if (!input.caller_certificate_der.empty()) {
          caller = validator().ParseOnly(input.caller_certificate_der, now);
          if (caller->outcome != certs::Validation::Outcome::kOk) caller.reset();
        }
      }
      if (!caller || !f.MatchesIdentity(caller->leaf())) continue;
    }
    match = &f;
    break;
  }
  std::string who = "caller " + input.caller_peer;
  if (caller) who += " (TLS client certificate '" + caller->leaf().subject.ToRfc4514() + "')";
  if (!match) {
    return Deny(std::move(d), Reason::kForwarderNotTrusted,
                who + " is not a configured certificate forwarder");
  }
  const config::ForwarderConfig& f = *match->config;
  if (d.tracing) d.trace.push_back("trust: " + who + " is forwarder '" + f.name + "'");
  if (cred.kind == Credential::Kind::kSubjectSerial && !f.allow_subject_serial) {
    return Deny(std::move(d), Reason::kForwarderNotTrusted,
                "forwarder '" + f.name + "' may not forward subject+serial credentials");
  }
  if (cred.kind == Credential::Kind::kHeader && !f.encodings.empty() &&
      std::find(f.encodings.begin(), f.encodings.end(), format) == f.encodings.end()) {
    return Deny(std::move(d), Reason::kForwarderNotTrusted,
                "forwarder '" + f.name + "' may not use encoding '" + format + "'");
  }
  if (!f.require_verification.empty() && cred.verification != f.require_verification) {
    return Deny(std::move(d), Reason::kProxyVerificationFailed,
                "proxy verification is '" + cred.verification.substr(0, 64) + "', expected '" +
                    f.require_verification + "'");
  }
  return std::nullopt;
}

Result<std::optional<Decision>> Authorizer::CheckCrl(const std::string& issuer_canonical,
                                                     const std::string& serial,
                                                     const std::string& what, Decision& d,
                                                     int64_t now) {
  using Denial = std::optional<Decision>;
  auto info = deps_.store.GetCrlInfo(issuer_canonical);
  if (!info.ok()) return info.status();
  const bool required = crl_required_issuers_.count(issuer_canonical) > 0;
  if (!info->has_value()) {
    if (!required) return Denial();
    // Not a revocation (nothing says the certificate is revoked): the issuer cannot be trusted
    // without its CRL, so UNTRUSTED_ISSUER.
    return Denial(
        Deny(std::move(d), Reason::kUntrustedIssuer,
             "the issuer of " + what +
                 " requires an imported CRL (crl.required_issuers) and none is imported"));
  }
  const store::CrlInfo& crl = **info;
  if (crl.next_update != 0 && now > crl.next_update) {
    const std::string stale = "the CRL of '" + crl.issuer_display + "' (number " + crl.crl_number +
                              ") was due for renewal at " + std::to_string(crl.next_update) +
                              " (nextUpdate, Unix seconds)";
    if (required && options_.crl_reject_stale) {
      return Denial(Deny(std::move(d), Reason::kUntrustedIssuer,
                         stale + "; the issuer requires a current CRL (crl.stale_policy: reject)"));
    }
    if (d.tracing) d.trace.push_back("revocation: warning: " + stale + "; using it anyway");
    int64_t last = last_stale_crl_warning_.load(std::memory_order_relaxed);
    if (now - last >= 60 &&
        last_stale_crl_warning_.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
      if (auto logger = spdlog::get("certs")) logger->warn("{}; using it anyway", stale);
    }
  }
  auto entry = deps_.store.FindCrlEntry(issuer_canonical, serial);
  if (!entry.ok()) return entry.status();
  if (entry->has_value()) {
    return Denial(Deny(std::move(d), Reason::kCertificateRevoked,
                       what + " is listed in the CRL of '" + crl.issuer_display + "' (number " +
                           crl.crl_number + ", reason code " +
                           std::to_string(static_cast<int>((*entry)->reason)) + ")"));
  }
  if (d.tracing)
    d.trace.push_back("revocation: " + what + " is not in the CRL of '" + crl.issuer_display +
                      "' (number " + crl.crl_number + ")");
  return Denial();
}

Result<Decision> Authorizer::DecideSubjectSerial(const AuthorizeInput& input, Decision d,
                                                 int64_t now) {
  const Credential& cred = input.credential;
  if (cred.subject_dn.empty() && cred.serial.empty()) {
    return Deny(std::move(d), Reason::kCertificateMissing, "empty subject and serial");
  }
  Result<certs::DistinguishedName> subject = certs::ParseDnString(cred.subject_dn);
  if (!subject.ok()) {
    return Deny(std::move(d), Reason::kCertificateMalformed,
                "subject DN: " + subject.status().message());
  }
  Result<std::string> serial = certs::NormalizeSerial(cred.serial, cred.serial_format);
  if (!serial.ok()) {
    return Deny(std::move(d), Reason::kCertificateMalformed,
                "serial: " + serial.status().message());
  }
  std::optional<std::string> issuer_canonical;
  if (!cred.issuer_dn.empty()) {
    Result<certs::DistinguishedName> issuer = certs::ParseDnString(cred.issuer_dn);
    if (!issuer.ok()) {
      return Deny(std::move(d), Reason::kCertificateMalformed,
                  "issuer DN: " + issuer.status().message());
    }
    issuer_canonical = issuer->Canonical();
  }
  if (d.tracing)
    d.trace.push_back("decode: subject " + subject->ToRfc4514() + ", serial " + *serial);
  // Every lookup from here on reads one snapshot of the database (one read transaction).
  const std::unique_ptr<store::ReadScope> snapshot = deps_.store.BeginRead();
  auto found = deps_.store.FindCertificatesBySubjectSerial(subject->Canonical(), *serial);
  if (!found.ok()) return found.status();
  std::vector<store::EnrolledCertificate> matches;
  for (auto& c : *found) {
    if (!issuer_canonical || c.issuer_canonical == *issuer_canonical) {
      matches.push_back(std::move(c));
    }
  }
  if (matches.empty()) {
    CertificateSummary s;
    s.subject = subject->ToRfc4514();
    s.serial = *serial;
    d.certificate = s;
    return Deny(std::move(d), Reason::kCertificateNotEnrolled,
                "no enrolled certificate has this subject and serial" +
                    std::string(issuer_canonical ? " and issuer" : ""));
  }
  if (matches.size() > 1) {
    return Deny(
        std::move(d), Reason::kCertificateNotEnrolled,
        "subject and serial match several enrolled certificates; the issuer DN is required");
  }
  const store::EnrolledCertificate& enrolled = matches.front();
  d.certificate = Summarize(enrolled);
  if (d.tracing)
    d.trace.push_back("lookup: enrolled certificate #" + std::to_string(enrolled.id) +
                      " by subject+serial");
  if (enrolled.not_after != 0 && now > enrolled.not_after) {
    return Deny(std::move(d), Reason::kCertificateExpired, "the enrolled certificate has expired");
  }
  if (enrolled.not_before != 0 && now < enrolled.not_before) {
    return Deny(std::move(d), Reason::kCertificateNotYetValid,
                "the enrolled certificate is not yet valid");
  }
  auto crl_denial = CheckCrl(enrolled.issuer_canonical, enrolled.serial, "the certificate", d, now);
  if (!crl_denial.ok()) return crl_denial.status();
  if (crl_denial->has_value()) return std::move(**crl_denial);
  auto revoked = deps_.store.FindRevocation(enrolled.fingerprint_sha256, enrolled.issuer_canonical,
                                            enrolled.serial);
  if (!revoked.ok()) return revoked.status();
  if (revoked->has_value()) {
    return Deny(std::move(d), Reason::kCertificateRevoked, "the certificate has been revoked");
  }
  auto user = deps_.store.GetUser(enrolled.user_id);
  if (!user.ok()) return user.status();
  if (!user->has_value()) return Status::Internal("enrolled certificate has no user");
  d.user = **user;
  if ((*user)->disabled) {
    return Deny(std::move(d), Reason::kUserDisabled, "user '" + (*user)->name + "' is disabled");
  }
  d.allowed = true;
  if (d.tracing) d.trace.push_back("decide: allow user '" + (*user)->name + "'");
  return d;
}

Result<Decision> Authorizer::Decide(const AuthorizeInput& input) {
  Decision d;
  d.tracing = input.explain;
  const Credential& cred = input.credential;
  const int64_t now = deps_.clock.NowSeconds();

  // 1. Extract.
  if (cred.kind == Credential::Kind::kNone) {
    return Deny(std::move(d), Reason::kCertificateMissing, "the request carries no credential");
  }

  // 2. Trust the forwarder: a credential inside a proxy header, or a bare subject+serial, is
  // only believed from a configured forwarder.
  if (cred.kind == Credential::Kind::kHeader || cred.kind == Credential::Kind::kSubjectSerial) {
    if (std::optional<Decision> denied = CheckForwarder(input, d, now)) return std::move(*denied);
  }

  // Subject+serial: no certificate to decode or chain; the forwarder vouches for it, and the
  // enrollment is looked up by canonical names.
  if (cred.kind == Credential::Kind::kSubjectSerial) {
    return DecideSubjectSerial(input, std::move(d), now);
  }

  // 3. Decode to DER (leaf first).
  certs::DecodeOptions decode_options;
  decode_options.xfcc_element = options_.xfcc_element;
  DecodedCredential decoded = DecodeCredential(cred, decode_options);
  if (!decoded.ok) return Deny(std::move(d), decoded.reason, decoded.message);
  if (d.tracing) d.trace.push_back("decode: " + decoded.description);

  // 4. Validate: parse, chain to the trust anchors (when configured) at the clock's time, usage,
  // imported CRLs. Parse and chain verification come from the validation cache.
  std::shared_ptr<const certs::Validation> v = validator().Validate(decoded.chain, now);
  using Outcome = certs::Validation::Outcome;
  if (v->outcome == Outcome::kMalformed) {
    return Deny(std::move(d), Reason::kCertificateMalformed, v->message);
  }
  const certs::CertificateFacts& leaf = v->leaf();
  d.certificate = Summarize(leaf);
  if (d.tracing)
    d.trace.push_back("decode: leaf " + leaf.fingerprint_sha256 + " subject " +
                      d.certificate->subject);
  switch (v->outcome) {
    case Outcome::kUntrustedIssuer:
      return Deny(std::move(d), Reason::kUntrustedIssuer, v->message);
    case Outcome::kExpired:
      return Deny(std::move(d), Reason::kCertificateExpired, v->message);
    case Outcome::kNotYetValid:
      return Deny(std::move(d), Reason::kCertificateNotYetValid, v->message);
    case Outcome::kOk:
    case Outcome::kMalformed:
      break;
  }
  // The leaf's own window, per request (a verified chain's cached window already covers it; in
  // fingerprint-only mode this is the only time check).
  if (now > leaf.not_after) {
    return Deny(std::move(d), Reason::kCertificateExpired, "the certificate has expired");
  }
  if (now < leaf.not_before) {
    return Deny(std::move(d), Reason::kCertificateNotYetValid, "the certificate is not yet valid");
  }
  if (leaf.is_ca) {
    return Deny(std::move(d), Reason::kKeyUsageNotAllowed,
                "a CA certificate is not a client certificate");
  }
  if (leaf.has_eku && !leaf.eku_client_auth) {
    return Deny(std::move(d), Reason::kKeyUsageNotAllowed,
                "the certificate's extended key usage does not include clientAuth");
  }
  if (v->chain_verified) {
    if (d.tracing)
      d.trace.push_back("validate: chain of " + std::to_string(v->verified_chain.size()) +
                        " certificate(s) verified to trust anchor '" +
                        v->verified_chain.back().subject_display +
                        "'; within validity; usage allows clientAuth");
  } else {
    if (d.tracing)
      d.trace.push_back(
          "validate: no trust anchors configured (fingerprint-only mode); within validity; usage "
          "allows clientAuth");
  }

  // Every lookup from here on reads one snapshot of the database (one read transaction).
  const std::unique_ptr<store::ReadScope> snapshot = deps_.store.BeginRead();

  // Revocation by imported CRLs: the leaf and, when the chain was verified, every certificate
  // below the anchor. (Without anchors the other presented certificates prove nothing.)
  if (v->chain_verified) {
    for (size_t i = 0; i < v->verified_chain.size(); ++i) {
      const certs::ChainCertificate& c = v->verified_chain[i];
      if (c.is_anchor) break;
      const std::string what =
          i == 0 ? "the certificate" : "chain certificate '" + c.subject_display + "'";
      auto denial = CheckCrl(c.issuer_canonical, c.serial, what, d, now);
      if (!denial.ok()) return denial.status();
      if (denial->has_value()) return std::move(**denial);
    }
  } else {
    auto denial = CheckCrl(leaf.issuer.Canonical(), leaf.serial, "the certificate", d, now);
    if (!denial.ok()) return denial.status();
    if (denial->has_value()) return std::move(**denial);
  }

  // 5. Look up by fingerprint; then, only for a chain verified to a trust anchor, by issuer and
  // serial (a row enrolled by issuer+subject+serial without the certificate). Names come from the
  // DER and are compared in canonical form: an equal subject and serial alone is no evidence (a
  // self-signed look-alike has them), and neither is a rogue CA's copy of the issuer's name,
  // which cannot verify to the anchor.
  const std::string issuer_canonical = leaf.issuer.Canonical();
  auto found = deps_.store.FindCertificateByFingerprint(leaf.fingerprint_sha256);
  if (!found.ok()) return found.status();
  std::optional<store::EnrolledCertificate> enrolled = std::move(*found);
  if (enrolled) {
    if (d.tracing)
      d.trace.push_back("lookup: enrolled certificate #" + std::to_string(enrolled->id) +
                        " by fingerprint");
  } else if (v->chain_verified) {
    auto by_name = deps_.store.FindCertificateByIssuerSerial(issuer_canonical, leaf.serial);
    if (!by_name.ok()) return by_name.status();
    // A row enrolled from a certificate pins that certificate: another one with the same issuer
    // and serial (a CA reusing a serial) is not it.
    if (by_name->has_value() && (*by_name)->fingerprint_sha256.empty() &&
        (*by_name)->subject_canonical == leaf.subject.Canonical()) {
      enrolled = std::move(*by_name);
      if (d.tracing)
        d.trace.push_back("lookup: enrolled certificate #" + std::to_string(enrolled->id) +
                          " by issuer, subject and serial (chain verified to a trust anchor)");
    }
  }
  if (!enrolled) {
    return Deny(std::move(d), Reason::kCertificateNotEnrolled, "the certificate is not enrolled");
  }

  // 6. Revocation: by fingerprint or (issuer, serial) — never by serial alone.
  auto revoked = deps_.store.FindRevocation(leaf.fingerprint_sha256, issuer_canonical, leaf.serial);
  if (!revoked.ok()) return revoked.status();
  if (revoked->has_value()) {
    return Deny(std::move(d), Reason::kCertificateRevoked, "the certificate has been revoked");
  }
  auto user = deps_.store.GetUser(enrolled->user_id);
  if (!user.ok()) return user.status();
  if (!user->has_value()) return Status::Internal("enrolled certificate has no user");
  d.user = **user;
  if ((*user)->disabled) {
    return Deny(std::move(d), Reason::kUserDisabled, "user '" + (*user)->name + "' is disabled");
  }

  // 7. Decide.
  d.allowed = true;
  d.reason = Reason::kNone;
  if (d.tracing) d.trace.push_back("decide: allow user '" + (*user)->name + "'");
  return d;
}

Result<AuthorizeResult> Authorizer::Authorize(const AuthorizeInput& input) {
  Result<Decision> decided = Decide(input);
  if (!decided.ok()) return decided.status();

  // 8. Audit, durably, before answering.
  store::AuditEvent ev = AuthorizeAuditEvent(input, *decided, deps_.clock.NowMicros());
  Result<int64_t> id = deps_.audit.Record(std::move(ev));
  if (!id.ok()) return id.status();

  AuthorizeResult out;
  out.decision = std::move(*decided);
  out.audit_id = *id;
  return out;
}

}  // namespace certgate::authz
