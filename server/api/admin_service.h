// certgate.v1.Admin: users, enrollment, revocation, imported CRLs and the audit trail. Served only
// on the admin listener. Every state-changing call writes an audit row (kind "admin") naming the
// actor.
#pragma once

#include "certgate/v1/admin.grpc.pb.h"
#include "server/audit/audit_writer.h"
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
    int xfcc_element = 0;
    // Trust anchors (to verify imported CRLs) and the validation cache (invalidated by an import).
    certs::Validator* validator = nullptr;
  };
  explicit AdminService(Deps deps) : deps_(deps) {}

  grpc::Status CreateUser(grpc::ServerContext* ctx, const v1::CreateUserRequest* req,
                          v1::User* resp) override;
  grpc::Status GetUser(grpc::ServerContext* ctx, const v1::GetUserRequest* req,
                       v1::User* resp) override;
  grpc::Status ListUsers(grpc::ServerContext* ctx, const v1::ListUsersRequest* req,
                         v1::ListUsersResponse* resp) override;
  grpc::Status SetUserDisabled(grpc::ServerContext* ctx, const v1::SetUserDisabledRequest* req,
                               v1::User* resp) override;
  grpc::Status EnrollCertificate(grpc::ServerContext* ctx, const v1::EnrollCertificateRequest* req,
                                 v1::Certificate* resp) override;
  grpc::Status ListCertificates(grpc::ServerContext* ctx, const v1::ListCertificatesRequest* req,
                                v1::ListCertificatesResponse* resp) override;
  grpc::Status RevokeCertificate(grpc::ServerContext* ctx, const v1::RevokeCertificateRequest* req,
                                 v1::RevokeCertificateResponse* resp) override;
  grpc::Status QueryAudit(grpc::ServerContext* ctx, const v1::QueryAuditRequest* req,
                          v1::QueryAuditResponse* resp) override;
  grpc::Status ImportCrl(grpc::ServerContext* ctx, const v1::ImportCrlRequest* req,
                         v1::ImportCrlResponse* resp) override;
  grpc::Status ListCrls(grpc::ServerContext* ctx, const v1::ListCrlsRequest* req,
                        v1::ListCrlsResponse* resp) override;

 private:
  // Writes the admin audit row for an action; an audit failure fails the call.
  Status RecordAdmin(grpc::ServerContext* ctx, const std::string& action,
                     const std::string& resource, const std::string& message,
                     std::optional<int64_t> user_id = std::nullopt, const std::string& user_name = "",
                     const std::string& fingerprint = "");
  Result<v1::Certificate> ToProto(const store::EnrolledCertificate& c);

  Deps deps_;
};

}  // namespace certgate::api
