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
  auto opened = store::OpenSqliteStore(sqlite, clock);
  if (!opened.ok()) return opened.status();
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
  s->authorizer_service_ = std::make_unique<AuthorizerService>(*s->authorizer_);
  s->admin_service_ = std::make_unique<AdminService>(
      AdminService::Deps{*s->store_, *s->audit_, clock, config.xfcc_element, s->validator_.get()});

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  // Authorization listener: Authorize only (never admin calls).
  {
    grpc::ServerBuilder b;
    b.AddListeningPort(config.listen, *credentials, &s->port_);
    b.RegisterService(s->authorizer_service_.get());
    b.SetMaxReceiveMessageSize(1 << 20);
    // The sync server's pollers wake at this interval; it bounds how long shutdown waits.
    b.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::CQ_TIMEOUT_MSEC, 200);
    s->auth_server_ = b.BuildAndStart();
    if (!s->auth_server_ || s->port_ == 0) {
      return Status::Unavailable("cannot listen on " + config.listen);
    }
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
    if (chmod(sock.c_str(), 0600) != 0) {
      return Status::Unavailable("cannot chmod admin socket " + config.admin_socket);
    }
    s->admin_socket_ = config.admin_socket;
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

void Server::Wait() {
  if (auth_server_) auth_server_->Wait();
  if (admin_server_) admin_server_->Wait();
}

void Server::Shutdown() {
  auto deadline =
      std::chrono::system_clock::now() + std::chrono::milliseconds(config_.shutdown_grace_ms);
  // Both listeners drain concurrently; the audit writer flushes after the last call finished.
  std::thread admin_stop([&] {
    if (admin_server_) admin_server_->Shutdown(deadline);
  });
  if (auth_server_) {
    if (auto* health = auth_server_->GetHealthCheckService()) health->Shutdown();
    auth_server_->Shutdown(deadline);
  }
  admin_stop.join();
  if (audit_) audit_->Shutdown();
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
