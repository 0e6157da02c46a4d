#include "server/api/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "server/store/sqlite_store.h"

namespace certgate::api {
namespace {

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

// grpc.health.v1 status of a listener: "" and each service it serves. gRPC's default health
// service starts SERVING for "", so each listener is marked NOT_SERVING as soon as it is built
// and SERVING once everything (database, both listeners) is up.
void SetHealth(grpc::Server* server, const std::vector<std::string>& services, bool serving) {
  if (!server) return;
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  if (!health) return;
  health->SetServingStatus(serving);
  for (const std::string& name : services) health->SetServingStatus(name, serving);
}

const std::vector<std::string> kAuthServices = {"certgate.v1.Authorizer",
                                                "envoy.service.auth.v3.Authorization"};
const std::vector<std::string> kAdminServices = {"certgate.v1.Admin"};

}  // namespace

void InitLogging(const std::string& level) {
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  for (const char* name : {"api", "certs", "store", "audit"}) {
    if (spdlog::get(name)) continue;
    auto logger = std::make_shared<spdlog::logger>(name, sink);
    logger->set_level(spdlog::level::from_str(level));
    spdlog::register_logger(logger);
  }
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ [%n] %v");
}

Result<std::unique_ptr<Server>> Server::Start(const config::Config& config, const Clock& clock) {
  InitLogging(config.log_level);
  std::unique_ptr<Server> s(new Server());
  s->config_ = config;

  store::SqliteOptions sqlite;
  sqlite.path = config.database;
  sqlite.synchronous_full = config.synchronous_full;
  auto opened = store::OpenSqliteStore(sqlite, clock);
  if (!opened.ok()) return opened.status();
  s->store_ = std::move(*opened);

  audit::AuditWriterOptions audit_opts;
  audit_opts.max_batch = static_cast<size_t>(config.audit_max_batch);
  s->audit_ = std::make_unique<audit::AuditWriter>(*s->store_, audit_opts);

  authz::AuthorizerOptions authz_opts;
  authz_opts.xfcc_element = config.xfcc_element;
  authz_opts.forwarders = config.forwarders;
  s->authorizer_ = std::make_unique<authz::Authorizer>(
      authz::Authorizer::Deps{*s->store_, *s->audit_, clock}, authz_opts);
  if (config.server_api == "sync") {
    s->authorizer_service_ = std::make_unique<AuthorizerService>(*s->authorizer_);
  } else {
    s->authorizer_callback_service_ = std::make_unique<AuthorizerCallbackService>(
        AuthorizerCallbackService::Deps{*s->authorizer_, *s->audit_, clock});
  }
  AdminService::Deps admin_deps{*s->store_, *s->audit_, clock, nullptr, 0, false, ""};
  admin_deps.authorizer = s->authorizer_.get();
  admin_deps.xfcc_element = config.xfcc_element;
  s->admin_service_ = std::make_unique<AdminService>(admin_deps);
  if (config.server_api == "sync") {
    s->ext_authz_service_ = std::make_unique<ExtAuthzService>(*s->authorizer_, config.ext_authz);
  } else {
    s->ext_authz_callback_service_ = std::make_unique<ExtAuthzCallbackService>(
        ExtAuthzCallbackService::Deps{*s->authorizer_, *s->audit_, clock}, config.ext_authz);
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  // Authorization listener: Authorize and Envoy's Check (never admin calls).
  {
    grpc::ServerBuilder b;
    b.AddListeningPort(config.listen, grpc::InsecureServerCredentials(), &s->port_);
    if (s->authorizer_service_) {
      b.RegisterService(s->authorizer_service_.get());
    } else {
      b.RegisterService(s->authorizer_callback_service_.get());
    }
    if (s->ext_authz_service_) {
      b.RegisterService(s->ext_authz_service_.get());
    } else {
      b.RegisterService(s->ext_authz_callback_service_.get());
    }
    b.SetMaxReceiveMessageSize(1 << 20);
    // The sync server's pollers wake at this interval; it bounds how long shutdown waits.
    b.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::CQ_TIMEOUT_MSEC, 200);
    s->auth_server_ = b.BuildAndStart();
    if (!s->auth_server_ || s->port_ == 0) {
      return Status::Unavailable("cannot listen on " + config.listen);
    }
    SetHealth(s->auth_server_.get(), kAuthServices, false);
  }

  // Admin listener: a unix socket in a private directory, 0600.
  if (!config.admin_socket.empty()) {
    std::filesystem::path sock(config.admin_socket);
    std::error_code ec;
    if (sock.has_parent_path()) std::filesystem::create_directories(sock.parent_path(), ec);
    std::filesystem::remove(sock, ec);  // a stale socket from a previous run
    // Restrict the umask while the socket file is created so it is never world-accessible,
    // then set 0600 explicitly.
    mode_t old_mask = umask(0177);
    grpc::ServerBuilder b;
    b.AddListeningPort("unix:" + std::filesystem::absolute(sock).string(),
                       grpc::InsecureServerCredentials());
    b.RegisterService(s->admin_service_.get());
    b.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::CQ_TIMEOUT_MSEC, 200);
    s->admin_server_ = b.BuildAndStart();
    umask(old_mask);
    if (!s->admin_server_) return Status::Unavailable("cannot listen on unix socket " + config.admin_socket);
    SetHealth(s->admin_server_.get(), kAdminServices, false);
    if (chmod(sock.c_str(), 0600) != 0) {
      return Status::Unavailable("cannot chmod admin socket " + config.admin_socket);
    }
    s->admin_socket_ = config.admin_socket;
  }
  // Optional TCP admin listener: mTLS only, and only enrolled admins get past AdminService.
  if (!config.admin_tcp.listen.empty()) {
    grpc::SslServerCredentialsOptions ssl(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    std::string cert, key, ca;
    if (!ReadFile(config.admin_tcp.cert_file, &cert) || !ReadFile(config.admin_tcp.key_file, &key) ||
        !ReadFile(config.admin_tcp.client_ca_file, &ca)) {
      return Status::Unavailable("admin_tcp: cannot read cert_file, key_file or client_ca_file");
    }
    ssl.pem_root_certs = ca;
    ssl.pem_key_cert_pairs.push_back({key, cert});
    AdminService::Deps tcp_deps = admin_deps;
    tcp_deps.require_admin_certificate = true;
    s->admin_tcp_service_ = std::make_unique<AdminService>(tcp_deps);
    grpc::ServerBuilder b;
    b.AddListeningPort(config.admin_tcp.listen, grpc::SslServerCredentials(ssl),
                       &s->admin_tcp_port_);
    b.RegisterService(s->admin_tcp_service_.get());
    b.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::CQ_TIMEOUT_MSEC, 200);
    s->admin_tcp_server_ = b.BuildAndStart();
    if (!s->admin_tcp_server_ || s->admin_tcp_port_ == 0) {
      return Status::Unavailable("cannot listen on " + config.admin_tcp.listen);
    }
  }
  SetHealth(s->auth_server_.get(), kAuthServices, true);
  SetHealth(s->admin_server_.get(), kAdminServices, true);
  SetHealth(s->admin_tcp_server_.get(), kAdminServices, true);
  spdlog::get("api")->info("authorization listener on port {}, admin socket {}, database {}",
                           s->port_, s->admin_socket_, config.database);
  return s;
}

