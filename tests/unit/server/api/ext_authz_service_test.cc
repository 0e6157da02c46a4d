// Envoy ext_authz mapping: CheckRequest -> pipeline input, decision -> CheckResponse, and the
// service over an in-process gRPC server backed by the in-memory store (so a failing store can
// be injected): a failure inside certgate is a gRPC error, never an OK CheckResponse.
#include "server/api/ext_authz_service.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <gtest/gtest.h>

#include <memory>

#include "server/api/server.h"
#include "server/certs/certificate.h"
#include "server/store/memory_store.h"
#include "tests/support/encoding.h"
#include "tests/support/testdata.h"

namespace certgate::api {
namespace {

using ::envoy::config::core::v3::HeaderValueOption;
using testing::ReadTestdata;
using testing::UrlEscape;

envoy_auth::CheckRequest Request() {
  envoy_auth::CheckRequest r;
  auto* http = r.mutable_attributes()->mutable_request()->mutable_http();
  http->set_id("req-1");
  http->set_method("GET");
  http->set_path("/orders/7?token=secret#frag");
  return r;
}

const std::string kPeer = "ipv4:127.0.0.1:5000";

TEST(ExtAuthzInput, SourceCertificateIsAForwardedUrlPemCredential) {
  auto req = Request();
  req.mutable_attributes()->mutable_source()->set_certificate("%2D%2D%2D");
  (*req.mutable_attributes()
        ->mutable_request()
        ->mutable_http()
        ->mutable_headers())["x-forwarded-client-cert"] = "Cert=\"x\"";
  auto in = InputFromCheckRequest(req, config::ExtAuthzConfig{}, kPeer);
  EXPECT_EQ(in.credential.kind, authz::Credential::Kind::kHeader)
      << "Envoy is the forwarder: its peer certificate is still a forwarded credential";
  EXPECT_EQ(in.credential.encoding, "url-pem");
  EXPECT_EQ(in.credential.header_value, "%2D%2D%2D") << "source.certificate wins over headers";
  EXPECT_EQ(in.caller_peer, kPeer);
  EXPECT_EQ(in.request_id, "req-1");
  EXPECT_EQ(in.action, "GET");
  EXPECT_EQ(in.resource, "/orders/7") << "the query string (often secret) is not audited";
}

TEST(ExtAuthzInput, XfccHeaderFromTheMapOrTheHeaderMap) {
  auto req = Request();
  auto* http = req.mutable_attributes()->mutable_request()->mutable_http();
  (*http->mutable_headers())["x-forwarded-client-cert"] = "Cert=\"abc\"";
  auto in = InputFromCheckRequest(req, config::ExtAuthzConfig{}, kPeer);
  EXPECT_EQ(in.credential.kind, authz::Credential::Kind::kHeader);
  EXPECT_EQ(in.credential.encoding, "xfcc");
  EXPECT_EQ(in.credential.header_value, "Cert=\"abc\"");

  // Newer Envoys: header_map with the value in raw_value (bytes).
  auto req2 = Request();
  auto* h = req2.mutable_attributes()
                ->mutable_request()
                ->mutable_http()
                ->mutable_header_map()
                ->add_headers();
  h->set_key("X-Forwarded-Client-Cert");
  h->set_raw_value("Cert=\"def\"");
  in = InputFromCheckRequest(req2, config::ExtAuthzConfig{}, kPeer);
  EXPECT_EQ(in.credential.header_value, "Cert=\"def\"");
}

TEST(ExtAuthzInput, RepeatedHeaderMapEntriesAreJoinedLikeEnvoysMap) {
  auto req = Request();
  auto* map = req.mutable_attributes()->mutable_request()->mutable_http()->mutable_header_map();
  auto* a = map->add_headers();
  a->set_key("x-forwarded-client-cert");
  a->set_value("Cert=\"first\"");
  auto* b = map->add_headers();
  b->set_key("x-forwarded-client-cert");
  b->set_raw_value("Cert=\"second\"");
  auto in = InputFromCheckRequest(req, config::ExtAuthzConfig{}, kPeer);
  EXPECT_EQ(in.credential.header_value, "Cert=\"first\",Cert=\"second\"");
}

TEST(ExtAuthzInput, ConfiguredHeadersAreTriedInOrderWithTheirEncodingOrPreset) {
  config::ExtAuthzConfig cfg;
  cfg.headers = {{"x-ssl-client-cert", "nginx"}, {"x-client-der", "base64-der"}};
  auto req = Request();
  auto* headers = req.mutable_attributes()->mutable_request()->mutable_http()->mutable_headers();
  (*headers)["x-forwarded-client-cert"] = "Cert=\"ignored: not configured\"";
  (*headers)["x-client-der"] = "AAAA";
  auto in = InputFromCheckRequest(req, cfg, kPeer);
  EXPECT_EQ(in.credential.encoding, "base64-der");
  EXPECT_EQ(in.credential.header_value, "AAAA");
  (*headers)["x-ssl-client-cert"] = "%2D";
  in = InputFromCheckRequest(req, cfg, kPeer);
  EXPECT_EQ(in.credential.preset, "nginx") << "a preset name goes to Credential::preset";
  EXPECT_TRUE(in.credential.encoding.empty());
  EXPECT_EQ(in.credential.header_value, "%2D");
}

TEST(ExtAuthzInput, NoCertificateAnywhereIsNoCredential) {
  auto req = Request();
  (*req.mutable_attributes()
        ->mutable_request()
        ->mutable_http()
        ->mutable_headers())["x-forwarded-client-cert"] = "";
  auto in = InputFromCheckRequest(req, config::ExtAuthzConfig{}, kPeer);
  EXPECT_EQ(in.credential.kind, authz::Credential::Kind::kNone);
}

TEST(ExtAuthzInput, RequestIdIsSanitisedOrGenerated) {
  auto req = Request();
  auto* http = req.mutable_attributes()->mutable_request()->mutable_http();
  http->set_id("a b\r\nc\x01" + std::string(300, 'x'));
  auto in = InputFromCheckRequest(req, config::ExtAuthzConfig{}, kPeer);
  EXPECT_EQ(in.request_id.size(), 128u);
  EXPECT_EQ(in.request_id.substr(0, 4), "abcx");

  http->set_id("");
  (*http->mutable_headers())["x-request-id"] = "from-header";
  EXPECT_EQ(InputFromCheckRequest(req, config::ExtAuthzConfig{}, kPeer).request_id, "from-header");

  http->mutable_headers()->clear();
  std::string a = InputFromCheckRequest(req, config::ExtAuthzConfig{}, kPeer).request_id;
  std::string b = InputFromCheckRequest(req, config::ExtAuthzConfig{}, kPeer).request_id;
  EXPECT_EQ(a.size(), 24u);
  EXPECT_NE(a, b);
}

TEST(ExtAuthzInput, OversizeMethodAndPathAreTruncatedNotRefused) {
  auto req = Request();
  auto* http = req.mutable_attributes()->mutable_request()->mutable_http();
  http->set_method(std::string(1000, 'M'));
  http->set_path("/" + std::string(5000, 'p'));
  auto in = InputFromCheckRequest(req, config::ExtAuthzConfig{}, kPeer);
  EXPECT_EQ(in.action.size(), 256u);
  EXPECT_EQ(in.resource.size(), 2048u);
}

TEST(ExtAuthzMapping, UnusableCertificateIs401AndKnownButRefusedIs403) {
  for (Reason r : kAllReasons) {
    SCOPED_TRACE(std::string(ReasonName(r)));
    const bool known_but_refused = r == Reason::kCertificateRevoked || r == Reason::kUserDisabled ||
                                   r == Reason::kCertificateNotEnrolled ||
                                   r == Reason::kAccessDenied;
    EXPECT_EQ(HttpStatusForReason(r), known_but_refused ? 403 : 401);
    EXPECT_EQ(RpcCodeForReason(r), known_but_refused ? 7 : 16);
  }
}

TEST(ExtAuthzMapping, JsonStringEscapesEverythingJsonRequires) {
  EXPECT_EQ(JsonString("plain"), "\"plain\"");
  EXPECT_EQ(JsonString("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(JsonString("l1\nl2\r\t\x01\x7f"), "\"l1\\nl2\\r\\t\\u0001\\u007f\"");
  EXPECT_EQ(JsonString("Zo\xc3\xab"), "\"Zo\xc3\xab\"") << "valid UTF-8 passes through";
  EXPECT_EQ(JsonString("bad\xff\xc3"), "\"bad\xef\xbf\xbd\xef\xbf\xbd\"")
      << "invalid UTF-8 becomes U+FFFD";
  EXPECT_EQ(JsonString("\xed\xa0\x80"), "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"")
      << "a UTF-16 surrogate is not UTF-8";
  EXPECT_EQ(JsonString(std::string("nul\0x", 5)), "\"nul\\u0000x\"");
}

TEST(ExtAuthzMapping, HeaderValuesArePercentEncodedOutsidePrintableAscii) {
  EXPECT_EQ(HeaderSafeValue("CN=alice,O=certgate tests"), "CN=alice,O=certgate tests");
  EXPECT_EQ(HeaderSafeValue("Zo\xc3\xab"), "Zo%C3%AB");
  EXPECT_EQ(HeaderSafeValue("a\r\nx-evil: 1"), "a%0D%0Ax-evil: 1");
  EXPECT_EQ(HeaderSafeValue("100%"), "100%25");
  EXPECT_EQ(HeaderSafeValue(" pad "), "%20pad%20");
}

authz::AuthorizeResult Allowed() {
  authz::AuthorizeResult r;
  r.audit_id = 42;
  r.decision.allowed = true;
  store::User u;
  u.id = 7;
  u.name = "alice";
  u.roles = {"admin", "dev"};
  r.decision.user = u;
  authz::CertificateSummary c;
  c.fingerprint_sha256 = "ab12";
  c.subject = "CN=alice,O=Zo\xc3\xab";
  c.issuer = "CN=Root";
  c.serial = "0a11";
  r.decision.certificate = c;
  return r;
}

std::map<std::string, const HeaderValueOption*> ByName(
    const google::protobuf::RepeatedPtrField<HeaderValueOption>& headers) {
  std::map<std::string, const HeaderValueOption*> out;
  for (const auto& h : headers) out[h.header().key()] = &h;
  return out;
}

TEST(ExtAuthzMapping, AllowSetsIdentityHeadersWithOverwriteAndMetadata) {
  envoy_auth::CheckResponse resp;
  FillCheckResponse(Allowed(), "rid", config::ExtAuthzConfig{}, resp);
  EXPECT_EQ(resp.status().code(), 0);
  ASSERT_TRUE(resp.has_ok_response());
  auto headers = ByName(resp.ok_response().headers());
  ASSERT_EQ(headers.size(), 4u);
  EXPECT_EQ(headers["x-certgate-user"]->header().value(), "alice");
  EXPECT_EQ(headers["x-certgate-user-id"]->header().value(), "7");
  EXPECT_EQ(headers["x-certgate-fingerprint"]->header().value(), "ab12");
  EXPECT_EQ(headers["x-certgate-subject"]->header().value(), "CN=alice,O=Zo%C3%AB");
  for (const auto& [name, h] : headers) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(h->has_append()) << "old Envoys read only `append`";
    EXPECT_FALSE(h->append().value());
    EXPECT_EQ(h->append_action(), HeaderValueOption::OVERWRITE_IF_EXISTS_OR_ADD);
  }
  EXPECT_EQ(resp.ok_response().headers_to_remove_size(), 0)
      << "Envoy removes after adding: a set header must never also be listed for removal";
  const auto& m = resp.dynamic_metadata().fields();
  EXPECT_EQ(m.at("user").string_value(), "alice");
  EXPECT_EQ(m.at("user_id").string_value(), "7");
  EXPECT_EQ(m.at("fingerprint").string_value(), "ab12");
  EXPECT_EQ(m.at("subject").string_value(), "CN=alice,O=Zo\xc3\xab") << "metadata keeps UTF-8";
  EXPECT_EQ(m.at("issuer").string_value(), "CN=Root");
  EXPECT_EQ(m.at("serial").string_value(), "0a11");
  EXPECT_EQ(m.at("request_id").string_value(), "rid");
  EXPECT_EQ(m.at("audit_id").string_value(), "42");
  ASSERT_EQ(m.at("roles").list_value().values_size(), 2);
  EXPECT_EQ(m.at("roles").list_value().values(1).string_value(), "dev");
  EXPECT_EQ(m.count("reason"), 0u);
}

TEST(ExtAuthzMapping, AnIdentityHeaderWithNoValueIsRemovedInstead) {
  auto allowed = Allowed();
  allowed.decision.certificate->subject = "";  // a SAN-only certificate has an empty subject
  config::ExtAuthzConfig cfg;
  cfg.identity_headers.subject = "x-subject";
  envoy_auth::CheckResponse resp;
  FillCheckResponse(allowed, "rid", cfg, resp);
  auto headers = ByName(resp.ok_response().headers());
  EXPECT_EQ(headers.size(), 3u);
  EXPECT_EQ(headers.count("x-subject"), 0u);
  ASSERT_EQ(resp.ok_response().headers_to_remove_size(), 1);
  EXPECT_EQ(resp.ok_response().headers_to_remove(0), "x-subject")
      << "so a client-supplied x-subject never reaches upstream";
}

TEST(ExtAuthzMapping, DenyIsALocalReplyWithStatusReasonAndJsonBody) {
  struct Case {
    Reason reason;
    int http, rpc;
  } cases[] = {{Reason::kCertificateMissing, 401, 16},
               {Reason::kForwarderNotTrusted, 401, 16},
               {Reason::kCertificateRevoked, 403, 7},
               {Reason::kCertificateNotEnrolled, 403, 7}};
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(ReasonName(c.reason)));
    authz::AuthorizeResult r;
    r.audit_id = 5;
    r.decision.reason = c.reason;
    r.decision.message = "the \"quoted\" message\n";
    envoy_auth::CheckResponse resp;
    FillCheckResponse(r, "rid-9", config::ExtAuthzConfig{}, resp);
    EXPECT_EQ(resp.status().code(), c.rpc);
    EXPECT_EQ(resp.status().message(), ReasonName(c.reason));
    ASSERT_TRUE(resp.has_denied_response());
    const auto& d = resp.denied_response();
    EXPECT_EQ(static_cast<int>(d.status().code()), c.http);
    auto headers = ByName(d.headers());
    ASSERT_EQ(headers.size(), 2u);
    EXPECT_EQ(headers["content-type"]->header().value(), "application/json");
    EXPECT_EQ(headers["x-certgate-reason"]->header().value(), ReasonName(c.reason));
    EXPECT_EQ(d.body(),
              "{\"reason\":\"" + std::string(ReasonName(c.reason)) +
                  "\",\"message\":\"the \\\"quoted\\\" message\\n\",\"request_id\":\"rid-9\"}");
    const auto& m = resp.dynamic_metadata().fields();
    EXPECT_EQ(m.at("reason").string_value(), ReasonName(c.reason));
    EXPECT_EQ(m.at("audit_id").string_value(), "5");
    EXPECT_EQ(m.count("user"), 0u);
  }
}

// The service behind a real (in-process) gRPC server, backed by the in-memory store.
class ExtAuthzServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InitLogging("off");
    clock_.SetSeconds(time(nullptr));
    store_ = store::NewMemoryStore(clock_);
    audit_ = std::make_unique<audit::AuditWriter>(*store_);
    authz::AuthorizerOptions opts;
    config::ForwarderConfig envoy;
    envoy.name = "envoy";
    envoy.addresses = {"127.0.0.1"};
    opts.forwarders = {envoy};
    authorizer_ = std::make_unique<authz::Authorizer>(
        authz::Authorizer::Deps{*store_, *audit_, clock_}, opts);
    service_ = std::make_unique<ExtAuthzService>(*authorizer_, config::ExtAuthzConfig{});

