// End-to-end: the real certgate-server on 127.0.0.1:0 with a temporary SQLite database, called
// through the C++ client library. Every decision must leave exactly one audit row with the
// right reason, found by request id through the Admin API.
#include <gtest/gtest.h>

#include <memory>

#include "certgate/client.h"
#include "tests/support/admin_calls.h"
#include "tests/support/encoding.h"
#include "tests/support/server_process.h"
#include "tests/support/testdata.h"

namespace certgate {
namespace {

using testing::Base64;
using testing::ReadTestdata;
using testing::TrimTrailing;
using testing::UrlEscape;
using v1::Rejection;

class AuthorizeIntegration : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    testing::ServerProcessOptions opts;
    opts.extra_yaml =
        "forwarders:\n"
        "  - name: local-proxy\n"
        "    addresses: [127.0.0.1, '::1']\n"
        "    allow_subject_serial: true\n";
    server_ = new testing::ServerProcess(opts);
    ASSERT_TRUE(server_->Start());
    client_ = MakeClient(server_->target());
    admin_ = MakeClient(server_->admin_target());
    CreateUser("alice");
    CreateUser("dave");
    CreateUser("erin");
    Enroll("alice", ReadTestdata("alice.der"));
    Enroll("dave", ReadTestdata("dave.der"));
    Enroll("erin", ReadTestdata("erin.der"));
    Enroll("alice", ReadTestdata("leaf_via_intermediate.der"));
    SetDisabled("dave", true);
    Revoke(TrimTrailing(ReadTestdata("erin.fingerprint")));
  }
  // A failed SetUpTestSuite makes GoogleTest skip the tests (and ctest count skips as fine):
  // fail every test instead.
  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(server_->port(), 0) << "the suite's server did not start";
    ASSERT_NE(client_, nullptr);
  }
  static void TearDownTestSuite() {
    delete client_;
    delete admin_;
    if (server_) {
      EXPECT_EQ(server_->Stop(), 0);  // clean exit status on SIGTERM
    }
    delete server_;
    server_ = nullptr;
  }

  static Client* MakeClient(const std::string& target) {
    ChannelOptions o;
    o.target = target;
    std::string err;
    return new Client(MakeChannel(o, &err));
  }
  static void CreateUser(const std::string& name) {
    grpc::Status s = testing::CreateUser(*admin_, name);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  static void Enroll(const std::string& user, const std::string& der) {
    grpc::Status s = testing::EnrollDer(*admin_, user, der);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  static void SetDisabled(const std::string& user, bool disabled) {
    v1::SetUserDisabledRequest req;
    req.set_name(user);
    req.set_disabled(disabled);
    v1::User resp;
    auto ctx = admin_->NewContext();
    ASSERT_TRUE(admin_->admin().SetUserDisabled(ctx.get(), req, &resp).ok());
  }
  static void Revoke(const std::string& fingerprint) {
    v1::RevokeCertificateRequest req;
    req.set_fingerprint_sha256(fingerprint);
    req.set_reason_code(1);
    v1::RevokeCertificateResponse resp;
    auto ctx = admin_->NewContext();
    grpc::Status s = admin_->admin().RevokeCertificate(ctx.get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.certificate().status(), "revoked");
  }

  // Sends the request with a unique request id and checks the one audit row it left.
  v1::AuthorizeResponse Call(v1::AuthorizeRequest req) {
    static int counter = 0;
    std::string rid = std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) +
                      "-" + std::to_string(++counter);
    req.set_request_id(rid);
    req.set_action("GET");
    req.set_resource("/orders");
    v1::AuthorizeResponse resp;
    grpc::Status s = client_->Authorize(req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.request_id(), rid);
    EXPECT_GT(resp.audit_id(), 0);

    v1::QueryAuditRequest q;
    q.set_request_id(rid);
    v1::QueryAuditResponse rows;
    auto ctx = admin_->NewContext();
    EXPECT_TRUE(admin_->admin().QueryAudit(ctx.get(), q, &rows).ok());
    EXPECT_EQ(rows.events_size(), 1) << "exactly one audit row per decision";
    if (rows.events_size() == 1) {
      const v1::AuditEvent& e = rows.events(0);
      EXPECT_EQ(e.id(), resp.audit_id());
      EXPECT_EQ(e.kind(), "authorize");
      EXPECT_EQ(e.action(), "GET");
      EXPECT_EQ(e.resource(), "/orders");
      if (resp.has_identity()) {
        EXPECT_EQ(e.decision(), "ALLOW");
        EXPECT_EQ(e.reason(), "");
        EXPECT_EQ(e.user_name(), resp.identity().user_name());
      } else {
        EXPECT_EQ(e.decision(), "DENY");
        EXPECT_EQ(e.reason(), Rejection::Reason_Name(resp.rejection().reason()));
      }
    }
    return resp;
  }

  void ExpectRejected(const v1::AuthorizeResponse& r, Rejection::Reason reason) {
    ASSERT_TRUE(r.has_rejection())
        << "expected " << Rejection::Reason_Name(reason) << ", got an identity";
    EXPECT_EQ(r.rejection().reason(), reason)
        << Rejection::Reason_Name(r.rejection().reason()) << ": " << r.rejection().message();
    EXPECT_FALSE(r.rejection().message().empty());
  }

  static testing::ServerProcess* server_;
  static Client* client_;
  static Client* admin_;
};

