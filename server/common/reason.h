// The one rejection-reason enum used everywhere: Authorize, Check, audit rows, CLI, metrics.
// Values are stored in the database by name (never by number) so they can be extended safely.
#pragma once

#include <optional>
#include <string_view>

namespace certgate {

enum class Reason {
  kNone = 0,  // no rejection: the request was allowed
  kCertificateMissing,
  kCertificateMalformed,
  kForwarderNotTrusted,
  kProxyVerificationFailed,
  kUntrustedIssuer,
  kCertificateExpired,
  kCertificateNotYetValid,
  kKeyUsageNotAllowed,
  kCertificateNotEnrolled,
  kCertificateRevoked,
  kUserDisabled,
  kAccessDenied,
};

inline constexpr Reason kAllReasons[] = {
    Reason::kCertificateMissing,     Reason::kCertificateMalformed,   Reason::kForwarderNotTrusted,
    Reason::kProxyVerificationFailed, Reason::kUntrustedIssuer,       Reason::kCertificateExpired,
    Reason::kCertificateNotYetValid, Reason::kKeyUsageNotAllowed,    Reason::kCertificateNotEnrolled,
    Reason::kCertificateRevoked,     Reason::kUserDisabled,          Reason::kAccessDenied,
};

// "CERTIFICATE_MISSING", ...; "NONE" for kNone.
std::string_view ReasonName(Reason reason);
// Inverse of ReasonName; nullopt for unknown text.
std::optional<Reason> ParseReason(std::string_view name);

}  // namespace certgate
