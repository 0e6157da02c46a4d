// A Store that forwards to a real one but fails call number `fail_at` (0-based) with
// Unavailable: the pipeline tests fail each store call of a request in turn.
#pragma once

#include <atomic>

#include "server/store/store.h"

namespace certgate::authz {

// Forwards to a real store but fails call number `fail_at` (0-based) with Unavailable.
class FailAtStore final : public store::Store {
 public:
  FailAtStore(store::Store& inner, int fail_at) : inner_(inner), fail_at_(fail_at) {}
  int calls() const { return calls_; }

#define CG_FORWARD(ret, name, params, args)                                   \
  ret name params override {                                                  \
    if (calls_++ == fail_at_) return Status::Unavailable("injected failure"); \
    return inner_.name args;                                                  \
  }
  CG_FORWARD(Result<store::User>, CreateUser, (const store::User& u), (u))
  CG_FORWARD(Result<std::optional<store::User>>, GetUser, (int64_t id), (id))
  CG_FORWARD(Result<std::optional<store::User>>, GetUserByName, (const std::string& n), (n))
  CG_FORWARD(Result<std::vector<store::User>>, ListUsers, (), ())
  CG_FORWARD(Status, SetUserDisabled, (int64_t id, bool d), (id, d))
  CG_FORWARD(Status, SetUserRoles, (int64_t id, const std::vector<std::string>& r), (id, r))
  CG_FORWARD(Result<store::EnrolledCertificate>, EnrollCertificate,
             (const store::EnrolledCertificate& c), (c))
  CG_FORWARD(Result<std::optional<store::EnrolledCertificate>>, FindCertificateByFingerprint,
             (const std::string& f), (f))
  CG_FORWARD(Result<std::vector<store::EnrolledCertificate>>, FindCertificatesBySubjectSerial,
             (const std::string& s, const std::string& n), (s, n))
  CG_FORWARD(Result<std::optional<store::EnrolledCertificate>>, FindCertificateByIssuerSerial,
             (const std::string& i, const std::string& n), (i, n))
  CG_FORWARD(Result<std::vector<store::EnrolledCertificate>>, ListCertificates,
             (std::optional<int64_t> u, int64_t a, int l), (u, a, l))
  CG_FORWARD(Result<std::optional<store::EnrolledCertificate>>, GetCertificate, (int64_t i), (i))
  CG_FORWARD(Result<std::vector<store::EnrolledCertificate>>, FindCertificatesBySpki,
             (const std::string& k), (k))
  CG_FORWARD(Status, AddRevocation, (const store::Revocation& r), (r))
  CG_FORWARD(Status, ReleaseHold, (const std::string& i, const std::string& n), (i, n))
  CG_FORWARD(Result<std::optional<store::Revocation>>, FindRevocation,
             (const std::string& f, const std::string& i, const std::string& n), (f, i, n))
  CG_FORWARD(Result<store::CrlInfo>, ImportCrl,
             (const store::CrlInfo& c, const std::vector<store::CrlEntry>& e), (c, e))
  CG_FORWARD(Result<std::vector<store::CrlInfo>>, ListCrls, (), ())
  CG_FORWARD(Result<std::optional<store::CrlInfo>>, GetCrlInfo, (const std::string& i), (i))
  CG_FORWARD(Result<std::optional<store::CrlEntry>>, FindCrlEntry,
             (const std::string& i, const std::string& s), (i, s))
  CG_FORWARD(Status, AppendAudit, (std::vector<store::AuditEvent> & e), (e))
  CG_FORWARD(Result<std::vector<store::AuditEvent>>, QueryAudit, (const store::AuditQuery& q), (q))
  CG_FORWARD(Result<int64_t>, DeleteAuditBefore, (int64_t before, int limit), (before, limit))
  CG_FORWARD(Status, Ping, (), ())
#undef CG_FORWARD

 private:
  store::Store& inner_;
  int fail_at_;
  std::atomic<int> calls_{0};
};

}  // namespace certgate::authz