testing::ServerProcess* AuthorizeIntegration::server_ = nullptr;
Client* AuthorizeIntegration::client_ = nullptr;
Client* AuthorizeIntegration::admin_ = nullptr;

TEST_F(AuthorizeIntegration, AllowsEnrolledCertificateByDerWithItsFacts) {
  auto r = Call(DerRequest(ReadTestdata("alice.der")));
  ASSERT_TRUE(r.has_identity()) << r.rejection().message();
  EXPECT_EQ(r.identity().user_name(), "alice");
  const auto& c = r.identity().certificate();
  EXPECT_EQ(c.fingerprint_sha256(), TrimTrailing(ReadTestdata("alice.fingerprint")));
  EXPECT_EQ(c.serial(), TrimTrailing(ReadTestdata("alice.serial")));
  EXPECT_EQ(c.subject(), "CN=alice,OU=Engineering,O=certgate tests,C=US");
  EXPECT_EQ(c.issuer(), "CN=certgate Test Root CA,O=certgate tests,C=US");
  EXPECT_EQ(std::vector<std::string>(c.dns_names().begin(), c.dns_names().end()),
            std::vector<std::string>{"alice.example.com"});
  EXPECT_EQ(std::vector<std::string>(c.uris().begin(), c.uris().end()),
            std::vector<std::string>{"spiffe://example.org/alice"});
  EXPECT_EQ(std::vector<std::string>(c.emails().begin(), c.emails().end()),
            std::vector<std::string>{"alice@example.com"});
  EXPECT_LT(c.not_before().seconds(), c.not_after().seconds());
}

TEST_F(AuthorizeIntegration, AllowsPemWithChain) {
  auto r = Call(PemRequest(ReadTestdata("alice_chain.pem")));
  ASSERT_TRUE(r.has_identity()) << r.rejection().message();
  EXPECT_EQ(r.identity().user_name(), "alice");
}

TEST_F(AuthorizeIntegration, AllowsEveryForwardedEncodingFromATrustedForwarder) {
  const std::string pem = ReadTestdata("alice.pem");
  const std::string der = ReadTestdata("alice.der");
  const std::string fp = TrimTrailing(ReadTestdata("alice.fingerprint"));
  struct Case {
    std::string format, value;
  } cases[] = {
      {"url-pem", UrlEscape(pem)},
      {"nginx", UrlEscape(pem)},
      {"xfcc", "By=spiffe://proxy;Hash=" + fp + ";Cert=\"" + UrlEscape(pem) +
                   "\";Subject=\"CN=alice,OU=Engineering,O=certgate "
                   "tests,C=US\";URI=spiffe://example.org/alice"},
      {"envoy", "Hash=" + fp + ";Cert=\"" + UrlEscape(pem) + "\""},
      {"base64-der", Base64(der)},
      {"cloudflare", Base64(der)},
      {"rfc9440", ":" + Base64(der) + ":"},
      {"gcp", ":" + Base64(der) + ":"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.format);
    auto r = Call(HeaderRequest(c.value, c.format));
    ASSERT_TRUE(r.has_identity()) << Rejection::Reason_Name(r.rejection().reason()) << ": "
                                  << r.rejection().message();
    EXPECT_EQ(r.identity().certificate().fingerprint_sha256(), fp);
  }
}

TEST_F(AuthorizeIntegration, XfccSubjectCannotSmuggleAnotherCertificate) {
  // The real element carries bob's (unenrolled) certificate; alice's is hidden in the quoted
  // Subject. A naive splitter would pick alice's; certgate must decide on bob's.
  const std::string smuggled = "Subject=\"CN=x;Cert=" + UrlEscape(ReadTestdata("alice.pem")) +
                               "\";Cert=\"" + UrlEscape(ReadTestdata("bob.pem")) + "\"";
  auto r = Call(HeaderRequest(smuggled, "xfcc"));
  ExpectRejected(r, Rejection::CERTIFICATE_NOT_ENROLLED);
}

