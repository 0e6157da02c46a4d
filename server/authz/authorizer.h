// The decision pipeline: extract -> trust the forwarder -> decode -> validate (chain to the trust
// anchors, validity, usage, imported CRLs) -> look up -> check revocation -> decide -> audit.
// One Authorizer per server; thread-safe (it holds immutable configuration, references to
// thread-safe dependencies and an atomic log rate limiter).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "server/audit/audit_writer.h"
#include "server/certs/decoders.h"
#include "server/certs/serial.h"
#include "server/certs/validator.h"
#include "server/common/clock.h"
#include "server/common/reason.h"
#include "server/common/status.h"
#include "server/config/config.h"
#include "server/store/store.h"

namespace certgate::authz {

// One credential, as the API layer extracted it from a request. Exactly one kind is set.
struct Credential {
  enum class Kind { kNone, kDer, kPem, kHeader, kSubjectSerial };
  Kind kind = Kind::kNone;
  std::string der;                     // kDer: the leaf
  std::vector<std::string> chain_der;  // kDer: intermediates
  std::string pem;                     // kPem
  // kHeader:
  std::string header_value;
  std::string encoding;  // encoding name, or empty when `preset` is set
  std::string preset;
  std::string chain_value;
  std::string verification;
  // kSubjectSerial:
  std::string subject_dn;
  std::string serial;
  certs::SerialFormat serial_format = certs::SerialFormat::kHex;
  std::string issuer_dn;
};

// The DER chain (leaf first) carried by a DER, PEM or header credential, or why there is none.
struct DecodedCredential {
  bool ok = false;
  Reason reason = Reason::kNone;   // when !ok: kCertificateMissing or kCertificateMalformed
  std::string message;             // when !ok
  std::vector<std::string> chain;  // when ok: non-empty, leaf first, not yet parsed
  std::string description;         // when ok: "xfcc value, 2 certificate(s)"
};
// Decodes a credential's certificate bytes (no trust, no parsing of X.509). Never throws.
DecodedCredential DecodeCredential(const Credential& credential,
                                   const certs::DecodeOptions& options);

struct AuthorizeInput {
  Credential credential;
  std::string request_id;  // validated by the caller; never empty here
  std::string action;
  std::string resource;
  std::string caller_peer;  // gRPC peer string ("ipv4:127.0.0.1:5000", "unix:...")
  // Record every pipeline step in Decision::trace (Admin Explain).
  bool explain = false;
  // The caller's own TLS client certificate (DER), as verified by the listener's TLS handshake
  // against tls.client_ca_file; empty on a plaintext listener or when the caller sent none.
  // Used only to recognise forwarders.
  std::string caller_certificate_der;
};

// What certgate knows about the certificate the decision was about (from the DER, or from the
// enrolled row for subject+serial requests).
struct CertificateSummary {
  std::string fingerprint_sha256;
  std::string subject;  // RFC 4514
  std::string issuer;   // RFC 4514
  std::string serial;
  int64_t not_before = 0;
  int64_t not_after = 0;
  std::vector<std::string> dns_sans, uri_sans, email_sans;
};

struct Decision {
  bool allowed = false;
  Reason reason = Reason::kNone;  // kNone iff allowed
  std::string message;            // human-readable, safe to return to the caller
  std::optional<store::User> user;
  std::optional<CertificateSummary> certificate;
  // One line per pipeline step taken, filled only when the input asked for it (`explain`):
  // building these strings is not free and Authorize never reads them.
  bool tracing = false;
  std::vector<std::string> trace;
};

struct AuthorizeResult {
  Decision decision;
  int64_t audit_id = 0;
};

struct AuthorizerOptions {
  int xfcc_element = 0;
  std::vector<config::ForwarderConfig> forwarders;
  // Canonical names (DistinguishedName::Canonical) of issuers whose certificates are accepted only
  // while a CRL of theirs is imported (config crl.required_issuers, resolved at startup).
  std::vector<std::string> crl_required_issuers;
  // A required issuer's CRL past its nextUpdate: reject (true) or log a warning and use it.
  bool crl_reject_stale = true;
};

class Authorizer {
 public:
  struct Deps {
    store::Store& store;
    audit::AuditWriter& audit;
    const Clock& clock;
    // Chain validation and its cache. Null: the Authorizer uses its own, without trust anchors
    // (fingerprint-only mode).
    certs::Validator* validator = nullptr;
  };
  Authorizer(Deps deps, AuthorizerOptions options);
  // Not copyable or movable: the compiled forwarder rules point into options_.
  Authorizer(const Authorizer&) = delete;
  Authorizer& operator=(const Authorizer&) = delete;

  // Runs the pipeline and records the audit row, returning only once it is committed.
  // A non-OK Result means certgate could not decide (database failure, audit failure): the
  // caller must answer with an error, never an allow or a deny.
  Result<AuthorizeResult> Authorize(const AuthorizeInput& input);

  // Runs the pipeline without auditing (for explain). Same error convention.
  Result<Decision> Decide(const AuthorizeInput& input);

 private:
  // A forwarder with its identity rules in the form they are compared in.
  struct Forwarder {
    const config::ForwarderConfig* config;
    std::set<std::string> fingerprints;           // normalised hex
    std::set<std::string> subjects;               // canonical DNs
    std::vector<std::string> dns_sans, uri_sans;  // DNS lowercased
    bool by_identity() const {
      return !fingerprints.empty() || !subjects.empty() || !dns_sans.empty() || !uri_sans.empty();
    }
    bool MatchesIdentity(const certs::CertificateFacts& caller) const;
  };

  certs::Validator& validator() { return deps_.validator ? *deps_.validator : *own_validator_; }
  // Step 3: a forwarded credential is believed only from a configured forwarder. Returns the
  // denial, or nullopt (and a trace line) when the caller is trusted.
  std::optional<Decision> CheckForwarder(const AuthorizeInput& input, Decision& d, int64_t now);
  // Revocation by imported CRLs of the certificate (issuer, serial) `what` describes: a listed
  // serial is CERTIFICATE_REVOKED; a required issuer without a (fresh enough) CRL is
  // UNTRUSTED_ISSUER. nullopt when it may pass. A store failure is an error.
  Result<std::optional<Decision>> CheckCrl(const std::string& issuer_canonical,
                                           const std::string& serial, const std::string& what,
                                           Decision& d, int64_t now);
  Result<Decision> DecideSubjectSerial(const AuthorizeInput& input, Decision d, int64_t now);

  Deps deps_;
  const AuthorizerOptions options_;
  std::unique_ptr<certs::Validator> own_validator_;  // when deps_.validator is null
  std::vector<Forwarder> forwarders_;
  std::set<std::string> crl_required_issuers_;
  std::atomic<int64_t> last_stale_crl_warning_{0};  // Unix seconds; rate-limits the log line
};

}  // namespace certgate::authz
