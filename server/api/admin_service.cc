#include "server/api/admin_service.h"

#include <spdlog/spdlog.h>

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

certs::SerialFormat SerialFormatOf(v1::SubjectSerial::SerialFormat f) {
  return f == v1::SubjectSerial::DECIMAL ? certs::SerialFormat::kDecimal : certs::SerialFormat::kHex;
}

}  // namespace

Status AdminService::RecordAdmin(grpc::ServerContext* ctx, const std::string& action,
                                 const std::string& resource, const std::string& message,
                                 std::optional<int64_t> user_id, const std::string& user_name,
                                 const std::string& fingerprint) {
  store::AuditEvent ev;
  ev.time = deps_.clock.NowMicros();
  ev.kind = "admin";
  ev.caller = ctx->peer();
  ev.decision = store::Decision::kAllow;
  ev.action = action;
  ev.resource = resource;
  ev.message = message;
  ev.user_id = user_id;
  ev.user_name = user_name;
  ev.fingerprint_sha256 = fingerprint;
  Result<int64_t> id = deps_.audit.Record(std::move(ev));
  if (!id.ok()) return id.status();
  spdlog::get("api")->info("admin caller={} action={} resource={} audit_id={}", ctx->peer(), action,
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
  if (c.not_before) out.mutable_not_before()->set_seconds(c.not_before);
  if (c.not_after) out.mutable_not_after()->set_seconds(c.not_after);
  auto rev = deps_.store.FindRevocation(c.fingerprint_sha256, c.issuer_canonical, c.serial);
  if (!rev.ok()) return rev.status();
  out.set_status(rev->has_value() ? "revoked" : "active");
  SetMicros(c.created_at, out.mutable_created_at());
  return out;
}

grpc::Status AdminService::CreateUser(grpc::ServerContext* ctx, const v1::CreateUserRequest* req,
                                      v1::User* resp) {
  if (req->name().empty() || req->name().size() > 256) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "user name must be 1..256 bytes"};
  }
  store::User u;
  u.name = req->name();
  u.display_name = req->display_name();
  u.roles.assign(req->roles().begin(), req->roles().end());
  auto created = deps_.store.CreateUser(u);
  if (!created.ok()) return Err(created.status());
  if (Status s = RecordAdmin(ctx, "user.create", "user/" + created->name, "", created->id, created->name);
      !s.ok()) {
    return Err(s);
  }
  *resp = UserToProto(*created);
  return grpc::Status::OK;
}

grpc::Status AdminService::GetUser(grpc::ServerContext*, const v1::GetUserRequest* req,
                                   v1::User* resp) {
  Result<std::optional<store::User>> u = req->user_case() == v1::GetUserRequest::kId
                                             ? deps_.store.GetUser(req->id())
                                             : deps_.store.GetUserByName(req->name());
  if (!u.ok()) return Err(u.status());
  if (!u->has_value()) return {grpc::StatusCode::NOT_FOUND, "no such user"};
  *resp = UserToProto(**u);
  return grpc::Status::OK;
}

grpc::Status AdminService::ListUsers(grpc::ServerContext*, const v1::ListUsersRequest*,
                                     v1::ListUsersResponse* resp) {
  auto users = deps_.store.ListUsers();
  if (!users.ok()) return Err(users.status());
  for (const auto& u : *users) *resp->add_users() = UserToProto(u);
  return grpc::Status::OK;
}

grpc::Status AdminService::SetUserDisabled(grpc::ServerContext* ctx,
                                           const v1::SetUserDisabledRequest* req, v1::User* resp) {
  auto u = deps_.store.GetUserByName(req->name());
  if (!u.ok()) return Err(u.status());
  if (!u->has_value()) return {grpc::StatusCode::NOT_FOUND, "no user named '" + req->name() + "'"};
  if (Status s = deps_.store.SetUserDisabled((*u)->id, req->disabled()); !s.ok()) return Err(s);
  if (Status s = RecordAdmin(ctx, req->disabled() ? "user.disable" : "user.enable",
                             "user/" + req->name(), "", (*u)->id, req->name());
      !s.ok()) {
    return Err(s);
  }
  (*u)->disabled = req->disabled();
  *resp = UserToProto(**u);
  return grpc::Status::OK;
}

