// certgate: the operator CLI. Subcommands by noun (user, cert, audit, crl, authorize); human tables
// by default, `-o json` for scripts. Exit codes: 0 success/allowed, 1 denied or not found,
// 2 usage or connection error. Talks to the server through the client library only.
#include <google/protobuf/util/json_util.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "certgate/client.h"
#include "server/api/embedded_admin.h"
#include "server/config/config.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitDenied = 1;
constexpr int kExitUsage = 2;

struct Globals {
  std::string server;
  std::string db;      // direct-database mode (admin commands only)
  std::string config;  // server config (forwarders for explain) in --db mode
  std::string ca, cert, key, server_name;
  std::string output = "table";
  int timeout_ms = 10000;
};

std::string Env(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

std::string ToJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions opts;
  opts.add_whitespace = true;
  opts.preserve_proto_field_names = true;
  opts.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, opts);
  return out;
}

std::string FormatTime(const google::protobuf::Timestamp& ts) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return "-";
  std::time_t t = ts.seconds();
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> w(header.size());
  for (size_t i = 0; i < header.size(); ++i) w[i] = header[i].size();
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], r[i].size());
  auto line = [&](const std::vector<std::string>& r) {
    std::string s;
    for (size_t i = 0; i < r.size(); ++i) {
      s += r[i];
      if (i + 1 < r.size()) s += std::string(w[i] - r[i].size() + 2, ' ');
    }
    std::cout << s << "\n";
  };
  line(header);
  for (const auto& r : rows) line(r);
}

std::string AdminDefault() { return Env("CERTGATE_ADMIN_SOCKET", "unix:data/admin.sock"); }
std::string AuthzDefault() { return Env("CERTGATE_SERVER", "127.0.0.1:8443"); }

// "2026-01-02T03:04:05Z" or a duration back from now: "90s", "15m", "2h", "7d".
bool ParseTimeArg(const std::string& text, google::protobuf::Timestamp* out) {
  if (text.empty()) return false;
  char unit = text.back();
  if (std::string("smhd").find(unit) != std::string::npos && text.size() > 1) {
    std::string num = text.substr(0, text.size() - 1);
    if (num.find_first_not_of("0123456789") != std::string::npos) return false;
    int64_t n = std::stoll(num);
    int64_t mult = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : 86400;
    out->set_seconds(static_cast<int64_t>(std::time(nullptr)) - n * mult);
    return true;
  }
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (!end || *end != '\0') return false;
  out->set_seconds(timegm(&tm));
  return true;
}

std::string ToJsonLine(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, opts);
  return out;
}

std::vector<std::string> AuditRow(const certgate::v1::AuditEvent& e) {
  return {std::to_string(e.id()),
          FormatTime(e.time()),
          e.kind(),
          e.decision(),
          e.reason().empty() ? "-" : e.reason(),
          e.user_name().empty() ? "-" : e.user_name(),
          e.request_id().empty() ? "-" : e.request_id(),
          e.action().empty() ? "-" : e.action(),
          e.caller()};
}
const std::vector<std::string> kAuditHeader = {"ID",   "TIME",       "KIND",   "DECISION", "REASON",
                                               "USER", "REQUEST ID", "ACTION", "CALLER"};

std::atomic<bool> g_interrupted{false};

int RpcError(const grpc::Status& s) {
  std::fprintf(stderr, "certgate: %s (%d): %s\n",
               s.error_code() == grpc::StatusCode::UNAVAILABLE ? "server unavailable" : "error",
               static_cast<int>(s.error_code()), s.error_message().c_str());
  switch (s.error_code()) {
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::PERMISSION_DENIED:
      return kExitDenied;
    default:
      return kExitUsage;
  }
}

// Keeps the in-process admin service alive for the whole command in --db mode.
std::unique_ptr<certgate::api::EmbeddedAdmin> g_embedded;

// Connects to the admin API (admin=true) or the authorization listener.
std::unique_ptr<certgate::Client> Connect(const Globals& g, bool admin) {
  const std::string default_target = admin ? AdminDefault() : AuthzDefault();
  if (!g.db.empty() && admin) {
    certgate::config::Config cfg;
    if (!g.config.empty()) {
      auto loaded = certgate::config::LoadConfigFile(g.config);
      if (!loaded.ok()) {
        std::fprintf(stderr, "certgate: %s\n", loaded.status().message().c_str());
        return nullptr;
      }
      cfg = *loaded;
    }
    const char* user = std::getenv("USER");
    std::string actor =
        "cli --db uid=" + std::to_string(getuid()) + (user ? std::string(" user=") + user : "");
    auto opened = certgate::api::EmbeddedAdmin::Open(g.db, actor, cfg);
    if (!opened.ok()) {
      std::fprintf(stderr, "certgate: cannot open database %s: %s\n", g.db.c_str(),
                   opened.status().ToString().c_str());
      return nullptr;
    }
    g_embedded = std::move(*opened);
    return std::make_unique<certgate::Client>(g_embedded->channel(),
                                              std::chrono::milliseconds(g.timeout_ms));
  }
  certgate::ChannelOptions o;
  o.target = g.server.empty() ? default_target : g.server;
  o.ca_file = g.ca;
  o.cert_file = g.cert;
  o.key_file = g.key;
  o.server_name_override = g.server_name;
  std::string err;
  auto ch = certgate::MakeChannel(o, &err);
  if (!ch) {
    std::fprintf(stderr, "certgate: %s\n", err.c_str());
    return nullptr;
  }
  return std::make_unique<certgate::Client>(ch, std::chrono::milliseconds(g.timeout_ms));
}