TEST_F(AuthorizeIntegration, DeniesCertificateThatIsNotEnrolled) {
  ExpectRejected(Call(DerRequest(ReadTestdata("bob.der"))), Rejection::CERTIFICATE_NOT_ENROLLED);
}

TEST_F(AuthorizeIntegration, DeniesRevokedCertificate) {
  ExpectRejected(Call(DerRequest(ReadTestdata("erin.der"))), Rejection::CERTIFICATE_REVOKED);
}

TEST_F(AuthorizeIntegration, DeniesDisabledUser) {
  ExpectRejected(Call(DerRequest(ReadTestdata("dave.der"))), Rejection::USER_DISABLED);
}

TEST_F(AuthorizeIntegration, DeniesExpiredAndNotYetValidCertificates) {
  ExpectRejected(Call(DerRequest(ReadTestdata("expired.der"))), Rejection::CERTIFICATE_EXPIRED);
  ExpectRejected(Call(DerRequest(ReadTestdata("notyet.der"))),
                 Rejection::CERTIFICATE_NOT_YET_VALID);
}

TEST_F(AuthorizeIntegration, DeniesServerAuthOnlyAndCaCertificates) {
  ExpectRejected(Call(DerRequest(ReadTestdata("serverauth.der"))),
                 Rejection::KEY_USAGE_NOT_ALLOWED);
  ExpectRejected(Call(DerRequest(ReadTestdata("ca_as_client.der"))),
                 Rejection::KEY_USAGE_NOT_ALLOWED);
}

TEST_F(AuthorizeIntegration, DeniesMalformedCredentials) {
  std::string der = ReadTestdata("alice.der");
  ExpectRejected(Call(DerRequest(der + std::string("\x00", 1))), Rejection::CERTIFICATE_MALFORMED);
  ExpectRejected(Call(DerRequest(der.substr(0, der.size() / 2))), Rejection::CERTIFICATE_MALFORMED);
  ExpectRejected(Call(DerRequest(ReadTestdata("crl.der"))), Rejection::CERTIFICATE_MALFORMED);
  ExpectRejected(Call(DerRequest(ReadTestdata("key.der"))), Rejection::CERTIFICATE_MALFORMED);
  ExpectRejected(Call(DerRequest("not a certificate")), Rejection::CERTIFICATE_MALFORMED);
  ExpectRejected(Call(PemRequest("-----BEGIN CERTIFICATE-----\nAAAA\n")),
                 Rejection::CERTIFICATE_MALFORMED);
  ExpectRejected(Call(HeaderRequest("Cert=\"unbalanced", "xfcc")),
                 Rejection::CERTIFICATE_MALFORMED);
  ExpectRejected(Call(HeaderRequest("%ZZ", "url-pem")), Rejection::CERTIFICATE_MALFORMED);
  ExpectRejected(Call(HeaderRequest(Base64(ReadTestdata("alice.pem")), "base64-der")),
                 Rejection::CERTIFICATE_MALFORMED);
  ExpectRejected(Call(HeaderRequest("abc", "no-such-encoding")), Rejection::CERTIFICATE_MALFORMED);
}

TEST_F(AuthorizeIntegration, DeniesMissingCredentials) {
  ExpectRejected(Call(v1::AuthorizeRequest()), Rejection::CERTIFICATE_MISSING);
  ExpectRejected(Call(DerRequest("")), Rejection::CERTIFICATE_MISSING);
  ExpectRejected(Call(HeaderRequest("", "xfcc")), Rejection::CERTIFICATE_MISSING);
  ExpectRejected(Call(HeaderRequest("(null)", "nginx-legacy")), Rejection::CERTIFICATE_MISSING);
}

