#include "server/api/ext_authz_service.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <utility>

#include "server/api/authorizer_service.h"
#include "server/api/grpc_status.h"
#include "server/api/request_id.h"
#include "server/authz/audit_event.h"

namespace certgate::api {
namespace {

using ::envoy::config::core::v3::HeaderValueOption;

// The limits Authorize enforces on the same fields (authorizer_service.cc). Envoy cannot fix
// an oversize value, so Check truncates instead of refusing.
constexpr size_t kMaxRequestId = 128;
constexpr size_t kMaxAction = 256;
constexpr size_t kMaxResource = 2048;

constexpr int kRpcPermissionDenied = 7;
constexpr int kRpcUnauthenticated = 16;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Every value of request header `name` (lowercase) from the `headers` map and the `header_map`
// list, joined with "," as Envoy joins repeated headers in the map.
std::string HeaderValue(const envoy_auth::AttributeContext::HttpRequest& http,
                        const std::string& name) {
  std::string joined;
  bool any = false;
  auto add = [&](std::string_view v) {
    if (any) joined.push_back(',');
    joined.append(v);
    any = true;
  };
  for (const auto& [key, value] : http.headers()) {
    if (Lower(key) == name) add(value);
  }
  for (const auto& h : http.header_map().headers()) {
    if (Lower(h.key()) == name) add(h.value().empty() ? h.raw_value() : h.value());
  }
  return joined;
}

std::string Truncate(const std::string& s, size_t max) {
  return s.size() <= max ? s : s.substr(0, max);
}

std::string SanitizeRequestId(const std::string& raw) {
  std::string out;
  for (unsigned char c : raw) {
    if (c > 0x20 && c < 0x7f) out.push_back(static_cast<char>(c));
    if (out.size() == kMaxRequestId) break;
  }
  return out;
}

void AddHeader(google::protobuf::RepeatedPtrField<HeaderValueOption>& headers,
               const std::string& key, const std::string& value) {
  HeaderValueOption* h = headers.Add();
  h->mutable_header()->set_key(key);
  h->mutable_header()->set_value(value);
  // Overwrite, never append: Envoy reads the deprecated `append` first when it is set, newer
  // Envoys read `append_action` otherwise (whose default, 0, would append).
  h->mutable_append()->set_value(false);
  h->set_append_action(HeaderValueOption::OVERWRITE_IF_EXISTS_OR_ADD);
}

void SetString(google::protobuf::Struct& s, const std::string& key, const std::string& value) {
  (*s.mutable_fields())[key].set_string_value(value);
}

// Length of the UTF-8 sequence starting at s[i], or 0 when it is not valid UTF-8 (overlong
// forms, surrogates and values above U+10FFFF are invalid).
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  size_t n = 0;
  uint32_t cp = 0;
  if (c < 0x80) return 1;
  if ((c & 0xe0) == 0xc0) {
    n = 2;
    cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    n = 3;
    cp = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3f);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

}  // namespace

authz::AuthorizeInput InputFromCheckRequest(const envoy_auth::CheckRequest& request,
                                            const config::ExtAuthzConfig& config,
                                            const std::string& peer) {
  const envoy_auth::AttributeContext& attrs = request.attributes();
  const envoy_auth::AttributeContext::HttpRequest& http = attrs.request().http();
  authz::AuthorizeInput in;
  in.caller_peer = peer;

  in.request_id = SanitizeRequestId(http.id());
  if (in.request_id.empty()) in.request_id = SanitizeRequestId(HeaderValue(http, "x-request-id"));
  if (in.request_id.empty()) in.request_id = NewRequestId();
  if (in.request_id.empty()) in.request_id = "check-no-id";  // RAND_bytes failed: still audit

  in.action = Truncate(http.method(), kMaxAction);
  std::string path = http.path();
  path = path.substr(0, path.find_first_of("?#"));
  in.resource = Truncate(path, kMaxResource);

  // Envoy is the forwarder either way: its own TLS-verified view of the client certificate is
  // still a credential forwarded to certgate by a caller, so it goes through the forwarder check.
  authz::Credential& c = in.credential;
  if (!attrs.source().certificate().empty()) {
    c.kind = authz::Credential::Kind::kHeader;
    c.header_value = attrs.source().certificate();
    c.encoding = "url-pem";
    return in;
  }
  for (const config::ExtAuthzHeaderConfig& h : config.headers) {
    std::string value = HeaderValue(http, Lower(h.name));
    if (value.empty()) continue;
    c.kind = authz::Credential::Kind::kHeader;
    c.header_value = std::move(value);
    // Presets and encodings share one name space in config; the pipeline wants them apart.
    if (certs::ParseEncodingName(h.encoding)) {
      c.encoding = h.encoding;
    } else {
      c.preset = h.encoding;
    }
    return in;
  }
  c.kind = authz::Credential::Kind::kNone;
  return in;
}

int HttpStatusForReason(Reason reason) {
  switch (reason) {
    case Reason::kCertificateRevoked:
    case Reason::kUserDisabled:
    case Reason::kCertificateNotEnrolled:
    case Reason::kAccessDenied:
      return 403;
    case Reason::kNone:
    case Reason::kCertificateMissing:
    case Reason::kCertificateMalformed:
    case Reason::kForwarderNotTrusted:
    case Reason::kProxyVerificationFailed:
    case Reason::kUntrustedIssuer:
    case Reason::kCertificateExpired:
    case Reason::kCertificateNotYetValid:
    case Reason::kKeyUsageNotAllowed:
      return 401;
  }
  return 401;
}

int RpcCodeForReason(Reason reason) {
  return HttpStatusForReason(reason) == 403 ? kRpcPermissionDenied : kRpcUnauthenticated;
}

std::string JsonString(std::string_view text) {
  static const char* kHex = "0123456789abcdef";
  std::string out = "\"";
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      size_t n = Utf8SequenceLength(text, i);
      if (n == 0) {
        out += "\xef\xbf\xbd";  // U+FFFD
        ++i;
      } else {
        out.append(text.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out.push_back('"');
  return out;
}

std::string HeaderSafeValue(std::string_view text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const bool edge_space = c == ' ' && (i == 0 || i + 1 == text.size());
    if (c < 0x20 || c > 0x7e || c == '%' || edge_space) {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

void FillCheckResponse(const authz::AuthorizeResult& result, const std::string& request_id,
                       const config::ExtAuthzConfig& config, envoy_auth::CheckResponse& response) {
  const authz::Decision& d = result.decision;
  google::protobuf::Struct& meta = *response.mutable_dynamic_metadata();
  SetString(meta, "request_id", request_id);
  SetString(meta, "audit_id", std::to_string(result.audit_id));

  if (d.allowed && d.user) {
    response.mutable_status()->set_code(0);
    envoy_auth::OkHttpResponse& ok = *response.mutable_ok_response();
    const config::ExtAuthzIdentityHeaders& names = config.identity_headers;
    const std::string fingerprint = d.certificate ? d.certificate->fingerprint_sha256 : "";
    const std::string subject = d.certificate ? d.certificate->subject : "";
    const std::pair<const std::string*, std::string> identity[] = {
        {&names.user, d.user->name},
        {&names.user_id, std::to_string(d.user->id)},
        {&names.fingerprint, fingerprint},
        {&names.subject, subject},
    };
    for (const auto& [name, value] : identity) {
      // A header with no value is removed instead, so no client-supplied copy survives either.
      // Never both: Envoy applies headers_to_remove after headers.
      if (value.empty()) {
        ok.add_headers_to_remove(*name);
      } else {
        AddHeader(*ok.mutable_headers(), *name, HeaderSafeValue(value));
      }
    }
    SetString(meta, "user", d.user->name);
    SetString(meta, "user_id", std::to_string(d.user->id));
    google::protobuf::ListValue& roles = *(*meta.mutable_fields())["roles"].mutable_list_value();
    for (const std::string& r : d.user->roles) roles.add_values()->set_string_value(r);
    if (d.certificate) {
      SetString(meta, "fingerprint", d.certificate->fingerprint_sha256);
      SetString(meta, "subject", d.certificate->subject);
      SetString(meta, "issuer", d.certificate->issuer);
      SetString(meta, "serial", d.certificate->serial);
    }
    return;
  }

  const std::string reason(ReasonName(d.reason));
  response.mutable_status()->set_code(RpcCodeForReason(d.reason));
  response.mutable_status()->set_message(reason);
  envoy_auth::DeniedHttpResponse& denied = *response.mutable_denied_response();
  denied.mutable_status()->set_code(
      static_cast<::envoy::type::v3::StatusCode>(HttpStatusForReason(d.reason)));
  AddHeader(*denied.mutable_headers(), "content-type", "application/json");
  AddHeader(*denied.mutable_headers(), "x-certgate-reason", reason);
  denied.set_body("{\"reason\":" + JsonString(reason) + ",\"message\":" + JsonString(d.message) +
                  ",\"request_id\":" + JsonString(request_id) + "}");
  SetString(meta, "reason", reason);
}

grpc::Status ExtAuthzService::Check(grpc::ServerContext* context,
                                    const envoy_auth::CheckRequest* request,
                                    envoy_auth::CheckResponse* response) {
  std::optional<Admission::Ticket> ticket;
  if (admission_) {
    ticket.emplace(admission_->Enter());
    if (!ticket->admitted()) return ticket->status();
  }
  const std::string peer = context->peer();
  authz::AuthorizeInput input = InputFromCheckRequest(*request, config_, peer);
  // Envoy is the forwarder; on an mTLS listener it may be recognised by its certificate.
  input.caller_certificate_der = PeerCertificateDer(*context);
  Result<authz::AuthorizeResult> result = authorizer_.Authorize(input);
  if (!result.ok()) {
    // Could not decide: a gRPC error, so Envoy's failure policy applies. Never OK.
    spdlog::get("api")->error("request_id={} caller={} check failed: {}", input.request_id, peer,
                              result.status().ToString());
    grpc::Status s = ToGrpcStatus(result.status());
    return s.ok() ? grpc::Status(grpc::StatusCode::INTERNAL, "no decision") : s;
  }
  if (result->decision.allowed && !result->decision.user) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "allow without a user");
  }
  FillCheckResponse(*result, input.request_id, config_, *response);
  spdlog::get("api")->debug("request_id={} caller={} check decision={} reason={} audit_id={}",
                            input.request_id, peer, result->decision.allowed ? "ALLOW" : "DENY",
                            ReasonName(result->decision.reason), result->audit_id);
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* ExtAuthzCallbackService::Check(grpc::CallbackServerContext* context,
                                                         const envoy_auth::CheckRequest* request,
                                                         envoy_auth::CheckResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // The ticket lives until the call is finished (below, or in the audit callback).
  std::shared_ptr<Admission::Ticket> ticket;
  if (!AdmitCallback(deps_.admission, reactor, &ticket)) return reactor;
  authz::AuthorizeInput input = InputFromCheckRequest(*request, config_, context->peer());
  input.caller_certificate_der = PeerCertificateDer(*context);
  Result<authz::Decision> decided = deps_.authorizer.Decide(input);
  if (!decided.ok()) {
    // Could not decide: a gRPC error, so Envoy's failure policy applies. Never OK.
    spdlog::get("api")->error("request_id={} caller={} check failed: {}", input.request_id,
                              input.caller_peer, decided.status().ToString());
    grpc::Status s = ToGrpcStatus(decided.status());
    reactor->Finish(s.ok() ? grpc::Status(grpc::StatusCode::INTERNAL, "no decision") : s);
    return reactor;
  }
  if (decided->allowed && !decided->user) {
    reactor->Finish(grpc::Status(grpc::StatusCode::INTERNAL, "allow without a user"));
    return reactor;
  }
  store::AuditEvent event = authz::AuthorizeAuditEvent(input, *decided, deps_.clock.NowMicros());
  // The response is built now, on this thread; only the audit id waits for the commit.
  authz::AuthorizeResult result;
  result.decision = std::move(*decided);
  FillCheckResponse(result, input.request_id, config_, *response);
  deps_.audit.RecordAsync(
      std::move(event), [reactor, response, ticket = std::move(ticket)](Result<int64_t> id) {
        if (!id.ok()) {
          // No durable row, no answer: Envoy gets the store's error and applies its failure policy.
          spdlog::get("api")->error("check failed: {}", id.status().ToString());
          response->Clear();
          grpc::Status s = ToGrpcStatus(id.status());
          reactor->Finish(s.ok() ? grpc::Status(grpc::StatusCode::INTERNAL, "no decision") : s);
          return;
        }
        (*response->mutable_dynamic_metadata()->mutable_fields())["audit_id"].set_string_value(
            std::to_string(*id));
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

}  // namespace certgate::api