    auto user = store_->CreateUser({0, "alice", "", false, {}, 0});
    ASSERT_TRUE(user.ok());
    auto facts = certs::ParseCertificate(ReadTestdata("alice.der"));
    ASSERT_TRUE(facts.ok());
    store::EnrolledCertificate row;
    row.user_id = user->id;
    row.fingerprint_sha256 = facts->fingerprint_sha256;
    row.issuer_canonical = facts->issuer.Canonical();
    row.subject_canonical = facts->subject.Canonical();
    row.serial = facts->serial;
    row.der = facts->der;
    ASSERT_TRUE(store_->EnrollCertificate(row).ok());

    grpc::ServerBuilder b;
    int port = 0;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    b.RegisterService(service_.get());
    server_ = b.BuildAndStart();
    ASSERT_TRUE(server_ && port > 0);
    stub_ = envoy_auth::Authorization::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
    audit_->Shutdown();
  }

  grpc::Status Check(envoy_auth::CheckResponse* resp) {
    auto req = Request();
    req.mutable_attributes()->mutable_source()->set_certificate(
        UrlEscape(ReadTestdata("alice.pem")));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return stub_->Check(&ctx, req, resp);
  }

  FakeClock clock_;
  std::unique_ptr<store::MemoryStore> store_;
  std::unique_ptr<audit::AuditWriter> audit_;
  std::unique_ptr<authz::Authorizer> authorizer_;
  std::unique_ptr<ExtAuthzService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<envoy_auth::Authorization::Stub> stub_;
};

