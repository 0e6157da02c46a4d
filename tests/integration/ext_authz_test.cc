// End-to-end: Envoy's ext_authz Check against the real certgate-server on 127.0.0.1:0 (this
// test plays Envoy, with the generated stub of certgate's wire-compatible Envoy protos), and
// grpc.health.v1 on both listeners. Every Check decision must leave exactly one audit row.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <memory>
#include <thread>

#include "certgate/client.h"
#include "envoy/service/auth/v3/external_auth.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/support/admin_calls.h"
#include "tests/support/encoding.h"
#include "tests/support/server_process.h"
#include "tests/support/testdata.h"

namespace certgate {
namespace {

namespace envoy_auth = ::envoy::service::auth::v3;
using ::envoy::config::core::v3::HeaderValueOption;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using testing::EnvoyUrlEncode;
using testing::ReadTestdata;
using testing::TrimTrailing;
using testing::UrlEscape;

std::string XfccElement(const std::string& name) {
  return "By=spiffe://example.org/gateway;Hash=" +
         TrimTrailing(ReadTestdata(name + ".fingerprint")) + ";Cert=\"" +
         UrlEscape(ReadTestdata(name + ".pem")) + "\";Subject=\"" +
         TrimTrailing(ReadTestdata(name + ".subject")) + "\"";
}

envoy_auth::CheckRequest BaseRequest() {
  envoy_auth::CheckRequest r;
  auto* http = r.mutable_attributes()->mutable_request()->mutable_http();
  http->set_method("GET");
  http->set_path("/orders?page=2");
  http->set_host("api.example.com");
  (*http->mutable_headers())[":authority"] = "api.example.com";
  return r;
}
envoy_auth::CheckRequest SourceCertRequest(const std::string& name) {
  auto r = BaseRequest();
  r.mutable_attributes()->mutable_source()->set_certificate(UrlEscape(ReadTestdata(name + ".pem")));
  return r;
}
envoy_auth::CheckRequest XfccRequest(const std::string& xfcc) {
  auto r = BaseRequest();
  (*r.mutable_attributes()
        ->mutable_request()
        ->mutable_http()
        ->mutable_headers())["x-forwarded-client-cert"] = xfcc;
  return r;
}

std::map<std::string, const HeaderValueOption*> ByName(
    const google::protobuf::RepeatedPtrField<HeaderValueOption>& headers) {
  std::map<std::string, const HeaderValueOption*> out;
  for (const auto& h : headers) out[h.header().key()] = &h;
  return out;
}

std::unique_ptr<Client> MakeClient(const std::string& target) {
  ChannelOptions o;
  o.target = target;
  std::string err;
  return std::make_unique<Client>(MakeChannel(o, &err));
}

std::unique_ptr<grpc::ClientContext> Context() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return ctx;
}

class ExtAuthzIntegration : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    testing::ServerProcessOptions opts;
    opts.extra_yaml =
        "forwarders:\n"
        "  - name: envoy\n"
        "    addresses: [127.0.0.1]\n";
    server_ = new testing::ServerProcess(opts);
    ASSERT_TRUE(server_->Start());
    admin_ = MakeClient(server_->admin_target()).release();
    stub_ = envoy_auth::Authorization::NewStub(
                grpc::CreateChannel(server_->target(), grpc::InsecureChannelCredentials()))
                .release();
    for (const char* name : {"alice", "dave", "erin"}) {
      ASSERT_TRUE(testing::CreateUser(*admin_, name).ok());
      grpc::Status s = testing::EnrollDer(*admin_, name, ReadTestdata(std::string(name) + ".der"));
      ASSERT_TRUE(s.ok()) << s.error_message();
    }
    v1::SetUserDisabledRequest disable;
    disable.set_name("dave");
    disable.set_disabled(true);
    v1::User user;
    ASSERT_TRUE(admin_->admin().SetUserDisabled(admin_->NewContext().get(), disable, &user).ok());
    v1::RevokeCertificateRequest revoke;
    revoke.set_fingerprint_sha256(TrimTrailing(ReadTestdata("erin.fingerprint")));
    v1::RevokeCertificateResponse revoked;
    ASSERT_TRUE(
        admin_->admin().RevokeCertificate(admin_->NewContext().get(), revoke, &revoked).ok());
  }
  static void TearDownTestSuite() {
    delete stub_;
    delete admin_;
    if (server_) {
      EXPECT_EQ(server_->Stop(), 0);
    }
    delete server_;
    server_ = nullptr;
  }

  // Sends a Check with a unique request id (in attributes.request.http.id) and checks the one
  // audit row it left and the metadata that names it.
  envoy_auth::CheckResponse Check(envoy_auth::CheckRequest req) {
    static int counter = 0;
    const std::string rid =
        std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "-" +
        std::to_string(++counter);
    req.mutable_attributes()->mutable_request()->mutable_http()->set_id(rid);
    envoy_auth::CheckResponse resp;
    grpc::Status s = stub_->Check(Context().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    const auto& meta = resp.dynamic_metadata().fields();
    EXPECT_EQ(meta.count("request_id") ? meta.at("request_id").string_value() : "", rid);
    ExpectOneAuditRow(rid, resp);
    return resp;
  }

  void ExpectOneAuditRow(const std::string& rid, const envoy_auth::CheckResponse& resp) {
    v1::QueryAuditRequest q;
    q.set_request_id(rid);
    v1::QueryAuditResponse rows;
    ASSERT_TRUE(admin_->admin().QueryAudit(admin_->NewContext().get(), q, &rows).ok());
    ASSERT_EQ(rows.events_size(), 1) << "exactly one audit row per decision";
    const v1::AuditEvent& e = rows.events(0);
    EXPECT_EQ(e.kind(), "authorize");
    EXPECT_EQ(e.action(), "GET");
    EXPECT_EQ(e.resource(), "/orders") << "path without its query string";
    const auto& meta = resp.dynamic_metadata().fields();
    EXPECT_EQ(meta.count("audit_id") ? meta.at("audit_id").string_value() : "",
              std::to_string(e.id()));
    if (resp.has_ok_response()) {
      EXPECT_EQ(e.decision(), "ALLOW");
      EXPECT_EQ(e.user_name(), meta.at("user").string_value());
    } else {
      EXPECT_EQ(e.decision(), "DENY");
      EXPECT_EQ(e.reason(), resp.status().message());
    }
  }

  void ExpectAllowedAs(const envoy_auth::CheckResponse& resp, const std::string& user) {
    ASSERT_TRUE(resp.has_ok_response())
        << resp.status().message() << " " << resp.denied_response().body();
    EXPECT_EQ(resp.status().code(), 0);
    auto headers = ByName(resp.ok_response().headers());
    ASSERT_EQ(headers.count("x-certgate-user"), 1u);
    EXPECT_EQ(headers["x-certgate-user"]->header().value(), user);
    EXPECT_EQ(headers["x-certgate-fingerprint"]->header().value(),
              TrimTrailing(ReadTestdata(user + ".fingerprint")));
    EXPECT_EQ(headers["x-certgate-subject"]->header().value(),
              TrimTrailing(ReadTestdata(user + ".subject")));
    EXPECT_FALSE(headers["x-certgate-user-id"]->header().value().empty());
    for (const auto& [name, h] : headers) {
      EXPECT_FALSE(h->append().value()) << name;
      EXPECT_EQ(h->append_action(), HeaderValueOption::OVERWRITE_IF_EXISTS_OR_ADD) << name;
    }
    const auto& meta = resp.dynamic_metadata().fields();
    EXPECT_EQ(meta.at("user").string_value(), user);
    EXPECT_EQ(meta.at("fingerprint").string_value(),
              TrimTrailing(ReadTestdata(user + ".fingerprint")));
    EXPECT_EQ(meta.at("serial").string_value(), TrimTrailing(ReadTestdata(user + ".serial")));
    EXPECT_EQ(meta.at("issuer").string_value(), "CN=certgate Test Root CA,O=certgate tests,C=US");
  }

  void ExpectDenied(const envoy_auth::CheckResponse& resp, const std::string& reason, int http) {
    ASSERT_TRUE(resp.has_denied_response()) << "expected " << reason;
    EXPECT_EQ(resp.status().code(), http == 401 ? 16 : 7);
    EXPECT_EQ(resp.status().message(), reason);
    const auto& d = resp.denied_response();
    EXPECT_EQ(static_cast<int>(d.status().code()), http) << reason;
    auto headers = ByName(d.headers());
    ASSERT_EQ(headers.count("content-type"), 1u);
    EXPECT_EQ(headers["content-type"]->header().value(), "application/json");
    ASSERT_EQ(headers.count("x-certgate-reason"), 1u);
    EXPECT_EQ(headers["x-certgate-reason"]->header().value(), reason);
    EXPECT_EQ(d.body().rfind("{\"reason\":\"" + reason + "\",\"message\":\"", 0), 0u) << d.body();
    EXPECT_EQ(resp.dynamic_metadata().fields().at("reason").string_value(), reason);
  }

  static testing::ServerProcess* server_;
  static Client* admin_;
  static envoy_auth::Authorization::Stub* stub_;
};