std::string StripTrailingNewlines(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

void PrintUser(const certgate::v1::User& u) {
  PrintTable(
      {"ID", "NAME", "DISPLAY NAME", "DISABLED", "ROLES"},
      {{std::to_string(u.id()), u.name(), u.display_name(), u.disabled() ? "yes" : "no", [&] {
          std::string r;
          for (const auto& x : u.roles()) r += (r.empty() ? "" : ",") + x;
          return r.empty() ? std::string("-") : r;
        }()}});
}

std::vector<std::string> CertRow(const certgate::v1::Certificate& c) {
  return {std::to_string(c.id()),
          c.user_name(),
          c.status(),
          c.fingerprint_sha256().empty() ? "-" : c.fingerprint_sha256().substr(0, 16) + "...",
          c.serial(),
          c.subject(),
          FormatTime(c.not_after())};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"certgate: operate certgate — users, certificates, audit, and authorization checks"};
  app.require_subcommand(1);
  app.fallthrough();  // global options (-o, --server, ...) are accepted after the subcommand too
  app.footer(
      "Examples:\n"
      "  certgate user create alice --role admin\n"
      "  certgate cert enroll --user alice alice.pem\n"
      "  certgate authorize alice.pem\n"
      "  certgate authorize --preset envoy xfcc.txt\n"
      "  certgate cert revoke --fingerprint 3f2a...\n"
      "  certgate audit list --limit 20 -o json\n"
      "  certgate audit tail -f\n"
      "  certgate --db data/certgate.db user create root --role admin   # bootstrap, no server\n"
      "  certgate crl import root.crl\n"
      "Environment: CERTGATE_SERVER (authorize target), CERTGATE_ADMIN_SOCKET (admin target).");
  Globals g;
  app.add_option("--server", g.server,
                 "server address: host:port, or unix:PATH / PATH for the admin socket "
                 "(default: 127.0.0.1:8443 for authorize, unix:data/admin.sock otherwise)");
  app.add_option("--ca", g.ca, "CA file to verify the server (enables TLS)");
  app.add_option("--cert", g.cert, "client certificate file for mTLS");
  app.add_option("--key", g.key, "client key file for mTLS");
  app.add_option("--server-name", g.server_name, "expected server certificate name (TLS)");
  app.add_option("-o,--output", g.output, "output format: table or json")
      ->check(CLI::IsMember({"table", "json"}));
  app.add_option("--timeout-ms", g.timeout_ms, "RPC deadline in milliseconds");
  app.add_option("--db", g.db,
                 "operate directly on this SQLite database instead of a server (admin commands; "
                 "for bootstrap and recovery)");
  app.add_option(
      "--config", g.config,
      "server config file with --db: trust anchors for crl import, forwarders for explain");

  int exit_code = kExitOk;

  // ---- authorize ----
  auto* authz = app.add_subcommand("authorize", "ask certgate to decide on a certificate");
  authz->footer(
      "Examples:\n"
      "  certgate authorize alice.pem                 # PEM or DER file, detected\n"
      "  certgate authorize --encoding xfcc hdr.txt   # a forwarded header value\n"
      "  certgate authorize --subject 'CN=alice,O=Example' --serial 0A:1B --issuer 'CN=CA'");
  std::string a_file, a_encoding, a_preset, a_chain_file, a_verification, a_subject, a_serial,
      a_issuer, a_request_id, a_action, a_resource;
  bool a_decimal = false;
  authz->add_option("file", a_file, "certificate (PEM/DER) or header-value file; '-' for stdin");
  authz->add_option(
      "--encoding", a_encoding,
      "header encoding: url-pem, url-pem-aws, xfcc, base64-der, rfc9440, traefik, nginx-legacy");
  authz->add_option(
      "--preset", a_preset,
      "proxy preset: envoy, aws-alb, cloudflare, traefik, nginx, haproxy, caddy, gcp");
  authz->add_option("--chain-file", a_chain_file, "rfc9440 Client-Cert-Chain value file");
  authz->add_option("--verification", a_verification, "proxy verification value (e.g. SUCCESS)");
  authz->add_option("--subject", a_subject, "subject DN (instead of a certificate)");
  authz->add_option("--serial", a_serial, "serial number (with --subject)");
  authz->add_option("--issuer", a_issuer, "issuer DN (with --subject)");
  authz->add_flag("--decimal", a_decimal, "the serial is decimal");
  authz->add_option("--request-id", a_request_id, "request id to record");
  authz->add_option("--action", a_action, "action to record");
  authz->add_option("--resource", a_resource, "resource to record");
  authz->callback([&] {
    certgate::v1::AuthorizeRequest req;
    if (!a_subject.empty() || !a_serial.empty()) {
      req = certgate::SubjectSerialRequest(a_subject, a_serial, a_issuer, a_decimal);
    } else {
      if (a_file.empty())
        throw CLI::ValidationError("authorize", "give a file, or --subject and --serial");
      std::string data;
      if (a_file == "-") {
        std::ostringstream ss;
        ss << std::cin.rdbuf();
        data = ss.str();
      } else if (!ReadFile(a_file, &data)) {
        std::fprintf(stderr, "certgate: cannot read %s\n", a_file.c_str());
        exit_code = kExitUsage;
        return;
      }
      if (!a_encoding.empty() || !a_preset.empty()) {
        req = certgate::HeaderRequest(StripTrailingNewlines(data),
                                      a_preset.empty() ? a_encoding : a_preset);
        if (!a_chain_file.empty()) {
          std::string chain;
          if (!ReadFile(a_chain_file, &chain)) {
            std::fprintf(stderr, "certgate: cannot read %s\n", a_chain_file.c_str());
            exit_code = kExitUsage;
            return;
          }
          req.mutable_forwarded_header()->set_chain_value(StripTrailingNewlines(chain));
        }
        req.mutable_forwarded_header()->set_verification(a_verification);
      } else if (data.find("-----BEGIN") != std::string::npos) {
        req = certgate::PemRequest(data);
      } else {
        req = certgate::DerRequest(data);
      }
    }
    req.set_request_id(a_request_id);
    req.set_action(a_action);
    req.set_resource(a_resource);
    auto client = Connect(g, false);
    if (!client) {
      exit_code = kExitUsage;
      return;
    }
    certgate::v1::AuthorizeResponse resp;
    grpc::Status s = client->Authorize(req, &resp);
    if (!s.ok()) {
      exit_code = RpcError(s);
      return;
    }
    if (g.output == "json") {
      std::cout << ToJson(resp) << "\n";
    } else if (resp.has_identity()) {
      const auto& id = resp.identity();
      std::cout << "ALLOWED  user=" << id.user_name() << " (id " << id.user_id() << ")\n"
                << "  fingerprint " << id.certificate().fingerprint_sha256() << "\n"
                << "  subject     " << id.certificate().subject() << "\n"
                << "  issuer      " << id.certificate().issuer() << "\n"
                << "  serial      " << id.certificate().serial() << "\n"
                << "  audit id    " << resp.audit_id() << "  request id " << resp.request_id()
                << "\n";
    } else {
      std::cout << "DENIED   " << certgate::v1::Rejection::Reason_Name(resp.rejection().reason())
                << ": " << resp.rejection().message() << "\n"
                << "  audit id    " << resp.audit_id() << "  request id " << resp.request_id()
                << "\n";
    }
    exit_code = resp.has_identity() ? kExitOk : kExitDenied;
  });

  // ---- user ----
  auto* user = app.add_subcommand("user", "manage users");
  user->require_subcommand(1);
  auto* u_create = user->add_subcommand("create", "create a user");
  u_create->footer("Example:\n  certgate user create alice --display-name 'Alice A.' --role admin");
  std::string u_name, u_display;
  std::vector<std::string> u_roles;
  u_create->add_option("name", u_name, "user name")->required();
  u_create->add_option("--display-name", u_display, "display name");
  u_create->add_option("--role", u_roles, "role (repeatable), e.g. admin");
  u_create->callback([&] {
    auto client = Connect(g, true);
    if (!client) {
      exit_code = kExitUsage;
      return;
    }
    certgate::v1::CreateUserRequest req;
    req.set_name(u_name);
    req.set_display_name(u_display);
    for (const auto& r : u_roles) req.add_roles(r);
    certgate::v1::User resp;
    auto ctx = client->NewContext();
    grpc::Status s = client->admin().CreateUser(ctx.get(), req, &resp);
    if (!s.ok()) {
      exit_code = RpcError(s);
      return;
    }
    if (g.output == "json")
      std::cout << ToJson(resp) << "\n";
    else
      PrintUser(resp);
  });
  auto* u_list = user->add_subcommand("list", "list users");
  u_list->callback([&] {
    auto client = Connect(g, true);
    if (!client) {
      exit_code = kExitUsage;
      return;
    }
    certgate::v1::ListUsersResponse resp;
    auto ctx = client->NewContext();
    grpc::Status s = client->admin().ListUsers(ctx.get(), {}, &resp);
    if (!s.ok()) {
      exit_code = RpcError(s);
      return;
    }
    if (g.output == "json") {
      std::cout << ToJson(resp) << "\n";
      return;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& u : resp.users()) {
      std::string roles;
      for (const auto& r : u.roles()) roles += (roles.empty() ? "" : ",") + r;
      rows.push_back({std::to_string(u.id()), u.name(), u.display_name(),
                      u.disabled() ? "yes" : "no", roles.empty() ? "-" : roles});
    }
    PrintTable({"ID", "NAME", "DISPLAY NAME", "DISABLED", "ROLES"}, rows);
  });
  std::string u_get_name;
  auto* u_get = user->add_subcommand("get", "show one user");
  u_get->add_option("name", u_get_name, "user name")->required();
  u_get->callback([&] {
    auto client = Connect(g, true);
    if (!client) {
      exit_code = kExitUsage;
      return;
    }
    certgate::v1::GetUserRequest req;
    req.set_name(u_get_name);
    certgate::v1::User resp;
    auto ctx = client->NewContext();
    grpc::Status s = client->admin().GetUser(ctx.get(), req, &resp);
    if (!s.ok()) {
      exit_code = RpcError(s);
      return;
    }
    if (g.output == "json")
      std::cout << ToJson(resp) << "\n";
    else
      PrintUser(resp);
  });
  std::string u_toggle_name;
  for (bool disable : {true, false}) {
    auto* sub = user->add_subcommand(
        disable ? "disable" : "enable",
        disable ? "disable a user (their certificates stop working at once)" : "re-enable a user");
    sub->add_option("name", u_toggle_name, "user name")->required();
    sub->callback([&, disable] {
      auto client = Connect(g, true);
      if (!client) {
        exit_code = kExitUsage;
        return;
      }
      certgate::v1::SetUserDisabledRequest req;
      req.set_name(u_toggle_name);
      req.set_disabled(disable);
      certgate::v1::User resp;
      auto ctx = client->NewContext();
      grpc::Status s = client->admin().SetUserDisabled(ctx.get(), req, &resp);
      if (!s.ok()) {
        exit_code = RpcError(s);
        return;
      }
      if (g.output == "json")
        std::cout << ToJson(resp) << "\n";
      else
        PrintUser(resp);
    });
  }

  std::string u_roles_name;
  std::vector<std::string> u_roles_set;
  auto* u_roles_cmd = user->add_subcommand("roles", "replace a user's roles");
  u_roles_cmd->footer(
      "Examples:\n  certgate user roles alice --role admin\n  certgate user roles alice   # "
      "removes every role");
  u_roles_cmd->add_option("name", u_roles_name, "user name")->required();
  u_roles_cmd->add_option("--role", u_roles_set, "role (repeatable); none removes all");
  u_roles_cmd->callback([&] {
    auto client = Connect(g, true);
    if (!client) {
      exit_code = kExitUsage;
      return;
    }
    certgate::v1::SetUserRolesRequest req;
    req.set_name(u_roles_name);
    for (const auto& r : u_roles_set) req.add_roles(r);
    certgate::v1::User resp;
    auto ctx = client->NewContext();
    grpc::Status s = client->admin().SetUserRoles(ctx.get(), req, &resp);
    if (!s.ok()) {
      exit_code = RpcError(s);
      return;
    }
    if (g.output == "json")
      std::cout << ToJson(resp) << "\n";
    else
      PrintUser(resp);
  });

  // ---- cert ----
  auto* cert = app.add_subcommand("cert", "manage enrolled certificates");
  cert->require_subcommand(1);
  auto* c_enroll = cert->add_subcommand("enroll", "enroll a certificate for a user");
  c_enroll->footer(
      "Examples:\n"
      "  certgate cert enroll --user alice alice.pem\n"
      "  certgate cert enroll --user alice --subject 'CN=alice,O=Ex' --serial 0A1B --issuer 'CN=Ex "
      "CA'");
  std::string e_user, e_file, e_encoding, e_subject, e_serial, e_issuer;
  bool e_force = false, e_decimal = false;
  c_enroll->add_option("--user", e_user, "user name")->required();
  c_enroll->add_option("file", e_file,
                       "certificate file (PEM or DER) or header value with --encoding");
  c_enroll->add_option("--encoding", e_encoding,
                       "the file holds a header value in this encoding/preset");
  c_enroll->add_option("--subject", e_subject, "subject DN (enroll without the certificate)");
  c_enroll->add_option("--serial", e_serial, "serial (with --subject)");
  c_enroll->add_option("--issuer", e_issuer, "issuer DN (with --subject; required)");
  c_enroll->add_flag("--decimal", e_decimal, "the serial is decimal");
  c_enroll->add_flag("--force", e_force,
                     "enroll despite refusable checks (expired, weak key, ...)");
  c_enroll->callback([&] {
    certgate::v1::EnrollCertificateRequest req;
    req.set_user_name(e_user);
    req.set_force(e_force);
    if (!e_subject.empty()) {
      auto* ss = req.mutable_subject_serial();
      ss->set_subject_dn(e_subject);
      ss->set_serial(e_serial);
      ss->set_issuer_dn(e_issuer);
      ss->set_serial_format(e_decimal ? certgate::v1::SubjectSerial::DECIMAL
                                      : certgate::v1::SubjectSerial::HEX);
    } else {
      if (e_file.empty())
        throw CLI::ValidationError("enroll",
                                   "give a certificate file or --subject/--serial/--issuer");
      std::string data;
      if (!ReadFile(e_file, &data)) {
        std::fprintf(stderr, "certgate: cannot read %s\n", e_file.c_str());
        exit_code = kExitUsage;
        return;
      }
      if (!e_encoding.empty()) {
        auto* h = req.mutable_forwarded_header();
        h->set_value(StripTrailingNewlines(data));
        if (certgate::IsPreset(e_encoding))
          h->set_preset(e_encoding);
        else
          h->set_encoding(e_encoding);
      } else if (data.find("-----BEGIN") != std::string::npos) {
        req.set_certificate_pem(data);
      } else {
        req.set_certificate_der(data);
      }
    }
    auto client = Connect(g, true);
    if (!client) {
      exit_code = kExitUsage;
      return;
    }
    certgate::v1::Certificate resp;
    auto ctx = client->NewContext();
    grpc::Status s = client->admin().EnrollCertificate(ctx.get(), req, &resp);
    if (!s.ok()) {
      exit_code = RpcError(s);
      return;
    }
    if (g.output == "json") {
      std::cout << ToJson(resp) << "\n";
      return;
    }
    PrintTable({"ID", "USER", "STATUS", "FINGERPRINT", "SERIAL", "SUBJECT", "NOT AFTER"},
               {CertRow(resp)});
  });
  auto* c_list = cert->add_subcommand("list", "list enrolled certificates");
  std::string l_user, l_status;
  int l_expiring = 0;
  c_list->footer(
      "Examples:\n  certgate cert list --user alice\n  certgate cert list --status active "
      "--expiring-days 30");
  c_list->add_option("--user", l_user, "only this user's certificates");
  c_list->add_option("--status", l_status, "active, revoked or on_hold")
      ->check(CLI::IsMember({"active", "revoked", "on_hold"}));
  c_list->add_option("--expiring-days", l_expiring, "only certificates expiring within N days");
  c_list->callback([&] {
    auto client = Connect(g, true);
    if (!client) {
      exit_code = kExitUsage;
      return;
    }
    certgate::v1::ListCertificatesRequest req;
    req.set_user_name(l_user);
    req.set_status(l_status);
    req.set_expiring_within_days(l_expiring);
    // Every page, gathered into one list (the server answers at most 1000 per call).
    certgate::v1::ListCertificatesResponse resp;
    do {
      certgate::v1::ListCertificatesResponse page;
      auto ctx = client->NewContext();
      grpc::Status s = client->admin().ListCertificates(ctx.get(), req, &page);
      if (!s.ok()) {
        exit_code = RpcError(s);
        return;
      }
      for (auto& c : *page.mutable_certificates()) *resp.add_certificates() = std::move(c);
      req.set_page_token(page.next_page_token());
    } while (!req.page_token().empty());
    if (g.output == "json") {
      std::cout << ToJson(resp) << "\n";
      return;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& c : resp.certificates()) rows.push_back(CertRow(c));
    PrintTable({"ID", "USER", "STATUS", "FINGERPRINT", "SERIAL", "SUBJECT", "NOT AFTER"}, rows);
  });
  auto* c_revoke = cert->add_subcommand("revoke", "revoke an enrolled certificate");
  c_revoke->footer(
      "Examples:\n"
      "  certgate cert revoke --fingerprint 3f2a...e9\n"
      "  certgate cert revoke --issuer 'CN=Example CA,O=Example' --serial 0A:1B --reason 1");
  std::string r_fp, r_issuer, r_serial, r_user, r_time;
  int r_reason = 0;
  c_revoke->add_option("--user", r_user, "revoke every certificate of this user");
  c_revoke->add_option("--time", r_time,
                       "revocation time (RFC 3339 UTC or e.g. 2h ago as '2h'); default now");
  bool r_decimal = false;
  c_revoke->add_option("--fingerprint", r_fp, "SHA-256 fingerprint (hex)");
  c_revoke->add_option("--issuer", r_issuer, "issuer DN (with --serial)");
  c_revoke->add_option("--serial", r_serial, "serial (with --issuer; never alone)");
  c_revoke->add_flag("--decimal", r_decimal, "the serial is decimal");
  c_revoke->add_option(
      "--reason", r_reason,
      "RFC 5280 reason code (0 unspecified, 1 keyCompromise, 6 certificateHold, ...)");
  c_revoke->callback([&] {
    certgate::v1::RevokeCertificateRequest req;
    if (!r_time.empty() && !ParseTimeArg(r_time, req.mutable_revoked_at())) {
      throw CLI::ValidationError("--time", "use 2026-01-02T03:04:05Z or a duration like 2h");
    }
    if (!r_fp.empty()) {
      req.set_fingerprint_sha256(r_fp);
    } else if (!r_user.empty()) {
      req.set_user_name(r_user);
    } else if (!r_issuer.empty() && !r_serial.empty()) {
      auto* is = req.mutable_issuer_serial();
      is->set_issuer_dn(r_issuer);
      is->set_serial(r_serial);
      is->set_serial_format(r_decimal ? certgate::v1::SubjectSerial::DECIMAL
                                      : certgate::v1::SubjectSerial::HEX);
    } else {
      throw CLI::ValidationError("revoke",
                                 "give --fingerprint, --user, or both --issuer and --serial (a "
                                 "serial alone is not a key)");
    }
    req.set_reason_code(r_reason);
    auto client = Connect(g, true);
    if (!client) {
      exit_code = kExitUsage;
      return;
    }
    certgate::v1::RevokeCertificateResponse resp;
    auto ctx = client->NewContext();
    grpc::Status s = client->admin().RevokeCertificate(ctx.get(), req, &resp);
    if (!s.ok()) {
      exit_code = RpcError(s);
      return;
    }
    if (g.output == "json") {
      std::cout << ToJson(resp) << "\n";
      return;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& c : resp.certificates()) rows.push_back(CertRow(c));
    PrintTable({"ID", "USER", "STATUS", "FINGERPRINT", "SERIAL", "SUBJECT", "NOT AFTER"}, rows);
  });

  auto* c_get = cert->add_subcommand("get", "show one enrolled certificate");
  std::string g_fp;
  int64_t g_id = 0;
  c_get->add_option("--fingerprint", g_fp, "SHA-256 fingerprint");
  c_get->add_option("--id", g_id, "certificate id");
  c_get->callback([&] {
    certgate::v1::GetCertificateRequest req;
    if (!g_fp.empty())
      req.set_fingerprint_sha256(g_fp);
    else if (g_id > 0)
      req.set_id(g_id);
    else
      throw CLI::ValidationError("get", "give --fingerprint or --id");
    auto client = Connect(g, true);
    if (!client) {
      exit_code = kExitUsage;
      return;
    }
    certgate::v1::Certificate resp;
    auto ctx = client->NewContext();
    grpc::Status s = client->admin().GetCertificate(ctx.get(), req, &resp);
    if (!s.ok()) {
      exit_code = RpcError(s);
      return;
    }
    if (g.output == "json") {
      std::cout << ToJson(resp) << "\n";
      return;
    }
    std::cout << "id           " << resp.id() << "\n"
              << "user         " << resp.user_name() << " (id " << resp.user_id() << ")\n"
              << "status       " << resp.status() << "\n"
              << "fingerprint  "
              << (resp.fingerprint_sha256().empty() ? "-" : resp.fingerprint_sha256()) << "\n"
              << "subject      " << resp.subject() << "\n"
              << "issuer       " << resp.issuer() << "\n"
              << "serial       " << resp.serial() << "\n"
              << "not before   " << FormatTime(resp.not_before()) << "\n"
              << "not after    " << FormatTime(resp.not_after()) << "\n";
    if (resp.status() != "active") {
      std::cout << "revoked at   " << FormatTime(resp.revoked_at()) << " (reason "
                << resp.revocation_reason() << ")\n";
    }
  });

  auto* c_release = cert->add_subcommand("release-hold", "lift a certificateHold revocation");
  c_release->footer(
      "Example:\n  certgate cert revoke --fingerprint 3f2a... --reason 6   # hold\n  certgate cert "
      "release-hold --fingerprint 3f2a...");
  std::string h_fp, h_issuer, h_serial;
  c_release->add_option("--fingerprint", h_fp, "SHA-256 fingerprint");
  c_release->add_option("--issuer", h_issuer, "issuer DN (with --serial)");
  c_release->add_option("--serial", h_serial, "serial (with --issuer)");
  c_release->callback([&] {
    certgate::v1::ReleaseHoldRequest req;
    if (!h_fp.empty()) {
      req.set_fingerprint_sha256(h_fp);
    } else if (!h_issuer.empty() && !h_serial.empty()) {
      req.mutable_issuer_serial()->set_issuer_dn(h_issuer);
      req.mutable_issuer_serial()->set_serial(h_serial);
    } else {
      throw CLI::ValidationError("release-hold",
                                 "give --fingerprint, or both --issuer and --serial");
    }
    auto client = Connect(g, true);
    if (!client) {
      exit_code = kExitUsage;
      return;
    }
    certgate::v1::Certificate resp;
    auto ctx = client->NewContext();
    grpc::Status s = client->admin().ReleaseHold(ctx.get(), req, &resp);
    if (!s.ok()) {
      exit_code = RpcError(s);
      return;
    }
    if (g.output == "json") {
      std::cout << ToJson(resp) << "\n";
      return;
    }
    PrintTable({"ID", "USER", "STATUS", "FINGERPRINT", "SERIAL", "SUBJECT", "NOT AFTER"},
               {CertRow(resp)});
  });

  // ---- audit ----
  auto* audit = app.add_subcommand("audit", "query the audit trail");
  audit->require_subcommand(1);
  auto* a_list = audit->add_subcommand("list", "audit rows, newest first");
  a_list->footer("Example:\n  certgate audit list --decision DENY --limit 20");
  int q_limit = 50;
  std::string q_decision, q_reason, q_request_id, q_user, q_fp, q_since, q_until, q_action;
  int64_t q_before = 0;
  a_list->add_option("--since", q_since,
                     "only rows at or after: RFC 3339 UTC or a duration like 1h");
  a_list->add_option("--until", q_until, "only rows before: RFC 3339 UTC or a duration like 10m");
  a_list->add_option("--action", q_action, "action, e.g. GET or cert.revoke");
  a_list->add_option("--before-id", q_before, "paging: only rows older than this id");
  a_list->add_option("--limit", q_limit, "rows to show (1..1000)");
  a_list->add_option("--decision", q_decision, "ALLOW or DENY");
  a_list->add_option("--reason", q_reason, "rejection reason, e.g. CERTIFICATE_REVOKED");
  a_list->add_option("--request-id", q_request_id, "request id");
  a_list->add_option("--user", q_user, "user name");
  a_list->add_option("--fingerprint", q_fp, "certificate fingerprint");
  a_list->callback([&] {
    auto client = Connect(g, true);
    if (!client) {
      exit_code = kExitUsage;
      return;
    }
    certgate::v1::QueryAuditRequest req;
    req.set_limit(q_limit);
    req.set_decision(q_decision);
    req.set_reason(q_reason);
    req.set_request_id(q_request_id);
    req.set_user_name(q_user);
    req.set_fingerprint_sha256(q_fp);
    req.set_action(q_action);
    req.set_before_id(q_before);
    if (!q_since.empty() && !ParseTimeArg(q_since, req.mutable_since())) {
      throw CLI::ValidationError("--since", "use 2026-01-02T03:04:05Z or a duration like 1h");
    }
    if (!q_until.empty() && !ParseTimeArg(q_until, req.mutable_until())) {
      throw CLI::ValidationError("--until", "use 2026-01-02T03:04:05Z or a duration like 1h");
    }
    certgate::v1::QueryAuditResponse resp;
    auto ctx = client->NewContext();
    grpc::Status s = client->admin().QueryAudit(ctx.get(), req, &resp);
    if (!s.ok()) {
      exit_code = RpcError(s);
      return;
    }
    if (g.output == "json") {
      std::cout << ToJson(resp) << "\n";
      return;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& e : resp.events()) rows.push_back(AuditRow(e));
    PrintTable(kAuditHeader, rows);
    if (resp.events_size() == q_limit && q_limit > 0) {
      std::cerr << "(more rows: --before-id " << resp.events(resp.events_size() - 1).id() << ")\n";
    }
  });

  auto* a_tail =
      audit->add_subcommand("tail", "the newest audit rows, oldest first; -f follows new ones");
  a_tail->footer(
      "Examples:\n  certgate audit tail -n 20\n  certgate audit tail -f -o json   # JSON lines");
  int t_lines = 10;
  bool t_follow = false;
  int t_interval_ms = 500;
  a_tail->add_option("-n,--lines", t_lines, "rows to show first");
  a_tail->add_flag("-f,--follow", t_follow, "keep printing new rows until interrupted");
  a_tail->add_option("--interval-ms", t_interval_ms, "poll interval with -f");
  a_tail->callback([&] {
    auto client = Connect(g, true);
    if (!client) {
      exit_code = kExitUsage;
      return;
    }
    auto print = [&](const certgate::v1::AuditEvent& e) {
      if (g.output == "json") {
        std::cout << ToJsonLine(e) << "\n";
      } else {
        std::string line;
        for (const auto& f : AuditRow(e)) line += f + "  ";
        std::cout << line << "\n";
      }
      std::cout.flush();
    };
    certgate::v1::QueryAuditRequest req;
    req.set_limit(std::max(1, std::min(t_lines, 1000)));
    certgate::v1::QueryAuditResponse resp;
    {
      auto ctx = client->NewContext();
      grpc::Status s = client->admin().QueryAudit(ctx.get(), req, &resp);
      if (!s.ok()) {
        exit_code = RpcError(s);
        return;
      }
    }
    int64_t last = 0;
    if (g.output != "json") {
      std::string h;
      for (const auto& f : kAuditHeader) h += f + "  ";
      std::cout << h << "\n";
    }
    for (int i = resp.events_size() - 1; i >= 0; --i) {
      print(resp.events(i));
      last = std::max(last, resp.events(i).id());
    }
    if (!t_follow) return;
    std::signal(SIGINT, [](int) { g_interrupted = true; });
    std::signal(SIGTERM, [](int) { g_interrupted = true; });
    while (!g_interrupted) {
      std::this_thread::sleep_for(std::chrono::milliseconds(t_interval_ms));
      certgate::v1::QueryAuditRequest next;
      next.set_after_id(last);
      next.set_limit(1000);
      certgate::v1::QueryAuditResponse more;
      auto ctx = client->NewContext();
      grpc::Status s = client->admin().QueryAudit(ctx.get(), next, &more);
      if (!s.ok()) {
        exit_code = RpcError(s);
        return;
      }
      for (const auto& e : more.events()) {  // oldest first with after_id
        print(e);
        last = std::max(last, e.id());
      }
    }
  });

  // ---- explain ----
  auto* explain = app.add_subcommand(
      "explain", "show every step the pipeline takes for a credential (nothing audited)");
  explain->footer(
      "Examples:\n"
      "  certgate explain alice.pem\n"
      "  certgate explain --preset envoy --as-caller ipv4:10.0.0.7:443 xfcc.txt");
  std::string x_file, x_format, x_caller, x_verification;
  explain->add_option("file", x_file, "certificate (PEM/DER) or header-value file")->required();
  explain->add_option("--encoding,--preset", x_format,
                      "the file holds a header value in this encoding/preset");
  explain->add_option("--verification", x_verification, "proxy verification value");
  explain->add_option("--as-caller", x_caller,
                      "evaluate forwarder trust as if called from this gRPC peer");
  explain->callback([&] {
    std::string data;
    if (!ReadFile(x_file, &data)) {
      std::fprintf(stderr, "certgate: cannot read %s\n", x_file.c_str());
      exit_code = kExitUsage;
      return;
    }
    certgate::v1::ExplainRequest req;
    if (!x_format.empty()) {
      *req.mutable_request() = certgate::HeaderRequest(StripTrailingNewlines(data), x_format);
      req.mutable_request()->mutable_forwarded_header()->set_verification(x_verification);
    } else if (data.find("-----BEGIN") != std::string::npos) {
      *req.mutable_request() = certgate::PemRequest(data);
    } else {
      *req.mutable_request() = certgate::DerRequest(data);
    }
    req.set_caller(x_caller);
    auto client = Connect(g, true);
    if (!client) {
      exit_code = kExitUsage;
      return;
    }
    certgate::v1::ExplainResponse resp;
    auto ctx = client->NewContext();
    grpc::Status s = client->admin().Explain(ctx.get(), req, &resp);
    if (!s.ok()) {
      exit_code = RpcError(s);
      return;
    }
    if (g.output == "json") {
      std::cout << ToJson(resp) << "\n";
      return;
    }
    for (size_t i = 0; i < static_cast<size_t>(resp.steps_size()); ++i) {
      std::cout << (i + 1) << ". " << resp.steps(static_cast<int>(i)) << "\n";
    }
    if (resp.result().has_identity()) {
      std::cout << "=> ALLOW user=" << resp.result().identity().user_name() << "\n";
    } else {
      std::cout << "=> DENY "
                << certgate::v1::Rejection::Reason_Name(resp.result().rejection().reason()) << ": "
                << resp.result().rejection().message() << "\n";
    }
    exit_code = resp.result().has_identity() ? kExitOk : kExitDenied;
  });

  // ---- crl ----
  auto* crl = app.add_subcommand("crl", "import and list certificate revocation lists");
  crl->require_subcommand(1);
  auto crl_row = [](const certgate::v1::CrlInfo& c) -> std::vector<std::string> {
    return {c.issuer(),
            c.crl_number(),
            FormatTime(c.this_update()),
            FormatTime(c.next_update()),
            std::to_string(c.entry_count()),
            c.stale() ? "STALE" : "current",
            FormatTime(c.imported_at())};
  };
  const std::vector<std::string> crl_header = {"ISSUER",  "NUMBER", "THIS UPDATE", "NEXT UPDATE",
                                               "ENTRIES", "STATUS", "IMPORTED"};
  auto* crl_import = crl->add_subcommand("import", "import a CRL (its signature is verified)");
  crl_import->footer(
      "The CRL (DER or PEM) must be signed by its issuer: a configured trust anchor or\n"
      "intermediate with the CRL's issuer name, or the certificate given with --issuer-cert.\n"
      "It replaces that issuer's imported CRL only if its CRL number is greater.\n"
      "Exit codes: 0 imported; 1 refused (bad signature, older or same CRL number, unusable CRL);\n"
      "2 usage or connection error.\n"
      "Examples:\n"
      "  certgate crl import root.crl\n"
      "  certgate crl import --issuer-cert partner-ca.pem partner.crl -o json");
  std::string ci_file, ci_issuer;
  crl_import->add_option("file", ci_file, "CRL file (DER or PEM)")->required();
  crl_import->add_option("--issuer-cert", ci_issuer,
                         "issuer certificate file (PEM/DER) when the issuer is not configured");
  crl_import->callback([&] {
    certgate::v1::ImportCrlRequest req;
    std::string data;
    if (!ReadFile(ci_file, &data)) {
      std::fprintf(stderr, "certgate: cannot read %s\n", ci_file.c_str());
      exit_code = kExitUsage;
      return;
    }
    req.set_crl(data);
    if (!ci_issuer.empty()) {
      if (!ReadFile(ci_issuer, &data)) {
        std::fprintf(stderr, "certgate: cannot read %s\n", ci_issuer.c_str());
        exit_code = kExitUsage;
        return;
      }
      req.set_issuer_certificate(data);
    }
    auto client = Connect(g, true);
    if (!client) {
      exit_code = kExitUsage;
      return;
    }
    certgate::v1::ImportCrlResponse resp;
    auto ctx = client->NewContext();
    grpc::Status s = client->admin().ImportCrl(ctx.get(), req, &resp);
    if (!s.ok()) {
      exit_code = RpcError(s);
      // The server looked at the CRL and refused it: not a usage error.
      if (s.error_code() == grpc::StatusCode::INVALID_ARGUMENT) exit_code = kExitDenied;
      return;
    }
    if (g.output == "json") {
      std::cout << ToJson(resp) << "\n";
      return;
    }
    PrintTable(crl_header, {crl_row(resp.crl())});
  });
  auto* crl_list = crl->add_subcommand("list", "list the imported CRLs, one per issuer");
  crl_list->footer("Example:\n  certgate crl list -o json");
  crl_list->callback([&] {
    auto client = Connect(g, true);
    if (!client) {
      exit_code = kExitUsage;
      return;
    }
    certgate::v1::ListCrlsResponse resp;
    auto ctx = client->NewContext();
    grpc::Status s = client->admin().ListCrls(ctx.get(), {}, &resp);
    if (!s.ok()) {
      exit_code = RpcError(s);
      return;
    }
    if (g.output == "json") {
      std::cout << ToJson(resp) << "\n";
      return;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& c : resp.crls()) rows.push_back(crl_row(c));
    PrintTable(crl_header, rows);
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }
  return exit_code;
}