void Server::Wait() {
  if (auth_server_) auth_server_->Wait();
  if (admin_server_) admin_server_->Wait();
  if (admin_tcp_server_) admin_tcp_server_->Wait();
}

void Server::Shutdown() {
  auto deadline =
      std::chrono::system_clock::now() + std::chrono::milliseconds(config_.shutdown_grace_ms);
  // Both listeners drain concurrently; the audit writer flushes after the last call finished.
  // Health first: NOT_SERVING on both listeners (and every later change ignored) while draining.
  for (grpc::Server* server : {auth_server_.get(), admin_server_.get()}) {
    if (!server) continue;
    if (auto* health = server->GetHealthCheckService()) health->Shutdown();
  }
  std::thread admin_stop([&] {
    if (admin_server_) admin_server_->Shutdown(deadline);
    if (admin_tcp_server_) admin_tcp_server_->Shutdown(deadline);
  });
  if (auth_server_) auth_server_->Shutdown(deadline);
  admin_stop.join();
  if (audit_) {
    audit_->Shutdown();
    // Group commit at work: how many events each transaction carried.
    const audit::AuditWriterStats st = audit_->Stats();
    if (st.batches > 0 && !stats_logged_.exchange(true)) {
      spdlog::get("audit")->info(
          "audit writer: {} events in {} transactions (mean {:.1f}, max {})", st.events, st.batches,
          static_cast<double>(st.events) / static_cast<double>(st.batches), st.max_batch);
    }
  }
}

Server::~Server() {
  Shutdown();
  Wait();
  if (!admin_socket_.empty()) {
    std::error_code ec;
    std::filesystem::remove(admin_socket_, ec);
  }
}

}  // namespace certgate::api