testing::ServerProcess* ExtAuthzIntegration::server_ = nullptr;
Client* ExtAuthzIntegration::admin_ = nullptr;
envoy_auth::Authorization::Stub* ExtAuthzIntegration::stub_ = nullptr;

TEST_F(ExtAuthzIntegration, AllowsEnvoysPeerCertificateWithIdentityHeadersAndMetadata) {
  auto resp = Check(SourceCertRequest("alice"));
  ExpectAllowedAs(resp, "alice");
  EXPECT_EQ(resp.ok_response().headers_to_remove_size(), 0);
}

TEST_F(ExtAuthzIntegration, AcceptsEnvoysOwnUrlEncodingOfThePem) {
  auto req = BaseRequest();
  req.mutable_attributes()->mutable_source()->set_certificate(
      EnvoyUrlEncode(ReadTestdata("alice.pem")));
  ExpectAllowedAs(Check(req), "alice");
  ExpectAllowedAs(Check(XfccRequest("Hash=" + TrimTrailing(ReadTestdata("alice.fingerprint")) +
                                    ";Cert=\"" + EnvoyUrlEncode(ReadTestdata("alice.pem")) +
                                    "\";URI=spiffe://example.org/alice")),
                  "alice");
}

TEST_F(ExtAuthzIntegration, AllowsAnXfccHeader) {
  ExpectAllowedAs(Check(XfccRequest(XfccElement("alice"))), "alice");
}

