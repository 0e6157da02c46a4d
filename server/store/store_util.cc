// Shared Store input checks; see store_util.h.
#include "server/store/store_util.h"

#include <algorithm>
#include <string_view>
#include <unordered_set>

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

Status ValidateCrl(const CrlInfo& crl, const std::vector<CrlEntry>& entries) {
  if (crl.issuer_canonical.empty()) return Status::InvalidArgument("CRL issuer must not be empty");
  const bool hex = !crl.crl_number.empty() &&
                   crl.crl_number.find_first_not_of("0123456789abcdef") == std::string::npos &&
                   (crl.crl_number == "0" || crl.crl_number[0] != '0');
  if (!hex) {
    return Status::InvalidArgument("CRL number must be normalised lowercase hex, not '" +
                                   crl.crl_number + "'");
  }
  if (crl.der.empty()) return Status::InvalidArgument("CRL DER must not be empty");
  std::unordered_set<std::string_view> serials;
  serials.reserve(entries.size());
  for (const CrlEntry& e : entries) {
    if (e.issuer_canonical != crl.issuer_canonical) {
      return Status::InvalidArgument("CRL entry for serial " + e.serial + " names another issuer");
    }
    if (e.serial.empty()) return Status::InvalidArgument("CRL entry serial must not be empty");
    const int code = static_cast<int>(e.reason);
    if (code < 0 || code > 10 || code == 7) {
      return Status::InvalidArgument("unknown revocation reason code " + std::to_string(code));
    }
    if (!serials.insert(e.serial).second) {
      return Status::InvalidArgument("CRL lists serial " + e.serial + " twice");
    }
  }
  return Status::Ok();
}

int CompareCrlNumbers(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  return a.compare(b);
}

Status CheckCrlIsNewer(const std::string& incoming, const std::string& stored,
                       const std::string& issuer_display) {
  const int cmp = CompareCrlNumbers(incoming, stored);
  if (cmp == 0) {
    return Status::AlreadyExists("CRL number " + incoming + " of '" + issuer_display +
                                 "' is already imported");
  }
  if (cmp < 0) {
    return Status::FailedPrecondition("CRL number " + incoming + " of '" + issuer_display +
                                      "' is older than the imported CRL number " + stored);
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
