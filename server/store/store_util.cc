// Shared Store input checks; see store_util.h.
#include "server/store/store_util.h"

#include <algorithm>

namespace certgate::store::internal {

Result<std::vector<std::string>> NormalizeRoles(const std::vector<std::string>& roles) {
  std::vector<std::string> out = roles;
  for (const std::string& role : out) {
    if (role.empty()) return Status::InvalidArgument("a role must not be empty");
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Status ValidateUser(const User& user) {
  if (user.name.empty()) return Status::InvalidArgument("user name must not be empty");
  return Status::Ok();
}

Status ValidateCertificate(const EnrolledCertificate& cert) {
  if (cert.issuer_canonical.empty()) {
    return Status::InvalidArgument("certificate issuer must not be empty");
  }
  if (cert.serial.empty()) return Status::InvalidArgument("certificate serial must not be empty");
  return Status::Ok();
}

Status ValidateRevocation(const Revocation& revocation) {
  if (revocation.issuer_canonical.empty()) {
    return Status::InvalidArgument("revocation issuer must not be empty");
  }
  if (revocation.serial.empty()) {
    return Status::InvalidArgument("revocation serial must not be empty");
  }
  int code = static_cast<int>(revocation.reason);
  // 7 is unassigned in RFC 5280's CRLReason.
  if (code < 0 || code > 10 || code == 7) {
    return Status::InvalidArgument("unknown revocation reason code " + std::to_string(code));
  }
  return Status::Ok();
}

Status ValidateAuditEvents(const std::vector<AuditEvent>& events) {
  for (const AuditEvent& e : events) CERTGATE_RETURN_IF_ERROR(ValidateAuditEvent(e));
  return Status::Ok();
}

int ClampAuditLimit(int limit) { return std::clamp(limit, kMinAuditLimit, kMaxAuditLimit); }

const char* DecisionName(Decision decision) {
  return decision == Decision::kAllow ? "ALLOW" : "DENY";
}

}  // namespace certgate::store::internal

namespace certgate::store {

Status ValidateAuditEvent(const AuditEvent& event) {
  if (event.decision != Decision::kAllow && event.decision != Decision::kDeny) {
    return Status::InvalidArgument("audit event has an unknown decision " +
                                   std::to_string(static_cast<int>(event.decision)));
  }
  // ReasonName maps values outside the enum to "NONE".
  if (event.reason != Reason::kNone && ReasonName(event.reason) == "NONE") {
    return Status::InvalidArgument("audit event has an unknown reason " +
                                   std::to_string(static_cast<int>(event.reason)));
  }
  return Status::Ok();
}

}  // namespace certgate::store
