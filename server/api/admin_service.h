// certgate.v1.Admin: users, enrollment, revocation, imported CRLs, the audit trail and explain.
// Served only on admin listeners (a 0600 unix socket by default; TCP only with mTLS). Every
// state-changing call writes an audit row (kind "admin") naming the acting identity; refused
// calls are audited too.
#pragma once

#include <optional>
#include <string>

#include "certgate/v1/admin.grpc.pb.h"
#include "server/api/admission.h"
#include "server/audit/audit_writer.h"
#include "server/authz/authorizer.h"
#include "server/certs/validator.h"
#include "server/common/clock.h"
#include "server/store/store.h"

namespace certgate::api {

// Thread-safe; every dependency must outlive the service.
class AdminService final : public v1::Admin::Service {
 public:
  struct Deps {
    store::Store& store;
    audit::AuditWriter& audit;
    const Clock& clock;
    // Runs Explain; may be null (Explain then answers UNIMPLEMENTED).
    authz::Authorizer* authorizer = nullptr;
    int xfcc_element = 0;
    // TCP admin listener: callers must present a client certificate enrolled to an enabled user
    // with the "admin" role (the TLS layer has already verified it against the client CA).
    bool require_admin_certificate = false;
    // When set, the acting identity recorded for every call (the CLI's direct-database mode).
    std::string actor;
    // Optional gate: draining and in-flight tracking. Give the admin listeners their own
    // (unbounded) Admission so operators can still revoke while Authorize is overloaded.
    Admission* admission = nullptr;
    // Trust anchors (to verify imported CRLs) and the validation cache (invalidated by an import).
    certs::Validator* validator = nullptr;
  };
  explicit AdminService(Deps deps) : deps_(std::move(deps)) {}

  grpc::Status CreateUser(grpc::ServerContext* ctx, const v1::CreateUserRequest* req,
                          v1::User* resp) override;
  grpc::Status GetUser(grpc::ServerContext* ctx, const v1::GetUserRequest* req,
                       v1::User* resp) override;
  grpc::Status ListUsers(grpc::ServerContext* ctx, const v1::ListUsersRequest* req,
                         v1::ListUsersResponse* resp) override;
  grpc::Status SetUserDisabled(grpc::ServerContext* ctx, const v1::SetUserDisabledRequest* req,
                               v1::User* resp) override;
  grpc::Status SetUserRoles(grpc::ServerContext* ctx, const v1::SetUserRolesRequest* req,
                            v1::User* resp) override;
  grpc::Status EnrollCertificate(grpc::ServerContext* ctx, const v1::EnrollCertificateRequest* req,
                                 v1::Certificate* resp) override;
  grpc::Status GetCertificate(grpc::ServerContext* ctx, const v1::GetCertificateRequest* req,
                              v1::Certificate* resp) override;
  grpc::Status ListCertificates(grpc::ServerContext* ctx, const v1::ListCertificatesRequest* req,
                                v1::ListCertificatesResponse* resp) override;
  grpc::Status RevokeCertificate(grpc::ServerContext* ctx, const v1::RevokeCertificateRequest* req,
                                 v1::RevokeCertificateResponse* resp) override;
  grpc::Status ReleaseHold(grpc::ServerContext* ctx, const v1::ReleaseHoldRequest* req,
                           v1::Certificate* resp) override;
  grpc::Status QueryAudit(grpc::ServerContext* ctx, const v1::QueryAuditRequest* req,
                          v1::QueryAuditResponse* resp) override;
  grpc::Status Explain(grpc::ServerContext* ctx, const v1::ExplainRequest* req,
                       v1::ExplainResponse* resp) override;
  grpc::Status ImportCrl(grpc::ServerContext* ctx, const v1::ImportCrlRequest* req,
                         v1::ImportCrlResponse* resp) override;
  grpc::Status ListCrls(grpc::ServerContext* ctx, const v1::ListCrlsRequest* req,
                        v1::ListCrlsResponse* resp) override;

 private:
  // Per-call state: the admission ticket (held until the handler returns) and the actor.
  struct CallScope {
    std::optional<Admission::Ticket> ticket;
    std::string actor;
  };
  // Admission, then Authenticate.
  grpc::Status Begin(grpc::ServerContext* ctx, const char* method, CallScope* call);
  // Who is calling. On a listener that requires admin certificates, checks the caller's client
  // certificate (enrolled, not revoked, user enabled, role "admin"); a refusal is audited and
  // returned as UNAUTHENTICATED (no certificate) or PERMISSION_DENIED.
  grpc::Status Authenticate(grpc::ServerContext* ctx, const char* method, std::string* actor);
  // Writes the admin audit row for an action; an audit failure fails the call.
  Status RecordAdmin(const std::string& actor, const std::string& action,
                     const std::string& resource, const std::string& message,
                     std::optional<int64_t> user_id = std::nullopt,
                     const std::string& user_name = "", const std::string& fingerprint = "");
  Result<v1::Certificate> ToProto(const store::EnrolledCertificate& c);
  // Finds the enrolled certificate a fingerprint or issuer+serial names.
  grpc::Status FindTarget(const std::string& fingerprint, const v1::IssuerSerial* issuer_serial,
                          std::optional<store::EnrolledCertificate>* out);

  const Deps deps_;
};

}  // namespace certgate::api