TEST_F(ExtAuthzServiceTest, AllowsAnEnrolledSourceCertificate) {
  envoy_auth::CheckResponse resp;
  grpc::Status s = Check(&resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.status().code(), 0);
  EXPECT_EQ(resp.dynamic_metadata().fields().at("user").string_value(), "alice");
}

TEST_F(ExtAuthzServiceTest, StoreFailureIsAGrpcErrorNeverAnAnswer) {
  for (StatusCode code : {StatusCode::kUnavailable, StatusCode::kInternal}) {
    // Fail every store call the request could make (lookup, revocation, user, audit append).
    store_->FailNextCalls(100, code == StatusCode::kUnavailable ? Status::Unavailable("injected")
                                                                : Status::Internal("injected"));
    envoy_auth::CheckResponse resp;
    grpc::Status s = Check(&resp);
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(s.error_code(), code == StatusCode::kUnavailable ? grpc::StatusCode::UNAVAILABLE
                                                               : grpc::StatusCode::INTERNAL);
    EXPECT_FALSE(resp.has_ok_response());
    EXPECT_FALSE(resp.has_denied_response());
    store_->FailNextCalls(0, Status::Unavailable("reset"));
  }
  envoy_auth::CheckResponse resp;
  ASSERT_TRUE(Check(&resp).ok()) << "healthy again once the store recovers";
  EXPECT_TRUE(resp.has_ok_response());
}

}  // namespace
}  // namespace certgate::api
