// Server configuration: plain structs with defaults written inline (like leveldb's Options),
// parsed from YAML once at start, overridden by command-line flags, validated, immutable after.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "server/common/status.h"

namespace certgate::config {

// A caller allowed to forward certificates in headers (or as subject+serial).
struct ForwarderConfig {
  std::string name;
  // Peer addresses this forwarder connects from: IPs ("127.0.0.1", "::1"), CIDR blocks
  // ("10.0.0.0/8"), or "unix" for any unix-socket peer.
  std::vector<std::string> addresses;
  // Encodings or presets it may use ("xfcc", "envoy", ...). Empty: any.
  std::vector<std::string> encodings;
  // When non-empty, ForwardedHeader.verification must equal this (e.g. nginx "SUCCESS",
  // HAProxy "0", Cloudflare "true"), else PROXY_VERIFICATION_FAILED.
  std::string require_verification;
  // Whether subject+serial credentials (no certificate) are accepted from this forwarder.
  bool allow_subject_serial = true;
};

// Optional TCP admin listener. Only mTLS: the client must present a certificate signed by
// client_ca_file, enrolled to an enabled user with the "admin" role.
struct AdminTcpConfig {
  std::string listen;  // host:port; empty = no TCP admin listener
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;
};

// A request header the ext_authz backend (envoy.service.auth.v3.Authorization/Check) reads a
// forwarded certificate from, when Envoy did not send its own peer certificate.
struct ExtAuthzHeaderConfig {
  std::string name;      // header name, matched case-insensitively
  std::string encoding;  // an encoding or preset name, as in ForwardedHeader ("xfcc", "envoy", ...)
};

// Headers the ext_authz backend adds to an allowed request (overwriting any copy the client
// sent). Values are percent-encoded outside printable ASCII (and '%' itself).
struct ExtAuthzIdentityHeaders {
  std::string user = "x-certgate-user";
  std::string user_id = "x-certgate-user-id";
  std::string fingerprint = "x-certgate-fingerprint";
  std::string subject = "x-certgate-subject";
};

// Envoy ext_authz backend. The certificate comes from attributes.source.certificate when Envoy
// sends it (include_peer_certificate), else from the first of `headers` present in the request.
// Envoy is the forwarder: its address must be listed under `forwarders`.
struct ExtAuthzConfig {
  std::vector<ExtAuthzHeaderConfig> headers = {{"x-forwarded-client-cert", "xfcc"}};
  ExtAuthzIdentityHeaders identity_headers;
};

struct Config {
  // Authorization listener (Authorize), host:port. Port 0 picks a free port.
  std::string listen = "127.0.0.1:8443";
  // Admin listener: a unix socket path, created with 0600 permissions.
  std::string admin_socket = "data/admin.sock";
  // Optional mTLS TCP admin listener (disabled by default).
  AdminTcpConfig admin_tcp;
  // SQLite database file.
  std::string database = "data/certgate.db";
  // trace, debug, info, warn, error, critical, off.
  std::string log_level = "info";
  // XFCC element describing the client: 0 = first (original client), -1 = last.
  int xfcc_element = 0;
  // Callers allowed to forward certificates. Empty: no forwarded credential is believed.
  std::vector<ForwarderConfig> forwarders;
  // PRAGMA synchronous=FULL for the database (durable audit rows).
  bool synchronous_full = true;
  // Maximum time to wait for in-flight calls on SIGTERM before cancelling them.
  int64_t shutdown_grace_ms = 5000;
  // Audit group commit: events per transaction.
  int audit_max_batch = 256;
  // gRPC server API of Authorize on the authorization listener: "callback" (handlers never block
  // gRPC's threads; the audit writer finishes each call after its commit) or "sync" (a thread
  // per in-flight call, blocked in the audit commit). Chosen by measurement: bench/RESULTS.md.
  std::string server_api = "callback";
  // Envoy ext_authz backend (`ext_authz: {headers: [...], identity_headers: {...}}`).
  ExtAuthzConfig ext_authz;
};

// Parses YAML text (keys as in the struct; `forwarders` a list of maps). Unknown keys are an
// error (a typo must not silently disable a security setting). InvalidArgument with the key.
Result<Config> ParseConfigYaml(const std::string& yaml_text);
// Reads and parses a file. NotFound / InvalidArgument.
Result<Config> LoadConfigFile(const std::string& path);
// Checks the whole config (addresses parse, encodings known, ...). InvalidArgument naming the field.
Status Validate(const Config& config);

}  // namespace certgate::config