TEST_F(AuthorizeIntegration, AllowsSubjectAndSerialFromATrustedForwarderInEveryForm) {
  const std::string serial = TrimTrailing(ReadTestdata("alice.serial"));
  // The same serial with colons, uppercase and a leading zero byte, as nginx/openssl print it.
  std::string colon_upper;
  std::string padded = (serial.size() % 2 ? "0" : "") + serial;
  padded = "00" + padded;
  for (size_t i = 0; i < padded.size(); i += 2) {
    if (i) colon_upper += ":";
    colon_upper += static_cast<char>(toupper(padded[i]));
    colon_upper += static_cast<char>(toupper(padded[i + 1]));
  }
  const std::string issuer = "CN=certgate Test Root CA,O=certgate tests,C=US";
  struct Case {
    std::string subject, serial, issuer;
  } cases[] = {
      {"CN=alice,OU=Engineering,O=certgate tests,C=US", serial, ""},
      {"CN=alice,OU=Engineering,O=certgate tests,C=US", colon_upper, issuer},
      {"/C=US/O=certgate tests/OU=Engineering/CN=alice", serial,
       "/C=US/O=certgate tests/CN=certgate Test Root CA"},
      {"cn=alice, ou=Engineering,  o=certgate tests, c=US", serial, ""},
      {"CN=\\61lice,OU=Engineering,O=certgate\\20tests,C=US", serial, ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.subject + " / " + c.serial);
    auto r = Call(SubjectSerialRequest(c.subject, c.serial, c.issuer));
    ASSERT_TRUE(r.has_identity()) << Rejection::Reason_Name(r.rejection().reason()) << ": "
                                  << r.rejection().message();
    EXPECT_EQ(r.identity().user_name(), "alice");
  }
}

TEST_F(AuthorizeIntegration, SubjectSerialThatOnlyContainsTheEnrolledNameIsDenied) {
  const std::string serial = TrimTrailing(ReadTestdata("alice.serial"));
  ExpectRejected(
      Call(SubjectSerialRequest("CN=alice-evil,OU=Engineering,O=certgate tests,C=US", serial)),
      Rejection::CERTIFICATE_NOT_ENROLLED);
  ExpectRejected(
      Call(SubjectSerialRequest("CN=alice,OU=Engineering,O=certgate tests,C=US,DC=evil", serial)),
      Rejection::CERTIFICATE_NOT_ENROLLED);
  ExpectRejected(Call(SubjectSerialRequest("CN=alice,OU=Engineering,O=certgate tests,C=US", serial,
                                           "CN=Other CA")),
                 Rejection::CERTIFICATE_NOT_ENROLLED);
  ExpectRejected(Call(SubjectSerialRequest("CN=alice,OU=Engineering,O=certgate tests,C=US", "01")),
                 Rejection::CERTIFICATE_NOT_ENROLLED);
  ExpectRejected(Call(SubjectSerialRequest("CN=alice\\", serial)),
                 Rejection::CERTIFICATE_MALFORMED);
  ExpectRejected(Call(SubjectSerialRequest("CN=alice", "xyz")), Rejection::CERTIFICATE_MALFORMED);
}

TEST_F(AuthorizeIntegration, SelfSignedLookalikeOfEnrolledSubjectAndSerialIsDenied) {
  // Same subject and serial as alice's enrolled certificate, but a different key and issuer.
  auto r = Call(DerRequest(ReadTestdata("lookalike.der")));
  ExpectRejected(r, Rejection::CERTIFICATE_NOT_ENROLLED);
  auto rogue = Call(DerRequest(ReadTestdata("rogue_alice.der")));
  ExpectRejected(rogue, Rejection::CERTIFICATE_NOT_ENROLLED);
}

TEST_F(AuthorizeIntegration, RevocationTakesEffectOnTheNextRequest) {
  CreateUser("frank");
  Enroll("frank", ReadTestdata("carol.der"));
  ASSERT_TRUE(Call(DerRequest(ReadTestdata("carol.der"))).has_identity());
  Revoke(TrimTrailing(ReadTestdata("carol.fingerprint")));
  ExpectRejected(Call(DerRequest(ReadTestdata("carol.der"))), Rejection::CERTIFICATE_REVOKED);
}

