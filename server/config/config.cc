#include "server/config/config.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "server/certs/dn.h"
#include "server/common/net.h"

namespace certgate::config {
namespace {

const std::set<std::string>& KnownFormats() {
  static const std::set<std::string> kFormats = {
      "url-pem", "url-pem-aws",  "xfcc",  "base64-der", "rfc9440",
      "traefik", "nginx-legacy", "envoy", "aws-alb",    "cloudflare",
      "nginx",   "haproxy",      "caddy", "gcp",        "subject-serial"};
  return kFormats;
}

Status CheckKeys(const YAML::Node& node, const std::set<std::string>& allowed,
                 const std::string& where) {
  if (!node.IsMap()) return Status::InvalidArgument(where + " must be a map");
  for (const auto& kv : node) {
    std::string key = kv.first.as<std::string>();
    if (!allowed.count(key))
      return Status::InvalidArgument("unknown config key '" + where + key + "'");
  }
  return Status::Ok();
}

template <typename T>
void Read(const YAML::Node& node, const char* key, T& out) {
  if (node[key]) out = node[key].as<T>();
}

Status ParseExtAuthz(const YAML::Node& node, ExtAuthzConfig& out) {
  CERTGATE_RETURN_IF_ERROR(CheckKeys(node, {"headers", "identity_headers"}, "ext_authz."));
  if (node["headers"]) {
    const YAML::Node& list = node["headers"];
    if (!list.IsSequence()) return Status::InvalidArgument("ext_authz.headers must be a list");
    out.headers.clear();
    for (const auto& item : list) {
      CERTGATE_RETURN_IF_ERROR(CheckKeys(item, {"name", "encoding"}, "ext_authz.headers[]."));
      ExtAuthzHeaderConfig h;
      Read(item, "name", h.name);
      Read(item, "encoding", h.encoding);
      out.headers.push_back(std::move(h));
    }
  }
  if (node["identity_headers"]) {
    const YAML::Node& ids = node["identity_headers"];
    CERTGATE_RETURN_IF_ERROR(CheckKeys(ids, {"user", "user_id", "fingerprint", "subject"},
                                       "ext_authz.identity_headers."));
    Read(ids, "user", out.identity_headers.user);
    Read(ids, "user_id", out.identity_headers.user_id);
    Read(ids, "fingerprint", out.identity_headers.fingerprint);
    Read(ids, "subject", out.identity_headers.subject);
  }
  return Status::Ok();
}

// An HTTP field name (RFC 9110 token), not a pseudo-header.
bool IsHeaderName(const std::string& name) {
  if (name.empty() || name.size() > 256) return false;
  for (unsigned char c : name) {
    if (!(std::isalnum(c) || std::strchr("!#$%&'*+-.^_`|~", c))) return false;
  }
  return true;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

Status ValidateExtAuthz(const ExtAuthzConfig& cfg) {
  for (size_t i = 0; i < cfg.headers.size(); ++i) {
    const ExtAuthzHeaderConfig& h = cfg.headers[i];
    std::string where = "ext_authz.headers[" + std::to_string(i) + "]";
    if (!IsHeaderName(h.name)) return Status::InvalidArgument(where + ".name: not a header name");
    if (!KnownFormats().count(h.encoding) || h.encoding == "subject-serial") {
      return Status::InvalidArgument(where + ".encoding: unknown encoding or preset '" +
                                     h.encoding + "'");
    }
  }
  const ExtAuthzIdentityHeaders& ids = cfg.identity_headers;
  std::set<std::string> seen;
  for (const auto& [key, name] :
       {std::pair{"user", &ids.user}, std::pair{"user_id", &ids.user_id},
        std::pair{"fingerprint", &ids.fingerprint}, std::pair{"subject", &ids.subject}}) {
    std::string where = std::string("ext_authz.identity_headers.") + key;
    if (!IsHeaderName(*name)) return Status::InvalidArgument(where + ": not a header name");
    if (!seen.insert(Lower(*name)).second)
      return Status::InvalidArgument(where + ": duplicate header name");
    for (const ExtAuthzHeaderConfig& h : cfg.headers) {
      if (Lower(h.name) == Lower(*name)) {
        return Status::InvalidArgument(where + ": also a certificate header");
      }
    }
  }
  return Status::Ok();
}

Status ValidateTls(const TlsConfig& tls) {
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return Status::InvalidArgument("tls.cert_file and tls.key_file go together");
  }
  if (!tls.client_ca_file.empty() && !tls.enabled()) {
    return Status::InvalidArgument("tls.client_ca_file needs tls.cert_file and tls.key_file");
  }
  if (tls.require_client_cert && tls.client_ca_file.empty()) {
    return Status::InvalidArgument("tls.require_client_cert needs tls.client_ca_file");
  }
  return Status::Ok();
}

Status ValidateTrust(const TrustConfig& trust) {
  for (const auto* list : {&trust.ca_files, &trust.intermediate_files}) {
    for (const std::string& f : *list) {
      if (f.empty()) return Status::InvalidArgument("trust: empty file name");
    }
  }
  if (trust.ca_files.empty() && !trust.intermediate_files.empty()) {
    return Status::InvalidArgument(
        "trust.intermediate_files without trust.ca_files: intermediates are only used to build "
        "chains to an anchor");
  }
  return Status::Ok();
}

Status ValidateCrl(const CrlConfig& crl) {
  if (crl.stale_policy != "reject" && crl.stale_policy != "warn") {
    return Status::InvalidArgument("crl.stale_policy must be reject or warn");
  }
  for (const std::string& issuer : crl.required_issuers) {
    if (issuer.empty()) return Status::InvalidArgument("crl.required_issuers: empty entry");
    if (issuer.find('=') == std::string::npos) continue;  // a file, read at startup
    if (Result<certs::DistinguishedName> dn = certs::ParseDnString(issuer); !dn.ok()) {
      return Status::InvalidArgument("crl.required_issuers: cannot parse '" + issuer +
                                     "': " + dn.status().message());
    }
  }
  return Status::Ok();
}

}  // namespace

Result<Config> ParseConfigYaml(const std::string& yaml_text) {
  Config cfg;
  try {
    YAML::Node root = YAML::Load(yaml_text);
    if (root.IsNull()) return cfg;
    CERTGATE_RETURN_IF_ERROR(CheckKeys(root,
                                       {"listen",
                                        "admin_socket",
                                        "database",
                                        "log_level",
                                        "xfcc_element",
                                        "forwarders",
                                        "synchronous_full",
                                        "shutdown_grace_ms",
                                        "audit_max_batch",
                                        "admin_tcp",
                                        "max_inflight",
                                        "health_check_interval_ms",
                                        "database_busy_timeout_ms",
                                        "trust",
                                        "crl",
                                        "tls",
                                        "validation_cache",
                                        "ext_authz",
                                        "server_api",
                                        "max_streams_per_connection",
                                        "audit_retention_days",
                                        "audit_retention_interval_ms"},
                                       ""));
    Read(root, "listen", cfg.listen);
    Read(root, "admin_socket", cfg.admin_socket);
    Read(root, "database", cfg.database);
    Read(root, "log_level", cfg.log_level);
    Read(root, "xfcc_element", cfg.xfcc_element);
    Read(root, "synchronous_full", cfg.synchronous_full);
    Read(root, "shutdown_grace_ms", cfg.shutdown_grace_ms);
    Read(root, "audit_max_batch", cfg.audit_max_batch);
    Read(root, "max_inflight", cfg.max_inflight);
    Read(root, "max_streams_per_connection", cfg.max_streams_per_connection);
    Read(root, "audit_retention_days", cfg.audit_retention_days);
    Read(root, "audit_retention_interval_ms", cfg.audit_retention_interval_ms);
    Read(root, "health_check_interval_ms", cfg.health_check_interval_ms);
    Read(root, "database_busy_timeout_ms", cfg.database_busy_timeout_ms);
    Read(root, "server_api", cfg.server_api);
    if (root["admin_tcp"]) {
      const YAML::Node& a = root["admin_tcp"];
      CERTGATE_RETURN_IF_ERROR(
          CheckKeys(a, {"listen", "cert_file", "key_file", "client_ca_file"}, "admin_tcp."));
      Read(a, "listen", cfg.admin_tcp.listen);
      Read(a, "cert_file", cfg.admin_tcp.cert_file);
      Read(a, "key_file", cfg.admin_tcp.key_file);
      Read(a, "client_ca_file", cfg.admin_tcp.client_ca_file);
    }
    if (root["forwarders"]) {
      const YAML::Node& list = root["forwarders"];
      if (!list.IsSequence()) return Status::InvalidArgument("forwarders must be a list");
      for (const auto& item : list) {
        CERTGATE_RETURN_IF_ERROR(
            CheckKeys(item,
                      {"name", "addresses", "encodings", "require_verification",
                       "allow_subject_serial", "fingerprints", "subjects", "sans"},
                      "forwarders[]."));
        ForwarderConfig f;
        Read(item, "name", f.name);
        Read(item, "addresses", f.addresses);
        Read(item, "encodings", f.encodings);
        Read(item, "require_verification", f.require_verification);
        Read(item, "allow_subject_serial", f.allow_subject_serial);
        Read(item, "fingerprints", f.fingerprints);
        Read(item, "subjects", f.subjects);
        Read(item, "sans", f.sans);
        cfg.forwarders.push_back(std::move(f));
      }
    }
    if (root["ext_authz"]) {
      CERTGATE_RETURN_IF_ERROR(ParseExtAuthz(root["ext_authz"], cfg.ext_authz));
    }
    if (const YAML::Node trust = root["trust"]) {
      CERTGATE_RETURN_IF_ERROR(CheckKeys(trust, {"ca_files", "intermediate_files"}, "trust."));
      Read(trust, "ca_files", cfg.trust.ca_files);
      Read(trust, "intermediate_files", cfg.trust.intermediate_files);
    }
    if (const YAML::Node crl = root["crl"]) {
      CERTGATE_RETURN_IF_ERROR(CheckKeys(crl, {"required_issuers", "stale_policy"}, "crl."));
      Read(crl, "required_issuers", cfg.crl.required_issuers);
      Read(crl, "stale_policy", cfg.crl.stale_policy);
    }
    if (const YAML::Node tls = root["tls"]) {
      CERTGATE_RETURN_IF_ERROR(CheckKeys(
          tls, {"cert_file", "key_file", "client_ca_file", "require_client_cert"}, "tls."));
      Read(tls, "cert_file", cfg.tls.cert_file);
      Read(tls, "key_file", cfg.tls.key_file);
      Read(tls, "client_ca_file", cfg.tls.client_ca_file);
      Read(tls, "require_client_cert", cfg.tls.require_client_cert);
    }
    if (const YAML::Node cache = root["validation_cache"]) {
      CERTGATE_RETURN_IF_ERROR(CheckKeys(cache, {"max_entries"}, "validation_cache."));
      Read(cache, "max_entries", cfg.validation_cache_max_entries);
    }
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(std::string("config: ") + e.what());
  }
  return cfg;
}

Result<Config> LoadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot read config file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  Result<Config> cfg = ParseConfigYaml(ss.str());
  if (!cfg.ok()) return Status::InvalidArgument(path + ": " + cfg.status().message());
  return cfg;
}