TEST_F(ExtAuthzIntegration, XfccWithSeveralElementsDecidesOnTheFirst) {
  // Each hop appends its element: the first one describes the original client.
  ExpectAllowedAs(Check(XfccRequest(XfccElement("alice") + "," + XfccElement("bob"))), "alice");
  ExpectDenied(Check(XfccRequest(XfccElement("bob") + "," + XfccElement("alice"))),
               "CERTIFICATE_NOT_ENROLLED", 403);
}

TEST_F(ExtAuthzIntegration, ReadsNewerEnvoysHeaderMapWithRawValues) {
  auto req = BaseRequest();
  auto* h = req.mutable_attributes()
                ->mutable_request()
                ->mutable_http()
                ->mutable_header_map()
                ->add_headers();
  h->set_key("x-forwarded-client-cert");
  h->set_raw_value(XfccElement("alice"));
  ExpectAllowedAs(Check(req), "alice");
}

TEST_F(ExtAuthzIntegration, AForgedIdentityHeaderIsOverwrittenNotAppendedTo) {
  auto req = SourceCertRequest("alice");
  auto* headers = req.mutable_attributes()->mutable_request()->mutable_http()->mutable_headers();
  (*headers)["x-certgate-user"] = "root";
  (*headers)["x-certgate-user-id"] = "1";
  auto resp = Check(req);
  ExpectAllowedAs(resp, "alice");
  for (const std::string& removed : resp.ok_response().headers_to_remove()) {
    EXPECT_EQ(ByName(resp.ok_response().headers()).count(removed), 0u)
        << removed << ": Envoy removes after adding, so this would strip the real identity";
  }
}

TEST_F(ExtAuthzIntegration, NoCertificateIs401Missing) {
  ExpectDenied(Check(BaseRequest()), "CERTIFICATE_MISSING", 401);
}

