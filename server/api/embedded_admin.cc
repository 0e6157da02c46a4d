#include "server/api/embedded_admin.h"

#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include "server/api/admin_service.h"
#include "server/api/server.h"
#include "server/audit/audit_writer.h"
#include "server/authz/authorizer.h"
#include "server/certs/validator.h"
#include "server/common/clock.h"
#include "server/store/sqlite_store.h"

namespace certgate::api {
namespace {

class EmbeddedAdminImpl final : public EmbeddedAdmin {
 public:
  std::shared_ptr<grpc::Channel> channel() override {
    return server_->InProcessChannel(grpc::ChannelArguments());
  }
  ~EmbeddedAdminImpl() override {
    if (server_) server_->Shutdown();
    if (audit_) audit_->Shutdown();
  }

  std::unique_ptr<certs::Validator> validator_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<audit::AuditWriter> audit_;
  std::unique_ptr<authz::Authorizer> authorizer_;
  std::unique_ptr<AdminService> service_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace

Result<std::unique_ptr<EmbeddedAdmin>> EmbeddedAdmin::Open(const std::string& db_path,
                                                           const std::string& actor,
                                                           const config::Config& config) {
  InitLogging("warn");
  const Clock& clock = SystemClock::Instance();
  auto impl = std::make_unique<EmbeddedAdminImpl>();
  // The server's trust settings (from --config): CRL imports are verified against its anchors,
  // and Explain validates chains as the server would.
  auto trust = LoadTrust(config.trust);
  if (!trust.ok()) return Status::InvalidArgument("trust anchors: " + trust.status().message());
  auto required_issuers = ResolveRequiredIssuers(config.crl);
  if (!required_issuers.ok()) return required_issuers.status();
  impl->validator_ = std::make_unique<certs::Validator>(std::move(trust).value());
  store::SqliteOptions opts;
  opts.path = db_path;
  opts.pool_size = 2;
  auto opened = store::OpenSqliteStore(opts, clock);
  if (!opened.ok()) return opened.status();
  impl->store_ = std::move(*opened);
  impl->audit_ = std::make_unique<audit::AuditWriter>(*impl->store_);
  authz::AuthorizerOptions aopts;
  aopts.xfcc_element = config.xfcc_element;
  aopts.forwarders = config.forwarders;
  aopts.crl_required_issuers = std::move(required_issuers).value();
  aopts.crl_reject_stale = config.crl.stale_policy == "reject";
  impl->authorizer_ = std::make_unique<authz::Authorizer>(
      authz::Authorizer::Deps{*impl->store_, *impl->audit_, clock, impl->validator_.get()}, aopts);
  AdminService::Deps deps{*impl->store_, *impl->audit_, clock, nullptr, 0, false, "",
                          nullptr,       nullptr};
  deps.authorizer = impl->authorizer_.get();
  deps.xfcc_element = config.xfcc_element;
  deps.actor = actor;
  deps.validator = impl->validator_.get();
  impl->service_ = std::make_unique<AdminService>(deps);
  grpc::ServerBuilder b;
  b.RegisterService(impl->service_.get());
  impl->server_ = b.BuildAndStart();
  if (!impl->server_) return Status::Internal("cannot start the in-process admin service");
  return std::unique_ptr<EmbeddedAdmin>(std::move(impl));
}

}  // namespace certgate::api
