#include "server/api/authorizer_service.h"

#include <spdlog/spdlog.h>

#include <optional>

#include "server/api/grpc_status.h"
#include "server/api/request_id.h"
#include "server/authz/audit_event.h"
#include "server/certs/certificate.h"

namespace certgate::api {
namespace {

constexpr size_t kMaxRequestId = 128;
constexpr size_t kMaxAction = 256;
constexpr size_t kMaxResource = 2048;

bool PrintableAscii(const std::string& s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

// Looked up once per service, not per request (spdlog::get takes the registry's mutex).
std::shared_ptr<spdlog::logger> ApiLogger() {
  std::shared_ptr<spdlog::logger> logger = spdlog::get("api");
  return logger ? logger : spdlog::default_logger();
}

void SetTimestamp(int64_t unix_seconds, google::protobuf::Timestamp* ts) {
  ts->set_seconds(unix_seconds);
  ts->set_nanos(0);
}

}  // namespace

v1::Rejection::Reason ToProtoReason(Reason reason) {
  switch (reason) {
    case Reason::kNone:
      return v1::Rejection::REASON_UNSPECIFIED;
    case Reason::kCertificateMissing:
      return v1::Rejection::CERTIFICATE_MISSING;
    case Reason::kCertificateMalformed:
      return v1::Rejection::CERTIFICATE_MALFORMED;
    case Reason::kForwarderNotTrusted:
      return v1::Rejection::FORWARDER_NOT_TRUSTED;
    case Reason::kProxyVerificationFailed:
      return v1::Rejection::PROXY_VERIFICATION_FAILED;
    case Reason::kUntrustedIssuer:
      return v1::Rejection::UNTRUSTED_ISSUER;
    case Reason::kCertificateExpired:
      return v1::Rejection::CERTIFICATE_EXPIRED;
    case Reason::kCertificateNotYetValid:
      return v1::Rejection::CERTIFICATE_NOT_YET_VALID;
    case Reason::kKeyUsageNotAllowed:
      return v1::Rejection::KEY_USAGE_NOT_ALLOWED;
    case Reason::kCertificateNotEnrolled:
      return v1::Rejection::CERTIFICATE_NOT_ENROLLED;
    case Reason::kCertificateRevoked:
      return v1::Rejection::CERTIFICATE_REVOKED;
    case Reason::kUserDisabled:
      return v1::Rejection::USER_DISABLED;
    case Reason::kAccessDenied:
      return v1::Rejection::ACCESS_DENIED;
  }
  return v1::Rejection::REASON_UNSPECIFIED;
}

Result<authz::AuthorizeInput> InputFromRequest(const v1::AuthorizeRequest& req,
                                               const std::string& peer) {
  authz::AuthorizeInput in;
  if (req.request_id().size() > kMaxRequestId || !PrintableAscii(req.request_id())) {
    return Status::InvalidArgument("request_id must be at most 128 printable ASCII characters");
  }
  if (req.action().size() > kMaxAction)
    return Status::InvalidArgument("action is longer than 256 bytes");
  if (req.resource().size() > kMaxResource) {
    return Status::InvalidArgument("resource is longer than 2048 bytes");
  }
  in.request_id = req.request_id().empty() ? NewRequestId() : req.request_id();
  if (in.request_id.empty()) return Status::Internal("cannot generate a request id");
  in.action = req.action();
  in.resource = req.resource();
  in.caller_peer = peer;

  authz::Credential& c = in.credential;
  switch (req.credential_case()) {
    case v1::AuthorizeRequest::kCertificateDer:
      c.kind = authz::Credential::Kind::kDer;
      c.der = req.certificate_der();
      c.chain_der.assign(req.chain_der().begin(), req.chain_der().end());
      break;
    case v1::AuthorizeRequest::kCertificatePem:
      c.kind = authz::Credential::Kind::kPem;
      c.pem = req.certificate_pem();
      break;
    case v1::AuthorizeRequest::kForwardedHeader: {
      const v1::ForwardedHeader& h = req.forwarded_header();
      c.kind = authz::Credential::Kind::kHeader;
      c.header_value = h.value();
      c.encoding = h.encoding();
      c.preset = h.preset();
      c.chain_value = h.chain_value();
      c.verification = h.verification();
      break;
    }
    case v1::AuthorizeRequest::kSubjectSerial: {
      const v1::SubjectSerial& s = req.subject_serial();
      c.kind = authz::Credential::Kind::kSubjectSerial;
      c.subject_dn = s.subject_dn();
      c.serial = s.serial();
      c.serial_format = s.serial_format() == v1::SubjectSerial::DECIMAL
                            ? certs::SerialFormat::kDecimal
                            : certs::SerialFormat::kHex;
      c.issuer_dn = s.issuer_dn();
      break;
    }
    case v1::AuthorizeRequest::CREDENTIAL_NOT_SET:
      c.kind = authz::Credential::Kind::kNone;
      break;
  }
  return in;
}

void FillCertificateInfo(const authz::CertificateSummary& s, v1::CertificateInfo& out) {
  out.set_fingerprint_sha256(s.fingerprint_sha256);
  out.set_subject(s.subject);
  out.set_issuer(s.issuer);
  out.set_serial(s.serial);
  if (s.not_before) SetTimestamp(s.not_before, out.mutable_not_before());
  if (s.not_after) SetTimestamp(s.not_after, out.mutable_not_after());
  for (const auto& n : s.dns_sans) out.add_dns_names(n);
  for (const auto& n : s.uri_sans) out.add_uris(n);
  for (const auto& n : s.email_sans) out.add_emails(n);
}

void FillResponse(const authz::AuthorizeResult& result, const std::string& request_id,
                  v1::AuthorizeResponse& resp) {
  const authz::Decision& d = result.decision;
  resp.set_audit_id(result.audit_id);
  resp.set_request_id(request_id);
  if (d.allowed && d.user) {
    v1::Identity* id = resp.mutable_identity();
    id->set_user_id(d.user->id);
    id->set_user_name(d.user->name);
    for (const auto& r : d.user->roles) id->add_roles(r);
    if (d.certificate) FillCertificateInfo(*d.certificate, *id->mutable_certificate());
  } else {
    v1::Rejection* rej = resp.mutable_rejection();
    rej->set_reason(ToProtoReason(d.reason));
    rej->set_message(d.message);
  }
}

std::string PeerCertificateDer(const grpc::ServerContextBase& context) {
  const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (!auth) return "";
  // The leaf the TLS handshake verified against tls.client_ca_file, as PEM.
  const std::vector<grpc::string_ref> pem = auth->FindPropertyValues("x509_pem_cert");
  if (pem.empty()) return "";
  Result<std::vector<std::string>> der =
      certs::SplitPemCertificates(std::string_view(pem.front().data(), pem.front().size()));
  if (!der.ok() || der->empty()) return "";
  return std::move(der->front());
}

AuthorizerService::AuthorizerService(authz::Authorizer& authorizer, Admission* admission)
    : authorizer_(authorizer), admission_(admission), log_(ApiLogger()) {}

grpc::Status AuthorizerService::Authorize(grpc::ServerContext* context,
                                          const v1::AuthorizeRequest* request,
                                          v1::AuthorizeResponse* response) {
  std::optional<Admission::Ticket> ticket;
  if (admission_) {
    ticket.emplace(admission_->Enter());
    if (!ticket->admitted()) return ticket->status();
  }
  const std::string peer = context->peer();
  Result<authz::AuthorizeInput> input = InputFromRequest(*request, peer);
  if (!input.ok()) return ToGrpcStatus(input.status());
  // Only a forwarded credential needs to know who the caller is.
  const authz::Credential::Kind kind = input->credential.kind;
  if (kind == authz::Credential::Kind::kHeader || kind == authz::Credential::Kind::kSubjectSerial) {
    input->caller_certificate_der = PeerCertificateDer(*context);
  }
  Result<authz::AuthorizeResult> result = authorizer_.Authorize(*input);
  if (!result.ok()) {
    // Could not decide: an error for the caller's failure policy, never an allow.
    log_->error("request_id={} caller={} authorize failed: {}", input->request_id, peer,
                result.status().ToString());
    return ToGrpcStatus(result.status());
  }
  // A decision that is not an allow must never carry an identity; an allow must have a user.
  if (result->decision.allowed && !result->decision.user) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "allow without a user");
  }
  FillResponse(*result, input->request_id, *response);
  log_->debug("request_id={} caller={} decision={} reason={} audit_id={}", input->request_id, peer,
              result->decision.allowed ? "ALLOW" : "DENY", ReasonName(result->decision.reason),
              result->audit_id);
  return grpc::Status::OK;
}

