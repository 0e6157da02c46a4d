// Input checks and small rules shared by every Store implementation, so that SQLite and the
// in-memory fake agree on semantics by construction rather than by copy-paste. Internal to store/.
#pragma once

#include <string>
#include <vector>

#include "server/common/status.h"
#include "server/store/store.h"

namespace certgate::store::internal {

inline constexpr int kMinAuditLimit = 1;
inline constexpr int kMaxAuditLimit = 1000;

// Sorts and de-duplicates roles. InvalidArgument if any role is empty.
Result<std::vector<std::string>> NormalizeRoles(const std::vector<std::string>& roles);

// InvalidArgument if the user's name is empty.
Status ValidateUser(const User& user);

// InvalidArgument unless issuer_canonical and serial (the enrollment key) are non-empty.
Status ValidateCertificate(const EnrolledCertificate& cert);

// InvalidArgument unless issuer_canonical and serial (the revocation key) are non-empty and the
// reason is a defined CRLReason code.
Status ValidateRevocation(const Revocation& revocation);

// ImportCrl's input checks (store.h): InvalidArgument naming the problem.
Status ValidateCrl(const CrlInfo& crl, const std::vector<CrlEntry>& entries);

// Compares two CRL numbers in normalised hex (no leading zeros) as integers: <0, 0, >0.
int CompareCrlNumbers(const std::string& a, const std::string& b);

// The ImportCrl error for an incoming CRL numbered `incoming` when `stored` is already there
// (OK when incoming is newer).
Status CheckCrlIsNewer(const std::string& incoming, const std::string& stored,
                       const std::string& issuer_display);

// ValidateAuditEvent (store.h) for every event.
Status ValidateAuditEvents(const std::vector<AuditEvent>& events);

// AuditQuery::limit clamped to [kMinAuditLimit, kMaxAuditLimit].
int ClampAuditLimit(int limit);

// "ALLOW" / "DENY", as stored.
const char* DecisionName(Decision decision);

}  // namespace certgate::store::internal