TEST_F(ExtAuthzIntegration, KnownButRefusedCertificatesAre403) {
  ExpectDenied(Check(SourceCertRequest("erin")), "CERTIFICATE_REVOKED", 403);
  ExpectDenied(Check(SourceCertRequest("dave")), "USER_DISABLED", 403);
  ExpectDenied(Check(SourceCertRequest("bob")), "CERTIFICATE_NOT_ENROLLED", 403);
}

TEST_F(ExtAuthzIntegration, UnusableCertificatesAre401) {
  ExpectDenied(Check(SourceCertRequest("expired")), "CERTIFICATE_EXPIRED", 401);
  ExpectDenied(Check(SourceCertRequest("notyet")), "CERTIFICATE_NOT_YET_VALID", 401);
  ExpectDenied(Check(SourceCertRequest("serverauth")), "KEY_USAGE_NOT_ALLOWED", 401);
  ExpectDenied(Check(XfccRequest("Cert=\"unbalanced")), "CERTIFICATE_MALFORMED", 401);
  auto garbage = BaseRequest();
  garbage.mutable_attributes()->mutable_source()->set_certificate("%ZZ");
  ExpectDenied(Check(garbage), "CERTIFICATE_MALFORMED", 401);
}

TEST_F(ExtAuthzIntegration, RequestIdComesFromXRequestIdOrIsGenerated) {
  auto req = SourceCertRequest("alice");
  (*req.mutable_attributes()
        ->mutable_request()
        ->mutable_http()
        ->mutable_headers())["x-request-id"] = "xrid-ext-authz-1";
  envoy_auth::CheckResponse resp;
  ASSERT_TRUE(stub_->Check(Context().get(), req, &resp).ok());
  EXPECT_EQ(resp.dynamic_metadata().fields().at("request_id").string_value(), "xrid-ext-authz-1");
  ExpectOneAuditRow("xrid-ext-authz-1", resp);

  envoy_auth::CheckResponse generated;
  ASSERT_TRUE(stub_->Check(Context().get(), SourceCertRequest("alice"), &generated).ok());
  const std::string rid = generated.dynamic_metadata().fields().at("request_id").string_value();
  EXPECT_EQ(rid.size(), 24u);
  ExpectOneAuditRow(rid, generated);
}

TEST(ExtAuthzForwarderTrust, EnvoyMustBeAConfiguredForwarderEvenForItsPeerCertificate) {
  testing::ServerProcess server;  // no forwarders configured
  ASSERT_TRUE(server.Start());
  auto stub = envoy_auth::Authorization::NewStub(
      grpc::CreateChannel(server.target(), grpc::InsecureChannelCredentials()));
  for (const auto& req : {SourceCertRequest("alice"), XfccRequest(XfccElement("alice"))}) {
    envoy_auth::CheckResponse resp;
    ASSERT_TRUE(stub->Check(Context().get(), req, &resp).ok());
    ASSERT_TRUE(resp.has_denied_response());
    EXPECT_EQ(resp.status().message(), "FORWARDER_NOT_TRUSTED");
    EXPECT_EQ(static_cast<int>(resp.denied_response().status().code()), 401);
  }
  stub.reset();
  EXPECT_EQ(server.Stop(), 0);
}

