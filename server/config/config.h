// Server configuration: plain structs with defaults written inline (like leveldb's Options),
// parsed from YAML once at start, overridden by command-line flags, validated, immutable after.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "server/common/status.h"

namespace certgate::config {

// A caller allowed to forward certificates in headers (or as subject+serial).
//
// A forwarder is recognised by where it connects from (`addresses`), by its own TLS client
// certificate on certgate's listener (`fingerprints`, `subjects`, `sans`; needs `tls` with a
// `client_ca_file`, so that the certificate was verified in the handshake), or by both. Each kind
// that is configured must match: with addresses AND identities, a caller needs one of the
// addresses and one of the identities. At least one kind must be configured.
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
  // Whether subject+serial credentials (no certificate) are accepted from this forwarder. Off by
  // default: such a credential carries no certificate to check, so only a forwarder that
  // verified the client's certificate itself should be allowed to assert one.
  bool allow_subject_serial = false;
  // The forwarder's TLS client certificate matches when ANY of these matches:
  // SHA-256 fingerprints of its DER (hex; colons and case are ignored),
  std::vector<std::string> fingerprints;
  // subject DNs (RFC 4514 or "/C=../CN=.." text, compared in canonical form, never as text),
  std::vector<std::string> subjects;
  // subjectAltNames: a DNS name (no ':'; compared case-insensitively) or a URI (exact).
  std::vector<std::string> sans;
};

// Trust anchors for chain validation. With no ca_files, certgate keeps the fingerprint-only mode:
// a presented certificate is not chain-checked and matches only by its SHA-256 fingerprint. With
// ca_files, every presented certificate must chain to one of them (else UNTRUSTED_ISSUER).
// Reloaded on SIGHUP (the files are re-read; a failed reload keeps the current anchors).
struct TrustConfig {
  // PEM (one or more certificates) or DER files of self-signed root CAs.
  std::vector<std::string> ca_files;
  // CA certificates used only to build chains (never trusted by themselves), for clients that
  // do not send their intermediates.
  std::vector<std::string> intermediate_files;
};

// Revocation by imported CRLs (`certgate crl import`). A CRL, once imported, is always used for
// its issuer's certificates.
struct CrlConfig {
  // Issuers whose certificates are accepted only while a CRL of that issuer is imported: DN text
  // (an entry containing '=') or the path of a PEM/DER file holding the issuer's certificate.
  std::vector<std::string> required_issuers;
  // What a required issuer's CRL past its nextUpdate means: "reject" (UNTRUSTED_ISSUER) or "warn"
  // (log and keep using it). A stale CRL of an issuer that is not required is always used with a
  // warning. A missing CRL of a required issuer is always a rejection.
  std::string stale_policy = "reject";
};

// TLS on the authorization listener. Without cert_file the listener is plaintext.
struct TlsConfig {
  std::string cert_file;  // PEM certificate chain of the server
  std::string key_file;   // PEM private key
  // PEM CA certificates that clients' certificates must chain to. When set, a client certificate
  // is requested and verified during the handshake (and is what `forwarders[].fingerprints`
  // etc. match); when empty, none is requested.
  std::string client_ca_file;
  // Refuse the handshake of a client without a certificate (needs client_ca_file).
  bool require_client_cert = false;

  bool enabled() const { return !cert_file.empty(); }
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
  // How long a database call waits for another writer's lock before failing (UNAVAILABLE).
  int database_busy_timeout_ms = 5000;
  // How often the store is probed (a read and a small committed write); while the probe fails,
  // health reports NOT_SERVING. It recovers by itself when the fault clears.
  int health_check_interval_ms = 1000;
  // Authorize/Check calls worked on at once; beyond this, RESOURCE_EXHAUSTED at once
  // (0 = unbounded). Admin calls are not counted.
  int max_inflight = 256;
  // HTTP/2 streams (calls) one connection may have open on the authorization listener
  // (SETTINGS_MAX_CONCURRENT_STREAMS; 0 = gRPC's default, unlimited). A caller beyond it waits for
  // a stream in its own client (Envoy opens another connection) instead of the server reading and
  // holding the call: this is what bounds the server's memory when it is too busy to even refuse
  // (about 60 KiB per held call, so connections x this x 60 KiB; bench/overload.sh). 64 streams
  // carry well over the server's throughput on one connection (calls last a few ms).
  int max_streams_per_connection = 64;
  // Audit group commit: events per transaction.
  int audit_max_batch = 256;
  // Audit retention: rows older than this many days are deleted (in batches of 1000, by a
  // background pass every audit_retention_interval_ms). 0 keeps every row (the default: the
  // trail is evidence; set it, or the database grows with the traffic, about 470 bytes a call).
  int audit_retention_days = 0;
  int64_t audit_retention_interval_ms = 60'000;
  // gRPC server API of Authorize on the authorization listener: "callback" (handlers never block
  // gRPC's threads; the audit writer finishes each call after its commit) or "sync" (a thread
  // per in-flight call, blocked in the audit commit). Chosen by measurement: bench/RESULTS.md.
  std::string server_api = "callback";
  // Envoy ext_authz backend (`ext_authz: {headers: [...], identity_headers: {...}}`).
  ExtAuthzConfig ext_authz;
  TrustConfig trust;
  CrlConfig crl;
  TlsConfig tls;
  // Validation cache (YAML `validation_cache: {max_entries: N}`): distinct presented chains whose
  // parse and chain verification are remembered. 0 disables the cache.
  int64_t validation_cache_max_entries = 10000;
};

// Parses YAML text (keys as in the struct; `forwarders` a list of maps; `trust`, `crl`, `tls`
// and `validation_cache` maps). Unknown keys are an
// error (a typo must not silently disable a security setting). InvalidArgument with the key.
Result<Config> ParseConfigYaml(const std::string& yaml_text);
// Reads and parses a file. NotFound / InvalidArgument.
Result<Config> LoadConfigFile(const std::string& path);
// Checks the whole config (addresses parse, encodings known, ...). InvalidArgument naming the
// field. Does not read the files it names (startup does, and fails clearly when one is unusable).
Status Validate(const Config& config);

// A fingerprint as configured ("AB:CD:...", any case) in the form certgate compares:
// 64 lowercase hex digits; nullopt when it is not a SHA-256 fingerprint.
std::optional<std::string> NormalizeFingerprint(const std::string& text);

}  // namespace certgate::config