TEST_F(AuthorizeIntegration, OversizeRequestFieldsAreInvalidArgumentNotADecision) {
  v1::AuthorizeRequest req = DerRequest(ReadTestdata("alice.der"));
  req.set_request_id(std::string(200, 'x'));
  v1::AuthorizeResponse resp;
  grpc::Status s = client_->Authorize(req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_FALSE(resp.has_identity());
}

// A server with no forwarders configured believes no forwarded credential.
TEST(AuthorizeForwarderTrust, ForwardedCredentialsFromAnUnconfiguredCallerAreNotTrusted) {
  testing::ServerProcess server;
  ASSERT_TRUE(server.Start());
  ChannelOptions o;
  o.target = server.target();
  std::string err;
  Client client(MakeChannel(o, &err));
  v1::AuthorizeResponse resp;
  ASSERT_TRUE(
      client.Authorize(HeaderRequest(Base64(ReadTestdata("alice.der")), "base64-der"), &resp).ok());
  ASSERT_TRUE(resp.has_rejection());
  EXPECT_EQ(resp.rejection().reason(), Rejection::FORWARDER_NOT_TRUSTED);
  resp.Clear();
  ASSERT_TRUE(client.Authorize(SubjectSerialRequest("CN=alice", "01"), &resp).ok());
  EXPECT_EQ(resp.rejection().reason(), Rejection::FORWARDER_NOT_TRUSTED);
}

TEST(AuthorizeForwarderTrust, RequiredProxyVerificationMustSaySuccess) {
  testing::ServerProcessOptions opts;
  opts.extra_yaml =
      "forwarders:\n"
      "  - name: nginx\n"
      "    addresses: [127.0.0.0/8]\n"
      "    encodings: [nginx]\n"
      "    require_verification: SUCCESS\n";
  testing::ServerProcess server(opts);
  ASSERT_TRUE(server.Start());
  ChannelOptions o;
  o.target = server.target();
  std::string err;
  Client client(MakeChannel(o, &err));
  auto req = HeaderRequest(UrlEscape(ReadTestdata("bob.pem")), "nginx");
  req.mutable_forwarded_header()->set_verification("FAILED:certificate has expired");
  v1::AuthorizeResponse resp;
  ASSERT_TRUE(client.Authorize(req, &resp).ok());
  EXPECT_EQ(resp.rejection().reason(), Rejection::PROXY_VERIFICATION_FAILED);
  // Verified, but bob is not enrolled on this fresh server: decided on the certificate.
  req.mutable_forwarded_header()->set_verification("SUCCESS");
  resp.Clear();
  ASSERT_TRUE(client.Authorize(req, &resp).ok());
  EXPECT_EQ(resp.rejection().reason(), Rejection::CERTIFICATE_NOT_ENROLLED);
  // An encoding this forwarder may not use.
  resp.Clear();
  ASSERT_TRUE(
      client.Authorize(HeaderRequest(Base64(ReadTestdata("bob.der")), "base64-der"), &resp).ok());
  EXPECT_EQ(resp.rejection().reason(), Rejection::FORWARDER_NOT_TRUSTED);
}

// Both gRPC server APIs (server_api: callback, the default, answers from the audit writer's
// thread after the commit; sync blocks a gRPC thread in the commit): same answers, same rows.
TEST(AuthorizeServerApi, SyncAndCallbackGiveTheSameAnswersEachWithItsCommittedAuditRow) {
  for (const std::string api : {"sync", "callback"}) {
    SCOPED_TRACE("server_api: " + api);
    testing::ServerProcessOptions opts;
    opts.extra_yaml = "server_api: " + api + "\n";
    testing::ServerProcess server(opts);
    ASSERT_TRUE(server.Start());
    {  // the channels close before Stop(), which otherwise waits out the shutdown grace
      ChannelOptions o;
      std::string err;
      o.target = server.admin_target();
      Client admin(MakeChannel(o, &err));
      o.target = server.target();
      Client client(MakeChannel(o, &err));
      {
        v1::CreateUserRequest req;
        req.set_name("alice");
        v1::User resp;
        auto ctx = admin.NewContext();
        ASSERT_TRUE(admin.admin().CreateUser(ctx.get(), req, &resp).ok());
      }
      {
        v1::EnrollCertificateRequest req;
        req.set_user_name("alice");
        req.set_certificate_der(ReadTestdata("alice.der"));
        v1::Certificate resp;
        auto ctx = admin.NewContext();
        ASSERT_TRUE(admin.admin().EnrollCertificate(ctx.get(), req, &resp).ok());
      }
      for (const char* name : {"alice.der", "dave.der"}) {
        v1::AuthorizeResponse resp;
        grpc::Status s = client.Authorize(DerRequest(ReadTestdata(name)), &resp);
        ASSERT_TRUE(s.ok()) << s.error_message();
        ASSERT_GT(resp.audit_id(), 0);
        if (std::string(name) == "alice.der") {
          ASSERT_TRUE(resp.has_identity());
          EXPECT_EQ(resp.identity().user_name(), "alice");
        } else {
          ASSERT_TRUE(resp.has_rejection());
          EXPECT_EQ(resp.rejection().reason(), Rejection::CERTIFICATE_NOT_ENROLLED);
        }
        v1::QueryAuditRequest q;
        q.set_request_id(resp.request_id());
        v1::QueryAuditResponse rows;
        auto ctx = admin.NewContext();
        ASSERT_TRUE(admin.admin().QueryAudit(ctx.get(), q, &rows).ok());
        ASSERT_EQ(rows.events_size(), 1);
        EXPECT_EQ(rows.events(0).id(), resp.audit_id());
        EXPECT_EQ(rows.events(0).decision(), resp.has_identity() ? "ALLOW" : "DENY");
      }
    }
    EXPECT_EQ(server.Stop(), 0);
  }
}

}  // namespace
}  // namespace certgate
