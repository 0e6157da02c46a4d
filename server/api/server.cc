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

#include "server/certs/crl.h"
#include "server/certs/dn.h"
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

namespace {

std::string Describe(const certs::TrustStore& trust) {
  if (!trust.has_anchors()) {
    return "no trust anchors: fingerprint-only matching, no chain validation";
  }
  std::string out = trust.Describe() + ":";
  for (const certs::CertificateFacts& a : trust.anchors())
    out += " '" + a.subject.ToRfc4514() + "'";
  return out;
}

}  // namespace

Result<std::shared_ptr<const certs::TrustStore>> LoadTrust(const config::TrustConfig& trust) {
  if (trust.ca_files.empty()) return certs::TrustStore::Empty();
  return certs::TrustStore::LoadFiles(trust.ca_files, trust.intermediate_files);
}

// crl.required_issuers as canonical names: DN text, or the subject of each certificate in a file.
Result<std::vector<std::string>> ResolveRequiredIssuers(const config::CrlConfig& crl) {
  std::vector<std::string> out;
  for (const std::string& entry : crl.required_issuers) {
    if (entry.find('=') != std::string::npos) {
      Result<certs::DistinguishedName> dn = certs::ParseDnString(entry);
      if (!dn.ok())
        return Status::InvalidArgument("crl.required_issuers: " + dn.status().message());
      out.push_back(dn->Canonical());
      continue;
    }
    Result<std::vector<std::string>> ders = certs::ReadCertificateFile(entry);
    if (!ders.ok())
      return Status::InvalidArgument("crl.required_issuers: " + ders.status().message());
    for (const std::string& der : *ders) {
      Result<certs::CertificateFacts> facts = certs::ParseCertificate(der);
      if (!facts.ok()) {
        return Status::InvalidArgument("crl.required_issuers: " + entry + ": " +
                                       facts.status().message());
      }
      out.push_back(facts->subject.Canonical());
    }
  }
  return out;
}

