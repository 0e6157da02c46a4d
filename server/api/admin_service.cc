#include "server/api/admin_service.h"

#include <grpcpp/security/auth_context.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "server/api/authorizer_service.h"
#include "server/api/grpc_status.h"
#include "server/authz/authorizer.h"
#include "server/authz/crl_import.h"
#include "server/certs/certificate.h"
#include "server/certs/dn.h"
#include "server/certs/serial.h"

namespace certgate::api {
namespace {

void SetMicros(int64_t micros, google::protobuf::Timestamp* ts) {
  ts->set_seconds(micros / 1'000'000);
  ts->set_nanos(static_cast<int32_t>((micros % 1'000'000) * 1000));
}

int64_t Micros(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1'000'000 + t.nanos() / 1000;
}

v1::User UserToProto(const store::User& u) {
  v1::User out;
  out.set_id(u.id);
  out.set_name(u.name);
  out.set_display_name(u.display_name);
  out.set_disabled(u.disabled);
  for (const auto& r : u.roles) out.add_roles(r);
  SetMicros(u.created_at, out.mutable_created_at());
  return out;
}

grpc::Status Err(const Status& s) { return ToGrpcStatus(s); }
grpc::Status Invalid(std::string m) { return {grpc::StatusCode::INVALID_ARGUMENT, std::move(m)}; }
grpc::Status NotFound(std::string m) { return {grpc::StatusCode::NOT_FOUND, std::move(m)}; }
grpc::Status Refused(std::string m) {
  return {grpc::StatusCode::FAILED_PRECONDITION, std::move(m) + " (use --force to enroll anyway)"};
}

certs::SerialFormat SerialFormatOf(v1::SubjectSerial::SerialFormat f) {
  return f == v1::SubjectSerial::DECIMAL ? certs::SerialFormat::kDecimal
                                         : certs::SerialFormat::kHex;
}

bool ValidRole(const std::string& r) {
  if (r.empty() || r.size() > 64) return false;
  return std::all_of(r.begin(), r.end(), [](unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
  });
}

std::string CertStatus(const std::optional<store::Revocation>& rev) {
  if (!rev) return "active";
  return rev->reason == store::RevocationReason::kCertificateHold ? "on_hold" : "revoked";
}

}  // namespace

grpc::Status AdminService::Begin(grpc::ServerContext* ctx, const char* method, CallScope* call) {
  if (deps_.admission) {
    call->ticket.emplace(deps_.admission->Enter());
    if (!call->ticket->admitted()) return call->ticket->status();
  }
  return Authenticate(ctx, method, &call->actor);
}

grpc::Status AdminService::Authenticate(grpc::ServerContext* ctx, const char* method,
                                        std::string* actor) {
  if (!deps_.actor.empty()) {
    *actor = deps_.actor;
    return grpc::Status::OK;
  }
  *actor = ctx->peer();
  if (!deps_.require_admin_certificate) return grpc::Status::OK;

  auto refuse = [&](grpc::StatusCode code, Reason reason, const std::string& why,
                    const std::string& fingerprint, std::optional<int64_t> user_id,
                    const std::string& user_name) {
    store::AuditEvent ev;
    ev.time = deps_.clock.NowMicros();
    ev.kind = "admin";
    ev.caller = ctx->peer();
    ev.decision = store::Decision::kDeny;
    ev.reason = reason;
    ev.action = method;
    ev.message = why;
    ev.fingerprint_sha256 = fingerprint;
    ev.user_id = user_id;
    ev.user_name = user_name;
    Result<int64_t> id = deps_.audit.Record(std::move(ev));
    if (!id.ok()) return Err(id.status());
    spdlog::get("api")->warn("admin refused caller={} method={}: {}", ctx->peer(), method, why);
    return grpc::Status(code, why);
  };

  std::shared_ptr<const grpc::AuthContext> auth = ctx->auth_context();
  std::vector<grpc::string_ref> pems =
      auth ? auth->FindPropertyValues("x509_pem_cert") : std::vector<grpc::string_ref>{};
  if (pems.empty()) {
    return refuse(grpc::StatusCode::UNAUTHENTICATED, Reason::kCertificateMissing,
                  "the admin API requires a client certificate", "", std::nullopt, "");
  }
  auto ders = certs::SplitPemCertificates(std::string(pems[0].data(), pems[0].size()));
  if (!ders.ok() || ders->empty()) {
    return refuse(grpc::StatusCode::UNAUTHENTICATED, Reason::kCertificateMalformed,
                  "cannot read the client certificate", "", std::nullopt, "");
  }
  auto facts = certs::ParseCertificate(ders->front());
  if (!facts.ok()) {
    return refuse(grpc::StatusCode::UNAUTHENTICATED, Reason::kCertificateMalformed,
                  "cannot read the client certificate", "", std::nullopt, "");
  }
  const int64_t now = deps_.clock.NowSeconds();
  if (now > facts->not_after || now < facts->not_before) {
    return refuse(grpc::StatusCode::UNAUTHENTICATED, Reason::kCertificateExpired,
                  "the client certificate is outside its validity window",
                  facts->fingerprint_sha256, std::nullopt, "");
  }
  auto enrolled = deps_.store.FindCertificateByFingerprint(facts->fingerprint_sha256);
  if (!enrolled.ok()) return Err(enrolled.status());
  if (!enrolled->has_value()) {
    return refuse(grpc::StatusCode::PERMISSION_DENIED, Reason::kCertificateNotEnrolled,
                  "the client certificate is not enrolled", facts->fingerprint_sha256, std::nullopt,
                  "");
  }
  auto rev = deps_.store.FindRevocation(facts->fingerprint_sha256, facts->issuer.Canonical(),
                                        facts->serial);
  if (!rev.ok()) return Err(rev.status());
  if (rev->has_value()) {
    return refuse(grpc::StatusCode::PERMISSION_DENIED, Reason::kCertificateRevoked,
                  "the client certificate is revoked", facts->fingerprint_sha256,
                  (*enrolled)->user_id, "");
  }
  auto user = deps_.store.GetUser((*enrolled)->user_id);
  if (!user.ok()) return Err(user.status());
  if (!user->has_value()) return {grpc::StatusCode::INTERNAL, "enrolled certificate has no user"};
  const store::User& u = **user;
  if (u.disabled) {
    return refuse(grpc::StatusCode::PERMISSION_DENIED, Reason::kUserDisabled,
                  "user '" + u.name + "' is disabled", facts->fingerprint_sha256, u.id, u.name);
  }
  if (std::find(u.roles.begin(), u.roles.end(), "admin") == u.roles.end()) {
    return refuse(grpc::StatusCode::PERMISSION_DENIED, Reason::kAccessDenied,
                  "user '" + u.name + "' does not have the admin role", facts->fingerprint_sha256,
                  u.id, u.name);
  }
  *actor = ctx->peer() + " admin=" + u.name;
  return grpc::Status::OK;
}

Status AdminService::RecordAdmin(const std::string& actor, const std::string& action,
                                 const std::string& resource, const std::string& message,
                                 std::optional<int64_t> user_id, const std::string& user_name,
                                 const std::string& fingerprint) {
  store::AuditEvent ev;
  ev.time = deps_.clock.NowMicros();
  ev.kind = "admin";
  ev.caller = actor;
  ev.decision = store::Decision::kAllow;
  ev.action = action;
  ev.resource = resource;
  ev.message = message;
  ev.user_id = user_id;
  ev.user_name = user_name;
  ev.fingerprint_sha256 = fingerprint;
  Result<int64_t> id = deps_.audit.Record(std::move(ev));
  if (!id.ok()) return id.status();
  spdlog::get("api")->info("admin caller={} action={} resource={} audit_id={}", actor, action,
                           resource, *id);
  return Status::Ok();
}

Result<v1::Certificate> AdminService::ToProto(const store::EnrolledCertificate& c) {
  v1::Certificate out;
  out.set_id(c.id);
  out.set_user_id(c.user_id);
  auto user = deps_.store.GetUser(c.user_id);
  if (!user.ok()) return user.status();
  if (user->has_value()) out.set_user_name((*user)->name);
  out.set_fingerprint_sha256(c.fingerprint_sha256);
  out.set_subject(c.subject_display);
  out.set_issuer(c.issuer_display);
  out.set_serial(c.serial);
  out.set_spki_sha256(c.spki_sha256);
  if (c.not_before) out.mutable_not_before()->set_seconds(c.not_before);
  if (c.not_after) out.mutable_not_after()->set_seconds(c.not_after);
  auto rev = deps_.store.FindRevocation(c.fingerprint_sha256, c.issuer_canonical, c.serial);
  if (!rev.ok()) return rev.status();
  out.set_status(CertStatus(*rev));
  if (rev->has_value()) {
    out.set_revocation_reason(static_cast<int32_t>((*rev)->reason));
    SetMicros((*rev)->revoked_at, out.mutable_revoked_at());
  }
  SetMicros(c.created_at, out.mutable_created_at());
  return out;
}

grpc::Status AdminService::FindTarget(const std::string& fingerprint, const v1::IssuerSerial* is,
                                      std::optional<store::EnrolledCertificate>* out) {
  if (!fingerprint.empty()) {
    auto found = deps_.store.FindCertificateByFingerprint(fingerprint);
    if (!found.ok()) return Err(found.status());
    *out = *found;
  } else if (is) {
    if (is->issuer_dn().empty() || is->serial().empty()) {
      return Invalid(
          "both the issuer DN and the serial are required (a serial alone is not a key)");
    }
    auto issuer = certs::ParseDnString(is->issuer_dn());
    if (!issuer.ok()) return Invalid("issuer DN: " + issuer.status().message());
    auto serial = certs::NormalizeSerial(is->serial(), SerialFormatOf(is->serial_format()));
    if (!serial.ok()) return Invalid("serial: " + serial.status().message());
    auto found = deps_.store.FindCertificateByIssuerSerial(issuer->Canonical(), *serial);
    if (!found.ok()) return Err(found.status());
    *out = *found;
  } else {
    return Invalid("give a fingerprint, or an issuer DN and serial");
  }
  if (!out->has_value()) return NotFound("no enrolled certificate matches");
  return grpc::Status::OK;
}

grpc::Status AdminService::CreateUser(grpc::ServerContext* ctx, const v1::CreateUserRequest* req,
                                      v1::User* resp) {
  CallScope call;
  if (auto s = Begin(ctx, "user.create", &call); !s.ok()) return s;
  const std::string& actor = call.actor;
  if (req->name().empty() || req->name().size() > 256) {
    return Invalid("user name must be 1..256 bytes");
  }
  for (const auto& r : req->roles()) {
    if (!ValidRole(r)) return Invalid("invalid role '" + r + "' (use [a-z0-9._-], at most 64)");
  }
  store::User u;
  u.name = req->name();
  u.display_name = req->display_name();
  u.roles.assign(req->roles().begin(), req->roles().end());
  auto created = deps_.store.CreateUser(u);
  if (!created.ok()) {
    if (created.status().code() == StatusCode::kAlreadyExists) {
      return {grpc::StatusCode::ALREADY_EXISTS, "a user named '" + req->name() + "' exists"};
    }
    return Err(created.status());
  }
  if (Status s = RecordAdmin(actor, "user.create", "user/" + created->name, "", created->id,
                             created->name);
      !s.ok()) {
    return Err(s);
  }
  *resp = UserToProto(*created);
  return grpc::Status::OK;
}

grpc::Status AdminService::GetUser(grpc::ServerContext* ctx, const v1::GetUserRequest* req,
                                   v1::User* resp) {
  CallScope call;
  if (auto s = Begin(ctx, "user.get", &call); !s.ok()) return s;
  Result<std::optional<store::User>> u = req->user_case() == v1::GetUserRequest::kId
                                             ? deps_.store.GetUser(req->id())
                                             : deps_.store.GetUserByName(req->name());
  if (!u.ok()) return Err(u.status());
  if (!u->has_value()) return NotFound("no such user");
  *resp = UserToProto(**u);
  return grpc::Status::OK;
}

grpc::Status AdminService::ListUsers(grpc::ServerContext* ctx, const v1::ListUsersRequest*,
                                     v1::ListUsersResponse* resp) {
  CallScope call;
  if (auto s = Begin(ctx, "user.list", &call); !s.ok()) return s;
  auto users = deps_.store.ListUsers();
  if (!users.ok()) return Err(users.status());
  for (const auto& u : *users) *resp->add_users() = UserToProto(u);
  return grpc::Status::OK;
}

grpc::Status AdminService::SetUserDisabled(grpc::ServerContext* ctx,
                                           const v1::SetUserDisabledRequest* req, v1::User* resp) {
  const char* action = req->disabled() ? "user.disable" : "user.enable";
  CallScope call;
  if (auto s = Begin(ctx, action, &call); !s.ok()) return s;
  const std::string& actor = call.actor;
  auto u = deps_.store.GetUserByName(req->name());
  if (!u.ok()) return Err(u.status());
  if (!u->has_value()) return NotFound("no user named '" + req->name() + "'");
  if (Status s = deps_.store.SetUserDisabled((*u)->id, req->disabled()); !s.ok()) return Err(s);
  if (Status s = RecordAdmin(actor, action, "user/" + req->name(), "", (*u)->id, req->name());
      !s.ok()) {
    return Err(s);
  }
  (*u)->disabled = req->disabled();
  *resp = UserToProto(**u);
  return grpc::Status::OK;
}

grpc::Status AdminService::SetUserRoles(grpc::ServerContext* ctx,
                                        const v1::SetUserRolesRequest* req, v1::User* resp) {
  CallScope call;
  if (auto s = Begin(ctx, "user.roles", &call); !s.ok()) return s;
  const std::string& actor = call.actor;
  std::vector<std::string> roles(req->roles().begin(), req->roles().end());
  for (const auto& r : roles) {
    if (!ValidRole(r)) return Invalid("invalid role '" + r + "' (use [a-z0-9._-], at most 64)");
  }
  std::sort(roles.begin(), roles.end());
  roles.erase(std::unique(roles.begin(), roles.end()), roles.end());
  auto u = deps_.store.GetUserByName(req->name());
  if (!u.ok()) return Err(u.status());
  if (!u->has_value()) return NotFound("no user named '" + req->name() + "'");
  if (Status s = deps_.store.SetUserRoles((*u)->id, roles); !s.ok()) return Err(s);
  std::string joined;
  for (const auto& r : roles) joined += (joined.empty() ? "" : ",") + r;
  if (Status s = RecordAdmin(actor, "user.roles", "user/" + req->name(), "roles=" + joined,
                             (*u)->id, req->name());
      !s.ok()) {
    return Err(s);
  }
  (*u)->roles = roles;
  *resp = UserToProto(**u);
  return grpc::Status::OK;
}

grpc::Status AdminService::EnrollCertificate(grpc::ServerContext* ctx,
                                             const v1::EnrollCertificateRequest* req,
                                             v1::Certificate* resp) {
  CallScope call;
  if (auto s = Begin(ctx, "cert.enroll", &call); !s.ok()) return s;
  const std::string& actor = call.actor;
  auto user = deps_.store.GetUserByName(req->user_name());
  if (!user.ok()) return Err(user.status());
  if (!user->has_value()) return NotFound("no user named '" + req->user_name() + "'");
  store::EnrolledCertificate row;
  row.user_id = (*user)->id;

  if (req->credential_case() == v1::EnrollCertificateRequest::kSubjectSerial) {
    const v1::SubjectSerial& ss = req->subject_serial();
    if (ss.issuer_dn().empty()) {
      return Invalid("enrollment by subject+serial requires the issuer DN");
    }
    auto subject = certs::ParseDnString(ss.subject_dn());
    if (!subject.ok()) return Invalid("subject DN: " + subject.status().message());
    auto issuer = certs::ParseDnString(ss.issuer_dn());
    if (!issuer.ok()) return Invalid("issuer DN: " + issuer.status().message());
    auto serial = certs::NormalizeSerial(ss.serial(), SerialFormatOf(ss.serial_format()));
    if (!serial.ok()) return Invalid("serial: " + serial.status().message());
    row.subject_canonical = subject->Canonical();
    row.subject_display = subject->ToRfc4514();
    row.issuer_canonical = issuer->Canonical();
    row.issuer_display = issuer->ToRfc4514();
    row.serial = *serial;
  } else {
    authz::Credential cred;
    switch (req->credential_case()) {
      case v1::EnrollCertificateRequest::kCertificateDer:
        cred.kind = authz::Credential::Kind::kDer;
        cred.der = req->certificate_der();
        break;
      case v1::EnrollCertificateRequest::kCertificatePem:
        cred.kind = authz::Credential::Kind::kPem;
        cred.pem = req->certificate_pem();
        break;
      case v1::EnrollCertificateRequest::kForwardedHeader:
        cred.kind = authz::Credential::Kind::kHeader;
        cred.header_value = req->forwarded_header().value();
        cred.encoding = req->forwarded_header().encoding();
        cred.preset = req->forwarded_header().preset();
        cred.chain_value = req->forwarded_header().chain_value();
        break;
      default:
        return Invalid("no certificate given");
    }
    certs::DecodeOptions opts;
    opts.xfcc_element = deps_.xfcc_element;
    authz::DecodedCredential decoded = authz::DecodeCredential(cred, opts);
    if (!decoded.ok) return Invalid(decoded.message);
    auto facts = certs::ParseCertificate(decoded.chain.front());
    if (!facts.ok()) return Invalid("certificate: " + facts.status().message());
    // Refusals that --force cannot override come first: a certificate enrolled for anyone.
    auto existing = deps_.store.FindCertificateByFingerprint(facts->fingerprint_sha256);
    if (!existing.ok()) return Err(existing.status());
    if (existing->has_value()) {
      auto owner = deps_.store.GetUser((*existing)->user_id);
      std::string who = owner.ok() && owner->has_value() ? (*owner)->name : "another user";
      return {grpc::StatusCode::ALREADY_EXISTS,
              "this certificate is already enrolled (for user '" + who + "')"};
    }
    if (!req->force()) {
      const int64_t now = deps_.clock.NowSeconds();
      if (now > facts->not_after) return Refused("the certificate has expired");
      if (now < facts->not_before) return Refused("the certificate is not yet valid");
      if (facts->is_ca) return Refused("this is a CA certificate, not a client certificate");
      if (facts->has_eku && !facts->eku_client_auth) {
        return Refused("the certificate's extended key usage does not include clientAuth");
      }
      if (facts->key_type == "RSA" && facts->key_bits < 2048) {
        return Refused("its RSA key has " + std::to_string(facts->key_bits) +
                       " bits; at least 2048 are required");
      }
      auto same_key = deps_.store.FindCertificatesBySpki(facts->spki_sha256);
      if (!same_key.ok()) return Err(same_key.status());
      for (const auto& other : *same_key) {
        if (other.user_id != (*user)->id) {
          auto owner = deps_.store.GetUser(other.user_id);
          std::string who = owner.ok() && owner->has_value() ? (*owner)->name : "another user";
          return Refused("the same public key is already enrolled for user '" + who + "'");
        }
      }
    }
    row.fingerprint_sha256 = facts->fingerprint_sha256;
    row.subject_canonical = facts->subject.Canonical();
    row.subject_display = facts->subject.ToRfc4514();
    row.issuer_canonical = facts->issuer.Canonical();
    row.issuer_display = facts->issuer.ToRfc4514();
    row.serial = facts->serial;
    row.not_before = facts->not_before;
    row.not_after = facts->not_after;
    row.der = facts->der;
    row.spki_sha256 = facts->spki_sha256;
  }
  auto enrolled = deps_.store.EnrollCertificate(row);
  if (!enrolled.ok()) {
    if (enrolled.status().code() == StatusCode::kAlreadyExists) {
      return {grpc::StatusCode::ALREADY_EXISTS,
              "a certificate with this issuer and serial is already enrolled"};
    }
    return Err(enrolled.status());
  }
  if (Status s = RecordAdmin(actor, "cert.enroll", "certificate/" + std::to_string(enrolled->id),
                             req->force() ? "forced" : "", (*user)->id, (*user)->name,
                             enrolled->fingerprint_sha256);
      !s.ok()) {
    return Err(s);
  }
  auto proto = ToProto(*enrolled);
  if (!proto.ok()) return Err(proto.status());
  *resp = std::move(*proto);
  return grpc::Status::OK;
}

grpc::Status AdminService::GetCertificate(grpc::ServerContext* ctx,
                                          const v1::GetCertificateRequest* req,
                                          v1::Certificate* resp) {
  CallScope call;
  if (auto s = Begin(ctx, "cert.get", &call); !s.ok()) return s;
  std::optional<store::EnrolledCertificate> found;
  if (req->certificate_case() == v1::GetCertificateRequest::kId) {
    auto got = deps_.store.GetCertificate(req->id());
    if (!got.ok()) return Err(got.status());
    found = std::move(*got);
    if (!found) return NotFound("no enrolled certificate with id " + std::to_string(req->id()));
  } else {
    if (auto s = FindTarget(req->fingerprint_sha256(), nullptr, &found); !s.ok()) return s;
  }
  auto p = ToProto(*found);
  if (!p.ok()) return Err(p.status());
  *resp = std::move(*p);
  return grpc::Status::OK;
}

grpc::Status AdminService::ListCertificates(grpc::ServerContext* ctx,
                                            const v1::ListCertificatesRequest* req,
                                            v1::ListCertificatesResponse* resp) {
  CallScope call;
  if (auto s = Begin(ctx, "cert.list", &call); !s.ok()) return s;
  if (!req->status().empty() && req->status() != "active" && req->status() != "revoked" &&
      req->status() != "on_hold") {
    return Invalid("status must be active, revoked or on_hold");
  }
  if (req->expiring_within_days() < 0) return Invalid("expiring_within_days must be >= 0");
  std::optional<int64_t> user_id;
  if (!req->user_name().empty()) {
    auto u = deps_.store.GetUserByName(req->user_name());
    if (!u.ok()) return Err(u.status());
    if (!u->has_value()) return NotFound("no user named '" + req->user_name() + "'");
    user_id = (*u)->id;
  }
  constexpr int kDefaultPage = 1000;
  constexpr int kMaxPage = 10000;
  if (req->page_size() < 0 || req->page_size() > kMaxPage) {
    return Invalid("page_size must be between 0 and 10000");
  }
  const int page = req->page_size() == 0 ? kDefaultPage : req->page_size();
  int64_t after = 0;  // the page token: the id of the last certificate already looked at
  if (!req->page_token().empty()) {
    const std::string& t = req->page_token();
    if (t.size() > 18 || t.find_first_not_of("0123456789") != std::string::npos) {
      return Invalid("page_token is not one this server returned");
    }
    after = std::stoll(t);
  }
  const int64_t horizon = deps_.clock.NowSeconds() + int64_t{req->expiring_within_days()} * 86400;
  // Rows are read a page at a time. With a filter that skips most rows, at most kChunks pages
  // are read per call, so every call answers promptly (with a token to go on).
  constexpr int kChunks = 10;
  bool exhausted = false;
  for (int chunk = 0; chunk < kChunks && resp->certificates_size() < page; ++chunk) {
    auto list = deps_.store.ListCertificates(user_id, after, page);
    if (!list.ok()) return Err(list.status());
    size_t used = 0;
    for (const auto& c : *list) {
      if (resp->certificates_size() == page) break;
      ++used;
      after = c.id;
      if (req->expiring_within_days() > 0 && (c.not_after == 0 || c.not_after > horizon)) continue;
      auto p = ToProto(c);
      if (!p.ok()) return Err(p.status());
      if (!req->status().empty() && p->status() != req->status()) continue;
      *resp->add_certificates() = std::move(*p);
    }
    if (list->size() < static_cast<size_t>(page) && used == list->size()) {
      exhausted = true;
      break;
    }
  }
  if (!exhausted) resp->set_next_page_token(std::to_string(after));
  return grpc::Status::OK;
}

grpc::Status AdminService::RevokeCertificate(grpc::ServerContext* ctx,
                                             const v1::RevokeCertificateRequest* req,
                                             v1::RevokeCertificateResponse* resp) {
  CallScope call;
  if (auto s = Begin(ctx, "cert.revoke", &call); !s.ok()) return s;
  const std::string& actor = call.actor;
  const int code = req->reason_code();
  if (code < 0 || code > 10 || code == 7) {
    return Invalid("reason_code must be an RFC 5280 CRLReason (0-6, 8-10)");
  }
  std::vector<store::EnrolledCertificate> targets;
  std::string resource;
  if (req->target_case() == v1::RevokeCertificateRequest::kUserName) {
    auto u = deps_.store.GetUserByName(req->user_name());
    if (!u.ok()) return Err(u.status());
    if (!u->has_value()) return NotFound("no user named '" + req->user_name() + "'");
    auto list = deps_.store.ListCertificates((*u)->id);
    if (!list.ok()) return Err(list.status());
    if (list->empty()) return NotFound("user '" + req->user_name() + "' has no certificates");
    targets = std::move(*list);
    resource = "user/" + req->user_name();
  } else {
    std::optional<store::EnrolledCertificate> found;
    const v1::IssuerSerial* is = req->target_case() == v1::RevokeCertificateRequest::kIssuerSerial
                                     ? &req->issuer_serial()
                                     : nullptr;
    const std::string fp = req->target_case() == v1::RevokeCertificateRequest::kFingerprintSha256
                               ? req->fingerprint_sha256()
                               : std::string();
    if (fp.empty() && !is) return Invalid("give a fingerprint, an issuer and serial, or a user");
    if (auto s = FindTarget(fp, is, &found); !s.ok()) return s;
    targets.push_back(*found);
    resource = "certificate/" + std::to_string(found->id);
  }
  const int64_t when = req->has_revoked_at() ? Micros(req->revoked_at()) : deps_.clock.NowMicros();
  for (const auto& cert : targets) {
    store::Revocation rev;
    rev.issuer_canonical = cert.issuer_canonical;
    rev.serial = cert.serial;
    rev.fingerprint_sha256 = cert.fingerprint_sha256;
    rev.reason = static_cast<store::RevocationReason>(code);
    rev.revoked_at = when;
    rev.source = "admin";
    if (Status s = deps_.store.AddRevocation(rev); !s.ok()) return Err(s);
  }
  std::string owner_name;
  if (auto owner = deps_.store.GetUser(targets.front().user_id); owner.ok() && owner->has_value()) {
    owner_name = (*owner)->name;
  }
  if (Status s = RecordAdmin(
          actor, "cert.revoke", resource,
          "reason_code=" + std::to_string(code) + " certificates=" + std::to_string(targets.size()),
          targets.front().user_id, owner_name,
          targets.size() == 1 ? targets.front().fingerprint_sha256 : "");
      !s.ok()) {
    return Err(s);
  }
  for (const auto& cert : targets) {
    auto p = ToProto(cert);
    if (!p.ok()) return Err(p.status());
    *resp->add_certificates() = *p;
  }
  *resp->mutable_certificate() = resp->certificates(0);
  return grpc::Status::OK;
}

grpc::Status AdminService::ReleaseHold(grpc::ServerContext* ctx, const v1::ReleaseHoldRequest* req,
                                       v1::Certificate* resp) {
  CallScope call;
  if (auto s = Begin(ctx, "cert.release_hold", &call); !s.ok()) return s;
  const std::string& actor = call.actor;
  std::optional<store::EnrolledCertificate> found;
  const v1::IssuerSerial* is =
      req->target_case() == v1::ReleaseHoldRequest::kIssuerSerial ? &req->issuer_serial() : nullptr;
  if (auto s = FindTarget(req->fingerprint_sha256(), is, &found); !s.ok()) return s;
  Status released = deps_.store.ReleaseHold(found->issuer_canonical, found->serial);
  if (!released.ok()) {
    if (released.code() == StatusCode::kNotFound) return NotFound("the certificate is not on hold");
    if (released.code() == StatusCode::kFailedPrecondition) {
      return {grpc::StatusCode::FAILED_PRECONDITION,
              "the certificate is revoked for a reason other than certificateHold; that is "
              "permanent"};
    }
    return Err(released);
  }
  if (Status s = RecordAdmin(actor, "cert.release_hold", "certificate/" + std::to_string(found->id),
                             "", found->user_id, "", found->fingerprint_sha256);
      !s.ok()) {
    return Err(s);
  }
  auto p = ToProto(*found);
  if (!p.ok()) return Err(p.status());
  *resp = std::move(*p);
  return grpc::Status::OK;
}

grpc::Status AdminService::QueryAudit(grpc::ServerContext* ctx, const v1::QueryAuditRequest* req,
                                      v1::QueryAuditResponse* resp) {
  CallScope call;
  if (auto s = Begin(ctx, "audit.query", &call); !s.ok()) return s;
  store::AuditQuery q;
  if (req->has_since()) q.since = Micros(req->since());
  if (req->has_until()) q.until = Micros(req->until());
  if (!req->user_name().empty()) {
    auto u = deps_.store.GetUserByName(req->user_name());
    if (!u.ok()) return Err(u.status());
    if (!u->has_value()) return NotFound("no user named '" + req->user_name() + "'");
    q.user_id = (*u)->id;
  }
  if (!req->fingerprint_sha256().empty()) q.fingerprint_sha256 = req->fingerprint_sha256();
  if (!req->decision().empty()) {
    if (req->decision() == "ALLOW") {
      q.decision = store::Decision::kAllow;
    } else if (req->decision() == "DENY") {
      q.decision = store::Decision::kDeny;
    } else {
      return Invalid("decision must be ALLOW or DENY");
    }
  }
  if (!req->reason().empty()) {
    auto r = ParseReason(req->reason());
    if (!r || *r == Reason::kNone) return Invalid("unknown reason '" + req->reason() + "'");
    q.reason = *r;
  }
  if (!req->action().empty()) q.action = req->action();
  if (!req->request_id().empty()) q.request_id = req->request_id();
  if (req->before_id() > 0) q.before_id = req->before_id();
  if (req->after_id() > 0) q.after_id = req->after_id();
  if (req->limit() < 0 || req->limit() > 1000) return Invalid("limit must be in 1..1000");
  q.limit = req->limit() > 0 ? req->limit() : 100;
  auto rows = deps_.store.QueryAudit(q);
  if (!rows.ok()) return Err(rows.status());
  for (const auto& e : *rows) {
    v1::AuditEvent* o = resp->add_events();
    o->set_id(e.id);
    SetMicros(e.time, o->mutable_time());
    o->set_kind(e.kind);
    o->set_request_id(e.request_id);
    o->set_caller(e.caller);
    o->set_fingerprint_sha256(e.fingerprint_sha256);
    o->set_subject(e.subject);
    o->set_issuer(e.issuer);
    o->set_serial(e.serial);
    if (e.user_id) o->set_user_id(*e.user_id);
    o->set_user_name(e.user_name);
    o->set_decision(e.decision == store::Decision::kAllow ? "ALLOW" : "DENY");
    if (e.reason != Reason::kNone) o->set_reason(std::string(ReasonName(e.reason)));
    o->set_action(e.action);
    o->set_resource(e.resource);
    o->set_message(e.message);
  }
  return grpc::Status::OK;
}

grpc::Status AdminService::Explain(grpc::ServerContext* ctx, const v1::ExplainRequest* req,
                                   v1::ExplainResponse* resp) {
  CallScope call;
  if (auto s = Begin(ctx, "explain", &call); !s.ok()) return s;
  if (!deps_.authorizer) return {grpc::StatusCode::UNIMPLEMENTED, "explain is not available here"};
  const std::string caller = req->caller().empty() ? ctx->peer() : req->caller();
  auto input = InputFromRequest(req->request(), caller);
  if (!input.ok()) return Err(input.status());
  input->explain = true;
  auto decided = deps_.authorizer->Decide(*input);
  if (!decided.ok()) return Err(decided.status());
  authz::AuthorizeResult result;
  result.decision = std::move(*decided);
  result.audit_id = 0;
  FillResponse(result, input->request_id, *resp->mutable_result());
  resp->add_steps("extract: caller " + caller);
  for (const auto& step : result.decision.trace) resp->add_steps(step);
  return grpc::Status::OK;
}

namespace {

v1::CrlInfo CrlToProto(const store::CrlInfo& c, int64_t now) {
  v1::CrlInfo out;
  out.set_issuer(c.issuer_display);
  out.set_crl_number(c.crl_number);
  out.mutable_this_update()->set_seconds(c.this_update);
  if (c.next_update != 0) out.mutable_next_update()->set_seconds(c.next_update);
  out.set_entry_count(c.entry_count);
  SetMicros(c.imported_at, out.mutable_imported_at());
  out.set_stale(c.next_update != 0 && now > c.next_update);
  out.set_fingerprint_sha256(c.fingerprint_sha256);
  return out;
}

}  // namespace

grpc::Status AdminService::ImportCrl(grpc::ServerContext* ctx, const v1::ImportCrlRequest* req,
                                     v1::ImportCrlResponse* resp) {
  CallScope call;
  if (auto s = Begin(ctx, "crl.import", &call); !s.ok()) return s;
  if (deps_.validator == nullptr) {
    return {grpc::StatusCode::UNIMPLEMENTED, "this server has no validator for CRL imports"};
  }
  if (req->crl().empty()) return {grpc::StatusCode::INVALID_ARGUMENT, "no CRL given"};
  auto imported = authz::ImportCrl(deps_.store, *deps_.validator, deps_.clock, req->crl(),
                                   req->issuer_certificate());
  if (!imported.ok()) return Err(imported.status());
  if (Status s = RecordAdmin(call.actor, "crl.import", "crl/" + imported->issuer_display,
                             "crl_number=" + imported->crl_number +
                                 " entries=" + std::to_string(imported->entry_count),
                             std::nullopt, "", imported->fingerprint_sha256);
      !s.ok()) {
    return Err(s);
  }
  *resp->mutable_crl() = CrlToProto(*imported, deps_.clock.NowSeconds());
  return grpc::Status::OK;
}

grpc::Status AdminService::ListCrls(grpc::ServerContext* ctx, const v1::ListCrlsRequest*,
                                    v1::ListCrlsResponse* resp) {
  CallScope call;
  if (auto s = Begin(ctx, "crl.list", &call); !s.ok()) return s;
  auto crls = deps_.store.ListCrls();
  if (!crls.ok()) return Err(crls.status());
  const int64_t now = deps_.clock.NowSeconds();
  for (const store::CrlInfo& c : *crls) *resp->add_crls() = CrlToProto(c, now);
  return grpc::Status::OK;
}

}  // namespace certgate::api
