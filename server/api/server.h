// Server: wires the store, audit writer, authorizer and gRPC services from a Config and runs
// the listeners. main() only parses flags and calls this; integration tests use the binary.
#pragma once

#include <grpcpp/server.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/api/admin_service.h"
#include "server/api/admission.h"
#include "server/api/authorizer_service.h"
#include "server/api/ext_authz_service.h"
#include "server/audit/audit_writer.h"
#include "server/audit/retention.h"
#include "server/authz/authorizer.h"
#include "server/certs/validator.h"
#include "server/config/config.h"
#include "server/store/store.h"

namespace certgate::api {

// Not thread-safe except Shutdown() and ReloadTrust(), which may be called from a
// signal-handling thread.
class Server {
 public:
  // Opens the database (applying migrations), starts the audit writer and both listeners.
  // Fails with a clear Status on any startup error (bad address, unusable database, ...).
  static Result<std::unique_ptr<Server>> Start(const config::Config& config, const Clock& clock);
  ~Server();

  // The port the authorization listener bound (useful with port 0).
  int port() const { return port_; }
  // The port the TCP admin listener bound, 0 when there is none.
  int admin_tcp_port() const { return admin_tcp_port_; }
  const std::string& admin_socket() const { return admin_socket_; }

  // Blocks until Shutdown() completes.
  void Wait();
  // Stops accepting calls, lets in-flight calls finish up to the configured grace period,
  // flushes the audit writer. Idempotent.
  void Shutdown();

  // Re-reads the trust anchor and intermediate files named by `trust` and, only when all of them
  // load, swaps the new trust store in atomically (requests in flight finish with the old one)
  // and invalidates the validation cache. On failure the current anchors stay and the error is
  // returned (and logged). Thread-safe (the SIGHUP handler thread calls it).
  Status ReloadTrust(const config::TrustConfig& trust);

 private:
  Server() = default;

  config::Config config_;
  std::unique_ptr<certs::Validator> validator_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<audit::AuditWriter> audit_;
  std::unique_ptr<audit::AuditRetention> retention_;  // audit_retention_days > 0
  std::unique_ptr<authz::Authorizer> authorizer_;
  std::unique_ptr<Admission> authz_admission_;             // Authorize + Check: bounded, drained
  std::unique_ptr<Admission> admin_admission_;             // admin listeners: drained only
  std::unique_ptr<AuthorizerService> authorizer_service_;  // server_api: sync
  std::unique_ptr<AuthorizerCallbackService> authorizer_callback_service_;  // server_api: callback
  std::unique_ptr<ExtAuthzService> ext_authz_service_;                      // server_api: sync
  std::unique_ptr<ExtAuthzCallbackService> ext_authz_callback_service_;     // server_api: callback
  std::unique_ptr<AdminService> admin_service_;
  std::unique_ptr<AdminService> admin_tcp_service_;
  std::unique_ptr<grpc::Server> auth_server_;
  std::unique_ptr<grpc::Server> admin_server_;
  std::unique_ptr<grpc::Server> admin_tcp_server_;
  // Probes the store every health_check_interval_ms and flips health SERVING/NOT_SERVING.
  void MonitorHealth();
  std::thread monitor_;
  std::mutex monitor_mu_;  // guards monitor_stop_
  std::condition_variable monitor_cv_;
  bool monitor_stop_ = false;

  std::mutex shutdown_mu_;  // serialises Shutdown(); guards shut_down_
  bool shut_down_ = false;
  int port_ = 0;
  int admin_tcp_port_ = 0;
  std::atomic<bool> stats_logged_{false};  // the audit batch summary is logged once
  std::string admin_socket_;
};

// Creates the named spdlog loggers (api, certs, store, audit) at the given level.
void InitLogging(const std::string& level);

// The trust store of `trust` (empty, i.e. fingerprint-only, without ca_files). InvalidArgument /
// NotFound naming the file on a bad or missing file.
Result<std::shared_ptr<const certs::TrustStore>> LoadTrust(const config::TrustConfig& trust);
// crl.required_issuers as canonical names: DN text, or the subject of each certificate in a file.
Result<std::vector<std::string>> ResolveRequiredIssuers(const config::CrlConfig& crl);

}  // namespace certgate::api