bool AdmitCallback(Admission* admission, grpc::ServerUnaryReactor* reactor,
                   std::shared_ptr<Admission::Ticket>* ticket) {
  ticket->reset();
  if (admission == nullptr) return true;
  *ticket = std::make_shared<Admission::Ticket>(admission->Enter());
  if ((*ticket)->admitted()) return true;
  reactor->Finish((*ticket)->status());
  ticket->reset();
  return false;
}

AuthorizerCallbackService::AuthorizerCallbackService(Deps deps) : deps_(deps), log_(ApiLogger()) {}

grpc::ServerUnaryReactor* AuthorizerCallbackService::Authorize(grpc::CallbackServerContext* context,
                                                               const v1::AuthorizeRequest* request,
                                                               v1::AuthorizeResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // The ticket lives until the call is finished (below, or in the audit callback).
  std::shared_ptr<Admission::Ticket> ticket;
  if (!AdmitCallback(deps_.admission, reactor, &ticket)) return reactor;
  Result<authz::AuthorizeInput> input = InputFromRequest(*request, context->peer());
  if (!input.ok()) {
    reactor->Finish(ToGrpcStatus(input.status()));
    return reactor;
  }
  // Only a forwarded credential needs to know who the caller is.
  const authz::Credential::Kind kind = input->credential.kind;
  if (kind == authz::Credential::Kind::kHeader || kind == authz::Credential::Kind::kSubjectSerial) {
    input->caller_certificate_der = PeerCertificateDer(*context);
  }
  Result<authz::Decision> decided = deps_.authorizer.Decide(*input);
  if (!decided.ok()) {
    // Could not decide: an error for the caller's failure policy, never an allow.
    log_->error("request_id={} caller={} authorize failed: {}", input->request_id,
                input->caller_peer, decided.status().ToString());
    reactor->Finish(ToGrpcStatus(decided.status()));
    return reactor;
  }
  // A decision that is not an allow must never carry an identity; an allow must have a user.
  if (decided->allowed && !decided->user) {
    reactor->Finish(grpc::Status(grpc::StatusCode::INTERNAL, "allow without a user"));
    return reactor;
  }
  log_->debug("request_id={} caller={} decision={} reason={}", input->request_id,
              input->caller_peer, decided->allowed ? "ALLOW" : "DENY", ReasonName(decided->reason));
  store::AuditEvent event = authz::AuthorizeAuditEvent(*input, *decided, deps_.clock.NowMicros());
  // The response is filled now, on this thread; only the audit id waits for the commit.
  authz::AuthorizeResult result;
  result.decision = std::move(*decided);
  FillResponse(result, input->request_id, *response);
  deps_.audit.RecordAsync(
      std::move(event), [this, reactor, response, ticket = std::move(ticket)](Result<int64_t> id) {
        if (!id.ok()) {
          // No durable row, no answer: the caller gets the store's error, never the decision.
          log_->error("request_id={} authorize failed: {}", response->request_id(),
                      id.status().ToString());
          response->Clear();
          reactor->Finish(ToGrpcStatus(id.status()));
          return;
        }
        response->set_audit_id(*id);
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

}  // namespace certgate::api
