// certgate.v1.Authorizer: decodes the request into an authz::AuthorizeInput, runs the pipeline,
// maps the decision to the response. Thin by design: no decision logic lives here.
#pragma once

#include "certgate/v1/authorizer.grpc.pb.h"
#include "server/api/admission.h"
#include "server/authz/authorizer.h"

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
std::string PeerCertificateDer(const grpc::ServerContext& context);

// Thread-safe; `authorizer` must outlive the service.
class AuthorizerService final : public v1::Authorizer::Service {
 public:
  // `admission` (optional) gates every call: overload and draining.
  explicit AuthorizerService(authz::Authorizer& authorizer, Admission* admission = nullptr)
      : authorizer_(authorizer), admission_(admission) {}

  grpc::Status Authorize(grpc::ServerContext* context, const v1::AuthorizeRequest* request,
                         v1::AuthorizeResponse* response) override;

 private:
  authz::Authorizer& authorizer_;
  Admission* admission_;
};

}  // namespace certgate::api
