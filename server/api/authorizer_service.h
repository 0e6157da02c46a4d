// certgate.v1.Authorizer: decodes the request into an authz::AuthorizeInput, runs the pipeline,
// maps the decision to the response. Thin by design: no decision logic lives here.
#pragma once

#include <spdlog/logger.h>

#include <memory>

#include "certgate/v1/authorizer.grpc.pb.h"
#include "server/api/admission.h"
#include "server/audit/audit_writer.h"
#include "server/authz/authorizer.h"
#include "server/common/clock.h"

namespace certgate::api {

// Converts a request into pipeline input. Returns InvalidArgument for requests that are not
// well-formed API calls (bad request_id, oversize action/resource); credential problems are
// decided by the pipeline, not here.
Result<authz::AuthorizeInput> InputFromRequest(const v1::AuthorizeRequest& request,
                                               const std::string& peer);
// Fills a response from a pipeline result.
void FillResponse(const authz::AuthorizeResult& result, const std::string& request_id,
                  v1::AuthorizeResponse& response);
// The proto enum value for a reason.
v1::Rejection::Reason ToProtoReason(Reason reason);
// Fills CertificateInfo.
void FillCertificateInfo(const authz::CertificateSummary& s, v1::CertificateInfo& out);
// The DER of the caller's TLS client certificate as the listener's handshake verified it (gRPC's
// "x509_pem_cert" auth property), or "" on a plaintext listener or without a client certificate.
std::string PeerCertificateDer(const grpc::ServerContextBase& context);

// What the callback services (Authorize here, Envoy's Check in ext_authz_service.h) need. The
// dependencies must outlive the services.
struct CallbackDeps {
  authz::Authorizer& authorizer;
  audit::AuditWriter& audit;
  const Clock& clock;
  // Optional. Gates every call (overload and draining); the ticket is held until the call is
  // finished, i.e. until its audit row is committed, so a drain waits for queued rows too.
  Admission* admission = nullptr;
};

// Admission for a callback handler: true with `*ticket` set (nullptr without `admission`), to be
// kept until the call is finished; false once `reactor` has been finished with the refusal.
bool AdmitCallback(Admission* admission, grpc::ServerUnaryReactor* reactor,
                   std::shared_ptr<Admission::Ticket>* ticket);

// Sync API: each call holds a gRPC thread, blocked in the audit commit (Authorizer::Authorize).
// Thread-safe; `authorizer` must outlive the service.
class AuthorizerService final : public v1::Authorizer::Service {
 public:
  // `admission` (optional) gates every call: overload and draining.
  explicit AuthorizerService(authz::Authorizer& authorizer, Admission* admission = nullptr);

  grpc::Status Authorize(grpc::ServerContext* context, const v1::AuthorizeRequest* request,
                         v1::AuthorizeResponse* response) override;

 private:
  authz::Authorizer& authorizer_;
  Admission* admission_;
  std::shared_ptr<spdlog::logger> log_;
};

// Callback API: the handler decides on gRPC's thread, queues the audit row with
// AuditWriter::RecordAsync and returns; the audit writer's thread finishes the call once the row
// is committed (or fails it with the store's error: never an answer without its row). No gRPC
// thread ever waits for an fsync. Thread-safe; the dependencies must outlive the service.
class AuthorizerCallbackService final : public v1::Authorizer::CallbackService {
 public:
  using Deps = CallbackDeps;
  explicit AuthorizerCallbackService(Deps deps);

  grpc::ServerUnaryReactor* Authorize(grpc::CallbackServerContext* context,
                                      const v1::AuthorizeRequest* request,
                                      v1::AuthorizeResponse* response) override;

 private:
  Deps deps_;
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace certgate::api
