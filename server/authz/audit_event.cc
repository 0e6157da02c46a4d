#include "server/authz/audit_event.h"

namespace certgate::authz {

store::AuditEvent AuthorizeAuditEvent(const AuthorizeInput& input, const Decision& decision,
                                      int64_t time_micros) {
  store::AuditEvent ev;
  ev.time = time_micros;
  ev.kind = "authorize";
  ev.request_id = input.request_id;
  ev.caller = input.caller_peer;
  ev.action = input.action;
  ev.resource = input.resource;
  ev.decision = decision.allowed ? store::Decision::kAllow : store::Decision::kDeny;
  ev.reason = decision.reason;
  ev.message = decision.message;
  if (decision.certificate) {
    ev.fingerprint_sha256 = decision.certificate->fingerprint_sha256;
    ev.subject = decision.certificate->subject;
    ev.issuer = decision.certificate->issuer;
    ev.serial = decision.certificate->serial;
  }
  if (decision.user) {
    ev.user_id = decision.user->id;
    ev.user_name = decision.user->name;
  }
  return ev;
}

}  // namespace certgate::authz