namespace {

bool ReadTextFile(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

// Plaintext, or TLS / mTLS from config.tls.
Result<std::shared_ptr<grpc::ServerCredentials>> ListenerCredentials(const config::TlsConfig& tls) {
  if (!tls.enabled()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  if (!ReadTextFile(tls.cert_file, pair.cert_chain)) {
    return Status::InvalidArgument("cannot read tls.cert_file " + tls.cert_file);
  }
  if (!ReadTextFile(tls.key_file, pair.private_key)) {
    return Status::InvalidArgument("cannot read tls.key_file " + tls.key_file);
  }
  grpc_ssl_client_certificate_request_type request = GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
  if (!tls.client_ca_file.empty()) {
    request = tls.require_client_cert ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                      : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  grpc::SslServerCredentialsOptions options(request);
  if (!tls.client_ca_file.empty() && !ReadTextFile(tls.client_ca_file, options.pem_root_certs)) {
    return Status::InvalidArgument("cannot read tls.client_ca_file " + tls.client_ca_file);
  }
  options.pem_key_cert_pairs.push_back(std::move(pair));
  return grpc::SslServerCredentials(options);
}

}  // namespace

Result<std::unique_ptr<Server>> Server::Start(const config::Config& config, const Clock& clock) {
  InitLogging(config.log_level);
  std::unique_ptr<Server> s(new Server());
  s->config_ = config;

  auto trust = LoadTrust(config.trust);
  if (!trust.ok()) return Status::InvalidArgument("trust anchors: " + trust.status().message());
  certs::ValidatorOptions validator_opts;
  validator_opts.cache_max_entries = static_cast<size_t>(config.validation_cache_max_entries);
  s->validator_ = std::make_unique<certs::Validator>(std::move(trust).value(), validator_opts);
  spdlog::get("certs")->info("{}", Describe(*s->validator_->trust_store()));
  auto required_issuers = ResolveRequiredIssuers(config.crl);
  if (!required_issuers.ok()) return required_issuers.status();
  auto credentials = ListenerCredentials(config.tls);
  if (!credentials.ok()) return credentials.status();

  store::SqliteOptions sqlite;
  sqlite.path = config.database;
  sqlite.synchronous_full = config.synchronous_full;
  sqlite.busy_timeout_ms = config.database_busy_timeout_ms;
  auto opened = store::OpenSqliteStore(sqlite, clock);
  if (!opened.ok()) {
    return Status::Unavailable("database " + config.database + ": " + opened.status().message());
  }
  s->store_ = std::move(*opened);

  audit::AuditWriterOptions audit_opts;
  audit_opts.max_batch = static_cast<size_t>(config.audit_max_batch);
  s->audit_ = std::make_unique<audit::AuditWriter>(*s->store_, audit_opts);

  authz::AuthorizerOptions authz_opts;
  authz_opts.xfcc_element = config.xfcc_element;
  authz_opts.forwarders = config.forwarders;
  authz_opts.crl_required_issuers = std::move(required_issuers).value();
  authz_opts.crl_reject_stale = config.crl.stale_policy == "reject";
  s->authorizer_ = std::make_unique<authz::Authorizer>(
      authz::Authorizer::Deps{*s->store_, *s->audit_, clock, s->validator_.get()}, authz_opts);
  s->authz_admission_ = std::make_unique<Admission>(config.max_inflight);
  s->admin_admission_ = std::make_unique<Admission>(0);
  if (config.server_api == "sync") {
    s->authorizer_service_ =
        std::make_unique<AuthorizerService>(*s->authorizer_, s->authz_admission_.get());
  } else {
    s->authorizer_callback_service_ =
        std::make_unique<AuthorizerCallbackService>(AuthorizerCallbackService::Deps{
            *s->authorizer_, *s->audit_, clock, s->authz_admission_.get()});
  }
  AdminService::Deps admin_deps{*s->store_, *s->audit_, clock,   nullptr, 0,
                                false,      "",         nullptr, nullptr};
  admin_deps.authorizer = s->authorizer_.get();
  admin_deps.xfcc_element = config.xfcc_element;
  admin_deps.admission = s->admin_admission_.get();
  admin_deps.validator = s->validator_.get();
  s->admin_service_ = std::make_unique<AdminService>(admin_deps);
  if (config.server_api == "sync") {
    s->ext_authz_service_ = std::make_unique<ExtAuthzService>(*s->authorizer_, config.ext_authz,
                                                              s->authz_admission_.get());
  } else {
    s->ext_authz_callback_service_ = std::make_unique<ExtAuthzCallbackService>(
        ExtAuthzCallbackService::Deps{*s->authorizer_, *s->audit_, clock,
                                      s->authz_admission_.get()},
        config.ext_authz);
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  // Authorization listener: Authorize and Envoy's Check (never admin calls).
  {
    grpc::ServerBuilder b;
    b.AddListeningPort(config.listen, *credentials, &s->port_);
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
    if (config.max_streams_per_connection > 0) {
      b.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, config.max_streams_per_connection);
    }
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
    // CRL imports: a CRL with a few hundred thousand entries is several MiB.
    b.SetMaxReceiveMessageSize(static_cast<int>(certs::kMaxCrlBytes + (1 << 20)));
    b.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::CQ_TIMEOUT_MSEC, 200);
    s->admin_server_ = b.BuildAndStart();
    umask(old_mask);
    if (!s->admin_server_)
      return Status::Unavailable("cannot listen on unix socket " + config.admin_socket);
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
    if (!ReadFile(config.admin_tcp.cert_file, &cert) ||
        !ReadFile(config.admin_tcp.key_file, &key) ||
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
  // SERVING only once the store answers a read and a write; the monitor keeps it honest.
  if (Status ping = s->store_->Ping(); !ping.ok()) {
    return Status::Unavailable("database health probe failed: " + ping.message());
  }
  SetHealth(s->auth_server_.get(), kAuthServices, true);
  SetHealth(s->admin_server_.get(), kAdminServices, true);
  SetHealth(s->admin_tcp_server_.get(), kAdminServices, true);
  s->monitor_ = std::thread([srv = s.get()] { srv->MonitorHealth(); });
  if (config.audit_retention_days > 0) {
    audit::AuditRetention::Options ro;
    ro.max_age_micros = int64_t{config.audit_retention_days} * 86'400'000'000;
    ro.interval_ms = config.audit_retention_interval_ms;
    s->retention_ = std::make_unique<audit::AuditRetention>(*s->store_, clock, ro);
    s->retention_->Start();
  }
  spdlog::get("api")->info("authorization listener on port {} ({}), admin socket {}, database {}",
                           s->port_,
                           !config.tls.enabled()               ? "plaintext"
                           : config.tls.client_ca_file.empty() ? "TLS"
                                                               : "mTLS",
                           s->admin_socket_, config.database);
  return s;
}

Status Server::ReloadTrust(const config::TrustConfig& trust) {
  // Build the new store completely first; only a fully loaded one replaces the current one.
  auto loaded = LoadTrust(trust);
  if (!loaded.ok()) {
    spdlog::get("certs")->error("trust anchors reload failed, keeping the current ones ({}): {}",
                                Describe(*validator_->trust_store()), loaded.status().message());
    return loaded.status();
  }
  validator_->SetTrustStore(std::move(loaded).value());
  spdlog::get("certs")->info("trust anchors reloaded: {}", Describe(*validator_->trust_store()));
  return Status::Ok();
}

void Server::MonitorHealth() {
  bool serving = true;
  std::unique_lock<std::mutex> lock(monitor_mu_);
  while (!monitor_stop_) {
    monitor_cv_.wait_for(lock, std::chrono::milliseconds(config_.health_check_interval_ms));
    if (monitor_stop_) break;
    lock.unlock();
    Status ping = store_->Ping();
    lock.lock();
    if (monitor_stop_) break;
    if (ping.ok() != serving) {
      serving = ping.ok();
      if (serving) {
        spdlog::get("store")->warn("database healthy again: health SERVING");
      } else {
        spdlog::get("store")->error("database unhealthy, health NOT_SERVING: {}", ping.ToString());
      }
      SetHealth(auth_server_.get(), kAuthServices, serving);
      SetHealth(admin_server_.get(), kAdminServices, serving);
      SetHealth(admin_tcp_server_.get(), kAdminServices, serving);
    }
  }
}

void Server::Wait() {
  if (auth_server_) auth_server_->Wait();
  if (admin_server_) admin_server_->Wait();
  if (admin_tcp_server_) admin_tcp_server_->Wait();
}

void Server::Shutdown() {
  std::lock_guard<std::mutex> lock(shutdown_mu_);
  if (shut_down_) return;
  shut_down_ = true;
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::milliseconds(config_.shutdown_grace_ms);
  {
    std::lock_guard<std::mutex> monitor_lock(monitor_mu_);
    monitor_stop_ = true;
  }
  monitor_cv_.notify_all();
  if (monitor_.joinable()) monitor_.join();
  if (retention_) retention_->Stop();
  // 1. Health first: NOT_SERVING on every listener (and every later change ignored).
  for (grpc::Server* server : {auth_server_.get(), admin_server_.get(), admin_tcp_server_.get()}) {
    if (!server) continue;
    if (auto* health = server->GetHealthCheckService()) health->Shutdown();
  }
  // 2. Refuse new calls (UNAVAILABLE: callers retry elsewhere); let admitted ones finish, up to
  // the grace period. Tracking calls ourselves matters: gRPC's own Shutdown(deadline) also
  // waits for idle client connections to go away, which a proxy like Envoy never does.
  if (authz_admission_) authz_admission_->StartDraining();
  if (admin_admission_) admin_admission_->StartDraining();
  bool idle = (!authz_admission_ || authz_admission_->WaitIdle(deadline)) &&
              (!admin_admission_ || admin_admission_->WaitIdle(deadline));
  if (!idle) {
    spdlog::get("api")->warn(
        "shutdown: grace period over with {} call(s) still in flight; "
        "cancelling them",
        authz_admission_ ? authz_admission_->inflight() : 0);
  }
  // 3. Stop the listeners, in parallel. gRPC sends GOAWAY at once; calls it had already queued
  // but not yet handed to a handler get a short window to reach one (and be refused with
  // UNAVAILABLE) before anything left is cancelled.
  const auto now = std::chrono::system_clock::now() + std::chrono::milliseconds(250);
  std::thread admin_stop([&] {
    if (admin_server_) admin_server_->Shutdown(now);
    if (admin_tcp_server_) admin_tcp_server_->Shutdown(now);
  });
  if (auth_server_) auth_server_->Shutdown(now);
  admin_stop.join();
  // 4. Flush the audit writer: every answered call already has its row; this drains the rest.
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
  spdlog::get("api")->info("shutdown complete in {} ms",
                           std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now() - start)
                               .count());
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
