// envoy.service.auth.v3.Authorization (Envoy's ext_authz filter, gRPC v3 API): turns a
// CheckRequest into an authz::AuthorizeInput, runs the same pipeline as Authorize, and maps the
// decision to what Envoy does next: forward the request with identity headers, or answer the
// client with 401/403 and a small JSON body. A failure inside certgate is a gRPC error (so that
// Envoy's failure_mode_allow/status_on_error apply), never an allow and never a deny.
//
// The mapping is in free functions (tested in tests/unit/server/api/); the service is thin.
#pragma once

#include <string>
#include <string_view>

#include "envoy/service/auth/v3/external_auth.grpc.pb.h"
#include "server/api/admission.h"
#include "server/api/authorizer_service.h"
#include "server/audit/audit_writer.h"
#include "server/authz/authorizer.h"
#include "server/common/clock.h"
#include "server/config/config.h"

namespace certgate::api {

namespace envoy_auth = ::envoy::service::auth::v3;

// Builds pipeline input from a CheckRequest received from `peer` (Envoy's address: Envoy is
// the forwarder, so the pipeline's trusted-forwarder check applies to it).
// - Certificate: attributes.source.certificate (url-pem) when non-empty; else the first header
//   of `config.headers` with a non-empty value in attributes.request.http.headers or header_map
//   (repeated values joined with ","), with that header's encoding/preset; else none (MISSING).
// - request id: attributes.request.http.id, else the x-request-id header; bytes outside printable
//   ASCII are dropped, at most 128 kept; a fresh random id when nothing is left.
// - action: the HTTP method; resource: the path without query string or fragment (query strings
//   often carry secrets, and the audit trail is durable). Both truncated to the Authorize limits.
// Never fails: every CheckRequest yields an input (and therefore a decision).
authz::AuthorizeInput InputFromCheckRequest(const envoy_auth::CheckRequest& request,
                                            const config::ExtAuthzConfig& config,
                                            const std::string& peer);

// The HTTP status of a denied request: 401 when there is no usable certificate (missing,
// malformed, untrusted issuer or forwarder, failed proxy verification, outside its validity,
// wrong key usage), 403 when the certificate is known but not allowed (revoked, user disabled,
// not enrolled, access denied). The table is in deploy/README.md.
int HttpStatusForReason(Reason reason);
// google.rpc code of CheckResponse.status for a denial: 16 UNAUTHENTICATED for 401,
// 7 PERMISSION_DENIED for 403.
int RpcCodeForReason(Reason reason);

// Fills `response` from a decision (the pipeline succeeded):
// - allowed: status OK; ok_response.headers = the identity headers (overwrite, never append);
//   ok_response.headers_to_remove = every configured identity header this response does not set
//   (Envoy removes AFTER it adds, so listing a header that is also set would delete it; a set
//   header already replaces any client-supplied copy); dynamic_metadata = identity.
// - denied: status UNAUTHENTICATED/PERMISSION_DENIED; denied_response with 401/403,
//   content-type application/json, x-certgate-reason, JSON body; dynamic_metadata = reason.
void FillCheckResponse(const authz::AuthorizeResult& result, const std::string& request_id,
                       const config::ExtAuthzConfig& config, envoy_auth::CheckResponse& response);

// A JSON string literal (with quotes) for UTF-8 text: escapes '"', '\\' and control characters,
// and replaces bytes that are not valid UTF-8 with U+FFFD so the body is always valid JSON.
std::string JsonString(std::string_view text);
// A header value that survives any HTTP version: bytes outside 0x20..0x7e, '%', and a leading or
// trailing space are percent-encoded (%XX, uppercase hex); everything else is unchanged.
std::string HeaderSafeValue(std::string_view text);

// Sync API (server_api: sync): each call holds a gRPC thread, blocked in the audit commit.
// Thread-safe; `authorizer` must outlive the service.
class ExtAuthzService final : public envoy_auth::Authorization::Service {
 public:
  // `admission` (optional) gates every call: overload and draining.
  ExtAuthzService(authz::Authorizer& authorizer, config::ExtAuthzConfig config,
                  Admission* admission = nullptr)
      : authorizer_(authorizer), config_(std::move(config)), admission_(admission) {}

  grpc::Status Check(grpc::ServerContext* context, const envoy_auth::CheckRequest* request,
                     envoy_auth::CheckResponse* response) override;

 private:
  authz::Authorizer& authorizer_;
  const config::ExtAuthzConfig config_;
  Admission* admission_;
};

// Callback API (server_api: callback, the default): decides on gRPC's thread, queues the audit
// row with AuditWriter::RecordAsync and returns; the audit writer's thread finishes the call once
// the row is committed (the response's dynamic metadata then gets the audit id), or fails it with
// the store's error. Same answers as ExtAuthzService. Thread-safe; the dependencies must outlive
// the service.
class ExtAuthzCallbackService final : public envoy_auth::Authorization::CallbackService {
 public:
  using Deps = CallbackDeps;
  ExtAuthzCallbackService(Deps deps, config::ExtAuthzConfig config)
      : deps_(deps), config_(std::move(config)) {}

  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* context,
                                  const envoy_auth::CheckRequest* request,
                                  envoy_auth::CheckResponse* response) override;

 private:
  Deps deps_;
  const config::ExtAuthzConfig config_;
};

}  // namespace certgate::api
