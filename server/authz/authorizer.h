// The decision pipeline: extract -> decode -> trust the forwarder -> validate -> look up ->
// check revocation -> decide -> audit. One Authorizer per server; thread-safe (it holds only
// immutable configuration and references to thread-safe dependencies).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "server/audit/audit_writer.h"
#include "server/certs/decoders.h"
#include "server/certs/serial.h"
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
  Reason reason = Reason::kNone;       // when !ok: kCertificateMissing or kCertificateMalformed
  std::string message;                 // when !ok
  std::vector<std::string> chain;      // when ok: non-empty, leaf first, not yet parsed
  std::string description;             // when ok: "xfcc value, 2 certificate(s)"
};
// Decodes a credential's certificate bytes (no trust, no parsing of X.509). Never throws.
DecodedCredential DecodeCredential(const Credential& credential, const certs::DecodeOptions& options);

struct AuthorizeInput {
  Credential credential;
  std::string request_id;  // validated by the caller; never empty here
  std::string action;
  std::string resource;
  std::string caller_peer;  // gRPC peer string ("ipv4:127.0.0.1:5000", "unix:...")
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
  // One line per pipeline step taken, for `explain`.
  std::vector<std::string> trace;
};

struct AuthorizeResult {
  Decision decision;
  int64_t audit_id = 0;
};

struct AuthorizerOptions {
  int xfcc_element = 0;
  std::vector<config::ForwarderConfig> forwarders;
};

class Authorizer {
 public:
  struct Deps {
    store::Store& store;
    audit::AuditWriter& audit;
    const Clock& clock;
  };
  Authorizer(Deps deps, AuthorizerOptions options);

  // Runs the pipeline and records the audit row, returning only once it is committed.
  // A non-OK Result means certgate could not decide (database failure, audit failure): the
  // caller must answer with an error, never an allow or a deny.
  Result<AuthorizeResult> Authorize(const AuthorizeInput& input);

  // Runs the pipeline without auditing (for explain). Same error convention.
  Result<Decision> Decide(const AuthorizeInput& input);

 private:
  Deps deps_;
  const AuthorizerOptions options_;
};

}  // namespace certgate::authz
