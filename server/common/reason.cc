#include "server/common/reason.h"

namespace certgate {

std::string_view ReasonName(Reason reason) {
  switch (reason) {
    case Reason::kNone: return "NONE";
    case Reason::kCertificateMissing: return "CERTIFICATE_MISSING";
    case Reason::kCertificateMalformed: return "CERTIFICATE_MALFORMED";
    case Reason::kForwarderNotTrusted: return "FORWARDER_NOT_TRUSTED";
    case Reason::kProxyVerificationFailed: return "PROXY_VERIFICATION_FAILED";
    case Reason::kUntrustedIssuer: return "UNTRUSTED_ISSUER";
    case Reason::kCertificateExpired: return "CERTIFICATE_EXPIRED";
    case Reason::kCertificateNotYetValid: return "CERTIFICATE_NOT_YET_VALID";
    case Reason::kKeyUsageNotAllowed: return "KEY_USAGE_NOT_ALLOWED";
    case Reason::kCertificateNotEnrolled: return "CERTIFICATE_NOT_ENROLLED";
    case Reason::kCertificateRevoked: return "CERTIFICATE_REVOKED";
    case Reason::kUserDisabled: return "USER_DISABLED";
    case Reason::kAccessDenied: return "ACCESS_DENIED";
  }
  return "NONE";
}

std::optional<Reason> ParseReason(std::string_view name) {
  if (name == "NONE") return Reason::kNone;
  for (Reason r : kAllReasons) {
    if (ReasonName(r) == name) return r;
  }
  return std::nullopt;
}

}  // namespace certgate