TEST(ExtAuthzConfigured, CustomCertificateHeaderAndIdentityHeaderNames) {
  testing::ServerProcessOptions opts;
  opts.extra_yaml =
      "forwarders: [{name: envoy, addresses: [127.0.0.1]}]\n"
      "ext_authz:\n"
      "  headers: [{name: x-ssl-client-cert, encoding: nginx}]\n"
      "  identity_headers: {user: x-user, subject: x-subject}\n";
  testing::ServerProcess server(opts);
  ASSERT_TRUE(server.Start());
  auto admin = MakeClient(server.admin_target());
  ASSERT_TRUE(testing::CreateUser(*admin, "carol").ok());
  ASSERT_TRUE(testing::EnrollDer(*admin, "carol", ReadTestdata("carol.der")).ok());

  auto stub = envoy_auth::Authorization::NewStub(
      grpc::CreateChannel(server.target(), grpc::InsecureChannelCredentials()));
  auto req = BaseRequest();
  (*req.mutable_attributes()
        ->mutable_request()
        ->mutable_http()
        ->mutable_headers())["x-ssl-client-cert"] = UrlEscape(ReadTestdata("carol.pem"));
  envoy_auth::CheckResponse resp;
  ASSERT_TRUE(stub->Check(Context().get(), req, &resp).ok());
  ASSERT_TRUE(resp.has_ok_response()) << resp.denied_response().body();
  auto headers = ByName(resp.ok_response().headers());
  EXPECT_EQ(headers.count("x-certgate-user"), 0u);
  ASSERT_EQ(headers.count("x-user"), 1u);
  EXPECT_EQ(headers["x-user"]->header().value(), "carol");
  // carol's subject has quotes, an escaped comma and plus, and UTF-8 (Zoë): percent-encoded in
  // the header, raw in the metadata.
  ASSERT_EQ(headers.count("x-subject"), 1u);
  const std::string subject = headers["x-subject"]->header().value();
  EXPECT_NE(subject.find("Zo%C3%AB"), std::string::npos) << subject;
  for (unsigned char c : subject) EXPECT_TRUE(c >= 0x20 && c <= 0x7e) << subject;
  EXPECT_NE(resp.dynamic_metadata().fields().at("subject").string_value().find("Zo\xc3\xab"),
            std::string::npos);

  // XFCC is no longer configured: a request carrying only XFCC has no certificate.
  envoy_auth::CheckResponse missing;
  ASSERT_TRUE(stub->Check(Context().get(), XfccRequest(XfccElement("carol")), &missing).ok());
  EXPECT_EQ(missing.status().message(), "CERTIFICATE_MISSING");
  // Idle client channels would hold the draining server for its whole grace period.
  stub.reset();
  admin.reset();
  EXPECT_EQ(server.Stop(), 0);
}

// grpc.health.v1 through the generated stub.
HealthCheckResponse::ServingStatus HealthOf(const std::string& target, const std::string& service,
                                            grpc::Status* status = nullptr) {
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  HealthCheckRequest req;
  req.set_service(service);
  HealthCheckResponse resp;
  grpc::Status s = stub->Check(Context().get(), req, &resp);
  if (status) *status = s;
  return s.ok() ? resp.status() : HealthCheckResponse::UNKNOWN;
}

TEST(Health, BothListenersReportServingForTheServerAndEachServiceOnceReady) {
  testing::ServerProcess server;
  ASSERT_TRUE(server.Start());  // returns after the readiness line: database open, listeners up
  for (const char* service :
       {"", "certgate.v1.Authorizer", "envoy.service.auth.v3.Authorization"}) {
    EXPECT_EQ(HealthOf(server.target(), service), HealthCheckResponse::SERVING) << service;
  }
  EXPECT_EQ(HealthOf(server.admin_target(), ""), HealthCheckResponse::SERVING);
  EXPECT_EQ(HealthOf(server.admin_target(), "certgate.v1.Admin"), HealthCheckResponse::SERVING);

  grpc::Status s;
  HealthOf(server.target(), "certgate.v1.Admin", &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << "admin is not served on this listener";
  HealthOf(server.target(), "no.such.Service", &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(server.Stop(), 0);
}

TEST(Health, WatchersSeeNotServingWhenTheServerStartsDraining) {
  testing::ServerProcess server;
  ASSERT_TRUE(server.Start());
  {
    auto stub = grpc::health::v1::Health::NewStub(
        grpc::CreateChannel(server.target(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    HealthCheckRequest req;
    req.set_service("envoy.service.auth.v3.Authorization");
    auto reader = stub->Watch(&ctx, req);
    HealthCheckResponse update;
    ASSERT_TRUE(reader->Read(&update));
    EXPECT_EQ(update.status(), HealthCheckResponse::SERVING);

    ASSERT_EQ(kill(server.pid(), SIGTERM), 0);
    ASSERT_TRUE(reader->Read(&update)) << "the drain must be announced before the stream ends";
    EXPECT_EQ(update.status(), HealthCheckResponse::NOT_SERVING);
    ctx.TryCancel();  // let the draining server finish without waiting for this stream
    (void)reader->Finish();
  }  // the channel closes here; an idle open channel would hold the server for its grace period
  EXPECT_EQ(server.Stop(), 0);
}

}  // namespace
}  // namespace certgate