grpc::Status AdminService::EnrollCertificate(grpc::ServerContext* ctx,
                                             const v1::EnrollCertificateRequest* req,
                                             v1::Certificate* resp) {
  auto user = deps_.store.GetUserByName(req->user_name());
  if (!user.ok()) return Err(user.status());
  if (!user->has_value()) {
    return {grpc::StatusCode::NOT_FOUND, "no user named '" + req->user_name() + "'"};
  }
  store::EnrolledCertificate row;
  row.user_id = (*user)->id;

  if (req->credential_case() == v1::EnrollCertificateRequest::kSubjectSerial) {
    const v1::SubjectSerial& ss = req->subject_serial();
    if (ss.issuer_dn().empty()) {
      return {grpc::StatusCode::INVALID_ARGUMENT, "enrollment by subject+serial requires the issuer DN"};
    }
    auto subject = certs::ParseDnString(ss.subject_dn());
    if (!subject.ok()) return {grpc::StatusCode::INVALID_ARGUMENT, "subject DN: " + subject.status().message()};
    auto issuer = certs::ParseDnString(ss.issuer_dn());
    if (!issuer.ok()) return {grpc::StatusCode::INVALID_ARGUMENT, "issuer DN: " + issuer.status().message()};
    auto serial = certs::NormalizeSerial(ss.serial(), SerialFormatOf(ss.serial_format()));
    if (!serial.ok()) return {grpc::StatusCode::INVALID_ARGUMENT, "serial: " + serial.status().message()};
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
        return {grpc::StatusCode::INVALID_ARGUMENT, "no certificate given"};
    }
    certs::DecodeOptions opts;
    opts.xfcc_element = deps_.xfcc_element;
    authz::DecodedCredential decoded = authz::DecodeCredential(cred, opts);
    if (!decoded.ok) return {grpc::StatusCode::INVALID_ARGUMENT, decoded.message};
    auto facts = certs::ParseCertificate(decoded.chain.front());
    if (!facts.ok()) return {grpc::StatusCode::INVALID_ARGUMENT, "certificate: " + facts.status().message()};
    if (!req->force()) {
      const int64_t now = deps_.clock.NowSeconds();
      if (now > facts->not_after) {
        return {grpc::StatusCode::FAILED_PRECONDITION, "the certificate has expired (use --force to enroll anyway)"};
      }
      if (facts->is_ca) {
        return {grpc::StatusCode::FAILED_PRECONDITION, "this is a CA certificate, not a client certificate (use --force to enroll anyway)"};
      }
      if (facts->has_eku && !facts->eku_client_auth) {
        return {grpc::StatusCode::FAILED_PRECONDITION,
                "the certificate's extended key usage lacks clientAuth (use --force to enroll anyway)"};
      }
      if (facts->key_type == "RSA" && facts->key_bits < 2048) {
        return {grpc::StatusCode::FAILED_PRECONDITION,
                "RSA key of " + std::to_string(facts->key_bits) + " bits is under 2048 (use --force to enroll anyway)"};
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
      return {grpc::StatusCode::ALREADY_EXISTS, "this certificate is already enrolled"};
    }
    return Err(enrolled.status());
  }
  if (Status s = RecordAdmin(ctx, "cert.enroll", "certificate/" + std::to_string(enrolled->id),
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

grpc::Status AdminService::ListCertificates(grpc::ServerContext*, const v1::ListCertificatesRequest* req,
                                            v1::ListCertificatesResponse* resp) {
  std::optional<int64_t> user_id;
  if (!req->user_name().empty()) {
    auto u = deps_.store.GetUserByName(req->user_name());
    if (!u.ok()) return Err(u.status());
    if (!u->has_value()) return {grpc::StatusCode::NOT_FOUND, "no user named '" + req->user_name() + "'"};
    user_id = (*u)->id;
  }
  auto list = deps_.store.ListCertificates(user_id);
  if (!list.ok()) return Err(list.status());
  for (const auto& c : *list) {
    auto p = ToProto(c);
    if (!p.ok()) return Err(p.status());
    *resp->add_certificates() = std::move(*p);
  }
  return grpc::Status::OK;
}

grpc::Status AdminService::RevokeCertificate(grpc::ServerContext* ctx,
                                             const v1::RevokeCertificateRequest* req,
                                             v1::RevokeCertificateResponse* resp) {
  std::optional<store::EnrolledCertificate> cert;
  if (req->target_case() == v1::RevokeCertificateRequest::kFingerprintSha256) {
    auto found = deps_.store.FindCertificateByFingerprint(req->fingerprint_sha256());
    if (!found.ok()) return Err(found.status());
    cert = *found;
  } else if (req->target_case() == v1::RevokeCertificateRequest::kIssuerSerial) {
    const v1::IssuerSerial& is = req->issuer_serial();
    if (is.issuer_dn().empty() || is.serial().empty()) {
      return {grpc::StatusCode::INVALID_ARGUMENT, "revocation needs both issuer DN and serial"};
    }
    auto issuer = certs::ParseDnString(is.issuer_dn());
    if (!issuer.ok()) return {grpc::StatusCode::INVALID_ARGUMENT, "issuer DN: " + issuer.status().message()};
    auto serial = certs::NormalizeSerial(is.serial(), SerialFormatOf(is.serial_format()));
    if (!serial.ok()) return {grpc::StatusCode::INVALID_ARGUMENT, "serial: " + serial.status().message()};
    auto found = deps_.store.FindCertificateByIssuerSerial(issuer->Canonical(), *serial);
    if (!found.ok()) return Err(found.status());
    cert = *found;
  } else {
    return {grpc::StatusCode::INVALID_ARGUMENT, "give a fingerprint or an issuer and serial"};
  }
  if (!cert) return {grpc::StatusCode::NOT_FOUND, "no enrolled certificate matches"};
  if (req->reason_code() < 0 || req->reason_code() > 10 || req->reason_code() == 7) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "reason_code must be an RFC 5280 CRLReason (0-6, 8-10)"};
  }
  store::Revocation rev;
  rev.issuer_canonical = cert->issuer_canonical;
  rev.serial = cert->serial;
  rev.fingerprint_sha256 = cert->fingerprint_sha256;
  rev.reason = static_cast<store::RevocationReason>(req->reason_code());
  rev.revoked_at = deps_.clock.NowMicros();
  rev.source = "admin";
  if (Status s = deps_.store.AddRevocation(rev); !s.ok()) return Err(s);
  if (Status s = RecordAdmin(ctx, "cert.revoke", "certificate/" + std::to_string(cert->id),
                             "reason_code=" + std::to_string(req->reason_code()), cert->user_id, "",
                             cert->fingerprint_sha256);
      !s.ok()) {
    return Err(s);
  }
  auto p = ToProto(*cert);
  if (!p.ok()) return Err(p.status());
  *resp->mutable_certificate() = std::move(*p);
  return grpc::Status::OK;
}

grpc::Status AdminService::QueryAudit(grpc::ServerContext*, const v1::QueryAuditRequest* req,
                                      v1::QueryAuditResponse* resp) {
  store::AuditQuery q;
  auto micros = [](const google::protobuf::Timestamp& t) {
    return t.seconds() * 1'000'000 + t.nanos() / 1000;
  };
  if (req->has_since()) q.since = micros(req->since());
  if (req->has_until()) q.until = micros(req->until());
  if (!req->user_name().empty()) {
    auto u = deps_.store.GetUserByName(req->user_name());
    if (!u.ok()) return Err(u.status());
    if (!u->has_value()) return {grpc::StatusCode::NOT_FOUND, "no user named '" + req->user_name() + "'"};
    q.user_id = (*u)->id;
  }
  if (!req->fingerprint_sha256().empty()) q.fingerprint_sha256 = req->fingerprint_sha256();
  if (!req->decision().empty()) {
    if (req->decision() == "ALLOW") q.decision = store::Decision::kAllow;
    else if (req->decision() == "DENY") q.decision = store::Decision::kDeny;
    else return {grpc::StatusCode::INVALID_ARGUMENT, "decision must be ALLOW or DENY"};
  }
  if (!req->reason().empty()) {
    auto r = ParseReason(req->reason());
    if (!r) return {grpc::StatusCode::INVALID_ARGUMENT, "unknown reason '" + req->reason() + "'"};
    q.reason = *r;
  }
  if (!req->action().empty()) q.action = req->action();
  if (!req->request_id().empty()) q.request_id = req->request_id();
  if (req->before_id() > 0) q.before_id = req->before_id();
  if (req->after_id() > 0) q.after_id = req->after_id();
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
  if (deps_.validator == nullptr) {
    return {grpc::StatusCode::UNIMPLEMENTED, "this server has no validator for CRL imports"};
  }
  if (req->crl().empty()) return {grpc::StatusCode::INVALID_ARGUMENT, "no CRL given"};
  auto imported = authz::ImportCrl(deps_.store, *deps_.validator, deps_.clock, req->crl(),
                                   req->issuer_certificate());
  if (!imported.ok()) return Err(imported.status());
  if (Status s = RecordAdmin(ctx, "crl.import", "crl/" + imported->issuer_display,
                             "crl_number=" + imported->crl_number +
                                 " entries=" + std::to_string(imported->entry_count),
                             std::nullopt, "", imported->fingerprint_sha256);
      !s.ok()) {
    return Err(s);
  }
  *resp->mutable_crl() = CrlToProto(*imported, deps_.clock.NowSeconds());
  return grpc::Status::OK;
}

grpc::Status AdminService::ListCrls(grpc::ServerContext*, const v1::ListCrlsRequest*,
                                    v1::ListCrlsResponse* resp) {
  auto crls = deps_.store.ListCrls();
  if (!crls.ok()) return Err(crls.status());
  const int64_t now = deps_.clock.NowSeconds();
  for (const store::CrlInfo& c : *crls) *resp->add_crls() = CrlToProto(c, now);
  return grpc::Status::OK;
}

}  // namespace certgate::api