std::optional<std::string> NormalizeFingerprint(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == ':') continue;
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
    out.push_back(c);
  }
  if (out.size() != 64) return std::nullopt;
  return out;
}

Status Validate(const Config& cfg) {
  if (cfg.listen.empty()) return Status::InvalidArgument("listen must not be empty");
  if (cfg.database.empty()) return Status::InvalidArgument("database must not be empty");
  static const std::set<std::string> kLevels = {"trace", "debug",    "info", "warn",
                                                "error", "critical", "off"};
  if (!kLevels.count(cfg.log_level)) {
    return Status::InvalidArgument(
        "log_level must be one of trace, debug, info, warn, error, critical, off");
  }
  if (cfg.shutdown_grace_ms < 0) return Status::InvalidArgument("shutdown_grace_ms must be >= 0");
  if (cfg.max_inflight < 0) return Status::InvalidArgument("max_inflight must be >= 0");
  if (cfg.max_streams_per_connection < 0) {
    return Status::InvalidArgument("max_streams_per_connection must be >= 0");
  }
  if (cfg.audit_retention_days < 0 || cfg.audit_retention_days > 36'500) {
    return Status::InvalidArgument("audit_retention_days must be between 0 and 36500");
  }
  if (cfg.audit_retention_interval_ms < 10) {
    return Status::InvalidArgument("audit_retention_interval_ms must be >= 10");
  }
  if (cfg.database_busy_timeout_ms < 0) {
    return Status::InvalidArgument("database_busy_timeout_ms must be >= 0");
  }
  if (cfg.health_check_interval_ms < 10) {
    return Status::InvalidArgument("health_check_interval_ms must be >= 10");
  }
  if (cfg.validation_cache_max_entries < 0 || cfg.validation_cache_max_entries > 10'000'000) {
    return Status::InvalidArgument("validation_cache.max_entries must be in 0..10000000");
  }
  CERTGATE_RETURN_IF_ERROR(ValidateTls(cfg.tls));
  CERTGATE_RETURN_IF_ERROR(ValidateTrust(cfg.trust));
  CERTGATE_RETURN_IF_ERROR(ValidateCrl(cfg.crl));
  if (cfg.audit_max_batch < 1 || cfg.audit_max_batch > 10000) {
    return Status::InvalidArgument("audit_max_batch must be in 1..10000");
  }
  if (cfg.server_api != "callback" && cfg.server_api != "sync") {
    return Status::InvalidArgument("server_api must be callback or sync");
  }
  if (!cfg.admin_tcp.listen.empty() &&
      (cfg.admin_tcp.cert_file.empty() || cfg.admin_tcp.key_file.empty() ||
       cfg.admin_tcp.client_ca_file.empty())) {
    return Status::InvalidArgument(
        "admin_tcp requires cert_file, key_file and client_ca_file: the TCP admin listener is "
        "mTLS only");
  }
  CERTGATE_RETURN_IF_ERROR(ValidateExtAuthz(cfg.ext_authz));
  for (size_t i = 0; i < cfg.forwarders.size(); ++i) {
    const ForwarderConfig& f = cfg.forwarders[i];
    std::string where = "forwarders[" + std::to_string(i) + "]";
    const bool by_identity = !f.fingerprints.empty() || !f.subjects.empty() || !f.sans.empty();
    if (f.addresses.empty() && !by_identity) {
      return Status::InvalidArgument(where +
                                     ".addresses must not be empty (or give fingerprints, "
                                     "subjects or sans of the forwarder's TLS client certificate)");
    }
    if (by_identity && cfg.tls.client_ca_file.empty()) {
      return Status::InvalidArgument(
          where +
          ": matching a forwarder by its TLS client certificate needs tls.client_ca_file "
          "(otherwise no client certificate is requested or verified)");
    }
    for (const std::string& fp : f.fingerprints) {
      if (!NormalizeFingerprint(fp)) {
        return Status::InvalidArgument(where + ".fingerprints: '" + fp +
                                       "' is not a SHA-256 fingerprint (64 hex digits)");
      }
    }
    for (const std::string& dn : f.subjects) {
      if (Result<certs::DistinguishedName> parsed = certs::ParseDnString(dn);
          !parsed.ok() || parsed->empty()) {
        return Status::InvalidArgument(where + ".subjects: cannot parse '" + dn + "'" +
                                       (parsed.ok() ? "" : ": " + parsed.status().message()));
      }
    }
    for (const std::string& san : f.sans) {
      if (san.empty()) return Status::InvalidArgument(where + ".sans: empty entry");
    }
    for (const std::string& a : f.addresses) {
      if (a != "unix" && !net::ParseAddressPattern(a).has_value()) {
        return Status::InvalidArgument(where + ".addresses: cannot parse '" + a + "'");
      }
    }
    for (const std::string& e : f.encodings) {
      if (!KnownFormats().count(e)) {
        return Status::InvalidArgument(where + ".encodings: unknown encoding or preset '" + e +
                                       "'");
      }
    }
  }
  return Status::Ok();
}

}  // namespace certgate::config
