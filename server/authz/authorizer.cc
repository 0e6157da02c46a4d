#include "server/authz/authorizer.h"

#include <algorithm>

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

// The format name a header credential uses ("xfcc" or the preset name), for forwarder rules.
std::string FormatName(const Credential& c) {
  return c.preset.empty() ? c.encoding : c.preset;
}

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
      if (!split.ok()) return fail(Reason::kCertificateMalformed, "PEM: " + split.status().message());
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
      certs::DecodedChain decoded = certs::DecodeHeader(*enc, cred.header_value, cred.chain_value, options);
      if (decoded.status == certs::DecodeStatus::kMissing) {
        return fail(Reason::kCertificateMissing, decoded.message.empty() ? "no certificate" : decoded.message);
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
      return fail(Reason::kCertificateMissing, "a subject+serial credential carries no certificate");
  }
  if (out.chain.empty()) return fail(Reason::kCertificateMissing, "no certificate");
  out.ok = true;
  return out;
}

Authorizer::Authorizer(Deps deps, AuthorizerOptions options)
    : deps_(deps), options_(std::move(options)) {}

Result<Decision> Authorizer::Decide(const AuthorizeInput& input) {
  Decision d;
  const Credential& cred = input.credential;
  const int64_t now = deps_.clock.NowSeconds();

  // 1. Extract.
  if (cred.kind == Credential::Kind::kNone) {
    return Deny(std::move(d), Reason::kCertificateMissing, "the request carries no credential");
  }

  // 2. Trust the forwarder: a credential inside a proxy header, or a bare subject+serial, is
  // only believed from a configured forwarder.
  const bool forwarded =
      cred.kind == Credential::Kind::kHeader || cred.kind == Credential::Kind::kSubjectSerial;
  if (forwarded) {
    const std::string format =
        cred.kind == Credential::Kind::kHeader ? FormatName(cred) : "subject-serial";
    net::Peer peer = net::ParseGrpcPeer(input.caller_peer);
    const config::ForwarderConfig* match = nullptr;
    for (const config::ForwarderConfig& f : options_.forwarders) {
      bool addr_ok = std::any_of(f.addresses.begin(), f.addresses.end(),
                                 [&](const std::string& a) { return net::PeerMatches(peer, a); });
      if (addr_ok) {
        match = &f;
        break;
      }
    }
    if (!match) {
      return Deny(std::move(d), Reason::kForwarderNotTrusted,
                  "caller " + input.caller_peer + " is not a configured certificate forwarder");
    }
    d.trace.push_back("trust: caller " + input.caller_peer + " is forwarder '" + match->name + "'");
    if (cred.kind == Credential::Kind::kSubjectSerial && !match->allow_subject_serial) {
      return Deny(std::move(d), Reason::kForwarderNotTrusted,
                  "forwarder '" + match->name + "' may not forward subject+serial credentials");
    }
    if (cred.kind == Credential::Kind::kHeader && !match->encodings.empty() &&
        std::find(match->encodings.begin(), match->encodings.end(), format) ==
            match->encodings.end()) {
      return Deny(std::move(d), Reason::kForwarderNotTrusted,
                  "forwarder '" + match->name + "' may not use encoding '" + format + "'");
    }
    if (!match->require_verification.empty() &&
        cred.verification != match->require_verification) {
      return Deny(std::move(d), Reason::kProxyVerificationFailed,
                  "proxy verification is '" + cred.verification.substr(0, 64) + "', expected '" +
                      match->require_verification + "'");
    }
  }

  // Subject+serial: no certificate to decode; look the enrollment up by canonical names.
  if (cred.kind == Credential::Kind::kSubjectSerial) {
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
      return Deny(std::move(d), Reason::kCertificateMalformed, "serial: " + serial.status().message());
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
    d.trace.push_back("decode: subject " + subject->ToRfc4514() + ", serial " + *serial);
    auto found = deps_.store.FindCertificatesBySubjectSerial(subject->Canonical(), *serial);
    if (!found.ok()) return found.status();
    std::vector<store::EnrolledCertificate> matches;
    for (auto& c : *found) {
      if (!issuer_canonical || c.issuer_canonical == *issuer_canonical) matches.push_back(std::move(c));
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
      return Deny(std::move(d), Reason::kCertificateNotEnrolled,
                  "subject and serial match several enrolled certificates; the issuer DN is required");
    }
    const store::EnrolledCertificate& enrolled = matches.front();
    d.certificate = Summarize(enrolled);
    d.trace.push_back("lookup: enrolled certificate #" + std::to_string(enrolled.id) + " by subject+serial");
    if (enrolled.not_after != 0 && now > enrolled.not_after) {
      return Deny(std::move(d), Reason::kCertificateExpired, "the enrolled certificate has expired");
    }
    if (enrolled.not_before != 0 && now < enrolled.not_before) {
      return Deny(std::move(d), Reason::kCertificateNotYetValid, "the enrolled certificate is not yet valid");
    }
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
    d.trace.push_back("decide: allow user '" + (*user)->name + "'");
    return d;
  }

  // 3. Decode to DER (leaf first).
  certs::DecodeOptions decode_options;
  decode_options.xfcc_element = options_.xfcc_element;
  DecodedCredential decoded = DecodeCredential(cred, decode_options);
  if (!decoded.ok) return Deny(std::move(d), decoded.reason, decoded.message);
  std::vector<std::string> chain = std::move(decoded.chain);
  d.trace.push_back("decode: " + decoded.description);
  if (chain.empty()) return Deny(std::move(d), Reason::kCertificateMissing, "no certificate");

  Result<certs::CertificateFacts> leaf = certs::ParseCertificate(chain.front());
  if (!leaf.ok()) {
    return Deny(std::move(d), Reason::kCertificateMalformed, "certificate: " + leaf.status().message());
  }
  for (size_t i = 1; i < chain.size(); ++i) {
    Result<certs::CertificateFacts> extra = certs::ParseCertificate(chain[i]);
    if (!extra.ok()) {
      return Deny(std::move(d), Reason::kCertificateMalformed,
                  "chain certificate " + std::to_string(i) + ": " + extra.status().message());
    }
  }
  d.certificate = Summarize(*leaf);
  d.trace.push_back("decode: leaf " + leaf->fingerprint_sha256 + " subject " + d.certificate->subject);

  // 4. Validate: validity window (injected clock) and key usage.
  if (now > leaf->not_after) {
    return Deny(std::move(d), Reason::kCertificateExpired, "the certificate has expired");
  }
  if (now < leaf->not_before) {
    return Deny(std::move(d), Reason::kCertificateNotYetValid, "the certificate is not yet valid");
  }
  if (leaf->is_ca) {
    return Deny(std::move(d), Reason::kKeyUsageNotAllowed, "a CA certificate is not a client certificate");
  }
  if (leaf->has_eku && !leaf->eku_client_auth) {
    return Deny(std::move(d), Reason::kKeyUsageNotAllowed,
                "the certificate's extended key usage does not include clientAuth");
  }
  d.trace.push_back("validate: within validity window, usage allows clientAuth");

  // 5. Look up by fingerprint. Until chain validation exists a presented certificate matches
  // ONLY by fingerprint: an equal subject+serial is not evidence (a self-signed look-alike has it).
  auto enrolled = deps_.store.FindCertificateByFingerprint(leaf->fingerprint_sha256);
  if (!enrolled.ok()) return enrolled.status();
  if (!enrolled->has_value()) {
    return Deny(std::move(d), Reason::kCertificateNotEnrolled, "the certificate is not enrolled");
  }
  const store::EnrolledCertificate& cert = **enrolled;
  d.trace.push_back("lookup: enrolled certificate #" + std::to_string(cert.id) + " by fingerprint");

  // 6. Revocation: by fingerprint or (issuer, serial) — never by serial alone.
  auto revoked = deps_.store.FindRevocation(leaf->fingerprint_sha256, leaf->issuer.Canonical(),
                                            leaf->serial);
  if (!revoked.ok()) return revoked.status();
  if (revoked->has_value()) {
    return Deny(std::move(d), Reason::kCertificateRevoked, "the certificate has been revoked");
  }
  auto user = deps_.store.GetUser(cert.user_id);
  if (!user.ok()) return user.status();
  if (!user->has_value()) return Status::Internal("enrolled certificate has no user");
  d.user = **user;
  if ((*user)->disabled) {
    return Deny(std::move(d), Reason::kUserDisabled, "user '" + (*user)->name + "' is disabled");
  }

  // 7. Decide.
  d.allowed = true;
  d.reason = Reason::kNone;
  d.trace.push_back("decide: allow user '" + (*user)->name + "'");
  return d;
}

Result<AuthorizeResult> Authorizer::Authorize(const AuthorizeInput& input) {
  Result<Decision> decided = Decide(input);
  if (!decided.ok()) return decided.status();

  // 8. Audit, durably, before answering.
  store::AuditEvent ev;
  ev.time = deps_.clock.NowMicros();
  ev.kind = "authorize";
  ev.request_id = input.request_id;
  ev.caller = input.caller_peer;
  ev.action = input.action;
  ev.resource = input.resource;
  ev.decision = decided->allowed ? store::Decision::kAllow : store::Decision::kDeny;
  ev.reason = decided->reason;
  ev.message = decided->message;
  if (decided->certificate) {
    ev.fingerprint_sha256 = decided->certificate->fingerprint_sha256;
    ev.subject = decided->certificate->subject;
    ev.issuer = decided->certificate->issuer;
    ev.serial = decided->certificate->serial;
  }
  if (decided->user) {
    ev.user_id = decided->user->id;
    ev.user_name = decided->user->name;
  }
  Result<int64_t> id = deps_.audit.Record(std::move(ev));
  if (!id.ok()) return id.status();

  AuthorizeResult out;
  out.decision = std::move(*decided);
  out.audit_id = *id;
  return out;
}

}  // namespace certgate::authz
