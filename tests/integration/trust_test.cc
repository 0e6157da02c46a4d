// End-to-end trust: the real certgate-server with trust anchors, called through the client
// library (plaintext, TLS and mTLS), the CLI, and a real nginx in front of a tiny backend.
// Shows that certificates are validated the way a careful TLS server does it: forgeries of an
// enrolled subject and serial, chains and intermediates, validity and usage, imported CRLs
// (signature, ordering, staleness), forwarders recognised by their mTLS identity, DN
// canonicalisation, and a SIGHUP reload of the trust anchors.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include "certgate/client.h"
#include "server/certs/decoders.h"
#include "tests/support/admin_calls.h"
#include "tests/support/encoding.h"
#include "tests/support/server_process.h"
#include "tests/support/testdata.h"

namespace certgate {
namespace {

using testing::Env;
using testing::ReadTestdata;
using testing::RunCommand;
using testing::TestdataPath;
using testing::TrimTrailing;
using testing::UrlEscape;
using v1::Rejection;

std::string Yaml(const std::string& key, const std::vector<std::string>& files) {
  std::string out = key + ": [";
  for (size_t i = 0; i < files.size(); ++i) out += (i ? ", " : "") + TestdataPath(files[i]);
  return out + "]";
}

// The trust section used by most tests: the test root as the only anchor.
std::string TrustYaml(const std::vector<std::string>& intermediates = {}) {
  std::string out = "trust:\n  " + Yaml("ca_files", {"ca.pem"}) + "\n";
  if (!intermediates.empty()) out += "  " + Yaml("intermediate_files", intermediates) + "\n";
  return out;
}

const char* kLocalForwarder =
    "forwarders:\n"
    "  - name: local-proxy\n"
    "    addresses: [127.0.0.1]\n"
    "    allow_subject_serial: true\n";

std::string TlsYaml(bool require_client_cert) {
  return "tls:\n  cert_file: " + TestdataPath("server.pem") +
         "\n  key_file: " + TestdataPath("server.key") +
         "\n  client_ca_file: " + TestdataPath("ca.pem") +
         "\n  require_client_cert: " + (require_client_cert ? "true" : "false") + "\n";
}

// A running server plus clients for its two listeners, and the admin helpers the tests use.
class Harness {
 public:
  // With capture_log, the server logs at info level into a file (ServerProcess::ReadLog).
  bool Start(const std::string& yaml, bool capture_log = false) {
    testing::ServerProcessOptions o;
    o.extra_yaml = yaml;
    o.capture_log = capture_log;
    if (capture_log) o.log_level = "info";
    server_ = std::make_unique<testing::ServerProcess>(o);
    if (!server_->Start()) return false;
    admin_ = Connect(server_->admin_target());
    return admin_ != nullptr;
  }
  testing::ServerProcess& server() { return *server_; }
  Client& admin() { return *admin_; }

  // A client of the authorization listener: plaintext, or TLS (optionally presenting `cert`).
  std::unique_ptr<Client> Connect(const std::string& target, bool tls = false,
                                  const std::string& cert = "") {
    ChannelOptions o;
    o.target = target;
    if (tls) {
      o.ca_file = TestdataPath("ca.pem");
      o.server_name_override = "localhost";
      if (!cert.empty()) {
        o.cert_file = TestdataPath(cert + ".pem");
        o.key_file = TestdataPath(cert + ".key");
      }
    }
    std::string err;
    auto channel = MakeChannel(o, &err);
    EXPECT_TRUE(channel) << err;
    return channel ? std::make_unique<Client>(channel) : nullptr;
  }
  std::unique_ptr<Client> Plain() { return Connect(server_->target()); }

  void CreateUser(const std::string& name) {
    grpc::Status s = testing::CreateUser(*admin_, name);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  void Enroll(const std::string& user, const std::string& der_file) {
    grpc::Status s = testing::EnrollDer(*admin_, user, ReadTestdata(der_file));
    ASSERT_TRUE(s.ok()) << der_file << ": " << s.error_message();
  }
  grpc::Status ImportCrl(const std::string& crl_file, const std::string& issuer_file = "",
                         v1::ImportCrlResponse* out = nullptr) {
    v1::ImportCrlRequest req;
    req.set_crl(ReadTestdata(crl_file));
    if (!issuer_file.empty()) req.set_issuer_certificate(ReadTestdata(issuer_file));
    v1::ImportCrlResponse resp;
    auto ctx = admin_->NewContext();
    grpc::Status s = admin_->admin().ImportCrl(ctx.get(), req, &resp);
    if (out) *out = resp;
    return s;
  }
  testing::CommandResult Cli(std::vector<std::string> args) {
    args.insert(args.begin(), {Env("CERTGATE_CLI_BIN"), "--server", server_->admin_target()});
    return RunCommand(args);
  }

 private:
  std::unique_ptr<testing::ServerProcess> server_;
  std::unique_ptr<Client> admin_;
};

v1::AuthorizeResponse Call(Client& client, const v1::AuthorizeRequest& req) {
  v1::AuthorizeResponse resp;
  grpc::Status s = client.Authorize(req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return resp;
}

v1::AuthorizeRequest DerChain(const std::vector<std::string>& files) {
  v1::AuthorizeRequest req = DerRequest(ReadTestdata(files.front()));
  for (size_t i = 1; i < files.size(); ++i) req.add_chain_der(ReadTestdata(files[i]));
  return req;
}

v1::AuthorizeRequest Nginx(const std::string& pem_file, const std::string& verification) {
  v1::AuthorizeRequest req = HeaderRequest(UrlEscape(ReadTestdata(pem_file)), "nginx");
  req.mutable_forwarded_header()->set_verification(verification);
  return req;
}

#define EXPECT_ALLOWED(resp, user)                                                              \
  do {                                                                                          \
    const v1::AuthorizeResponse& r_ = (resp);                                                   \
    EXPECT_TRUE(r_.has_identity())                                                              \
        << Rejection::Reason_Name(r_.rejection().reason()) << ": " << r_.rejection().message(); \
    EXPECT_EQ(r_.identity().user_name(), user);                                                 \
  } while (0)

#define EXPECT_REJECTED(resp, want)                                                          \
  do {                                                                                       \
    const v1::AuthorizeResponse& r_ = (resp);                                                \
    EXPECT_TRUE(r_.has_rejection()) << "allowed as " << r_.identity().user_name();           \
    EXPECT_EQ(Rejection::Reason_Name(r_.rejection().reason()), Rejection::Reason_Name(want)) \
        << r_.rejection().message();                                                         \
    EXPECT_FALSE(r_.rejection().message().empty());                                          \
  } while (0)

// ---- a server with the test root as its trust anchor ---------------------------------------

class TrustIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(h_.Start(TrustYaml() + kLocalForwarder));
    client_ = h_.Plain();
    h_.CreateUser("alice");
    h_.Enroll("alice", "alice.der");
  }
  Harness h_;
  std::unique_ptr<Client> client_;
};

TEST_F(TrustIntegration, SelfSignedLookalikeWithTheEnrolledSubjectAndSerialIsUntrustedIssuer) {
  // lookalike.der: alice's exact subject, serial and extensions, self-signed.
  v1::AuthorizeResponse r = Call(*client_, DerRequest(ReadTestdata("lookalike.der")));
  EXPECT_REJECTED(r, Rejection::UNTRUSTED_ISSUER);
  // The audit row carries the reason.
  v1::QueryAuditRequest q;
  q.set_reason("UNTRUSTED_ISSUER");
  v1::QueryAuditResponse rows;
  auto ctx = h_.admin().NewContext();
  ASSERT_TRUE(h_.admin().admin().QueryAudit(ctx.get(), q, &rows).ok());
  ASSERT_EQ(rows.events_size(), 1);
  EXPECT_EQ(rows.events(0).id(), r.audit_id());
  EXPECT_EQ(rows.events(0).serial(), TrimTrailing(ReadTestdata("alice.serial")));
}

TEST_F(TrustIntegration, SameSubjectAndSerialFromARogueCaNamedLikeTheIssuerIsUntrustedIssuer) {
  EXPECT_REJECTED(Call(*client_, DerRequest(ReadTestdata("rogue_alice.der"))),
                  Rejection::UNTRUSTED_ISSUER);
  // Sending the rogue CA along does not help, in any encoding.
  EXPECT_REJECTED(Call(*client_, DerChain({"rogue_alice.der", "rogue_ca.der"})),
                  Rejection::UNTRUSTED_ISSUER);
  EXPECT_REJECTED(
      Call(*client_, PemRequest(ReadTestdata("rogue_alice.pem") + ReadTestdata("rogue_ca.pem"))),
      Rejection::UNTRUSTED_ISSUER);
  // The genuine certificate still works.
  EXPECT_ALLOWED(Call(*client_, DerRequest(ReadTestdata("alice.der"))), "alice");
}

TEST_F(TrustIntegration, RenewedCertificateIsNotEnrolledUntilItIsEnrolled) {
  // Same subject, new serial and key, from the trusted root.
  EXPECT_REJECTED(Call(*client_, DerRequest(ReadTestdata("alice_renewed.der"))),
                  Rejection::CERTIFICATE_NOT_ENROLLED);
  h_.Enroll("alice", "alice_renewed.der");
  EXPECT_ALLOWED(Call(*client_, DerRequest(ReadTestdata("alice_renewed.der"))), "alice");
}

TEST_F(TrustIntegration, IntermediateCarriedInTheRequestInEveryForm) {
  h_.CreateUser("ivan");
  h_.Enroll("ivan", "leaf_via_intermediate.der");
  // No intermediate anywhere: no chain to the anchor.
  EXPECT_REJECTED(Call(*client_, DerRequest(ReadTestdata("leaf_via_intermediate.der"))),
                  Rejection::UNTRUSTED_ISSUER);
  // DER chain, PEM chain.
  EXPECT_ALLOWED(Call(*client_, DerChain({"leaf_via_intermediate.der", "intermediate.der"})),
                 "ivan");
  EXPECT_ALLOWED(Call(*client_, PemRequest(ReadTestdata("leaf_via_intermediate_chain.pem"))),
                 "ivan");
  // Forwarded chains: Envoy XFCC Chain, RFC 9440 Client-Cert-Chain, AWS ALB passthrough.
  const std::string leaf_pem = ReadTestdata("leaf_via_intermediate.pem");
  const std::string inter_pem = ReadTestdata("intermediate.pem");
  EXPECT_ALLOWED(Call(*client_, HeaderRequest("Cert=\"" + UrlEscape(leaf_pem) + "\";Chain=\"" +
                                                  UrlEscape(leaf_pem) + UrlEscape(inter_pem) + "\"",
                                              "xfcc")),
                 "ivan");
  v1::AuthorizeRequest rfc9440 = HeaderRequest(
      ":" + certs::Base64Encode(ReadTestdata("leaf_via_intermediate.der")) + ":", "rfc9440");
  rfc9440.mutable_forwarded_header()->set_chain_value(
      ":" + certs::Base64Encode(ReadTestdata("intermediate.der")) + ":");
  EXPECT_ALLOWED(Call(*client_, rfc9440), "ivan");
  EXPECT_ALLOWED(Call(*client_, HeaderRequest(UrlEscape(leaf_pem + inter_pem), "aws-alb")), "ivan");
}

TEST_F(TrustIntegration, ValidityAndUsageReasons) {
  EXPECT_REJECTED(Call(*client_, DerRequest(ReadTestdata("expired.der"))),
                  Rejection::CERTIFICATE_EXPIRED);
  EXPECT_REJECTED(Call(*client_, DerRequest(ReadTestdata("notyet.der"))),
                  Rejection::CERTIFICATE_NOT_YET_VALID);
  EXPECT_REJECTED(Call(*client_, DerRequest(ReadTestdata("serverauth.der"))),
                  Rejection::KEY_USAGE_NOT_ALLOWED);
  EXPECT_REJECTED(Call(*client_, DerRequest(ReadTestdata("ca_as_client.der"))),
                  Rejection::KEY_USAGE_NOT_ALLOWED);
  // A valid leaf under an expired intermediate.
  v1::AuthorizeResponse r =
      Call(*client_, PemRequest(ReadTestdata("leaf_via_expired_intermediate_chain.pem")));
  EXPECT_REJECTED(r, Rejection::CERTIFICATE_EXPIRED);
  EXPECT_NE(r.rejection().message().find("Expired Intermediate"), std::string::npos)
      << r.rejection().message();
}

TEST_F(TrustIntegration, ImportedCrlRevokesAndImportChecksSignatureAndOrderThroughTheCli) {
  h_.CreateUser("erin");
  h_.Enroll("erin", "erin.der");
  EXPECT_ALLOWED(Call(*client_, DerRequest(ReadTestdata("erin.der"))), "erin");

  testing::CommandResult r = h_.Cli({"crl", "import", TestdataPath("crl.der")});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("CN=certgate Test Root CA"), std::string::npos) << r.out;
  EXPECT_REJECTED(Call(*client_, DerRequest(ReadTestdata("erin.der"))),
                  Rejection::CERTIFICATE_REVOKED);
  EXPECT_ALLOWED(Call(*client_, DerRequest(ReadTestdata("alice.der"))), "alice");

  // Signed by the rogue CA (whose name is the root's) and listing alice: refused, even with the
  // rogue CA offered as the issuer; alice stays allowed.
  r = h_.Cli({"crl", "import", TestdataPath("crl_rogue.der")});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("not signed by its issuer"), std::string::npos) << r.err;
  r = h_.Cli({"crl", "import", "--issuer-cert", TestdataPath("rogue_ca.pem"),
              TestdataPath("crl_rogue.pem")});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_ALLOWED(Call(*client_, DerRequest(ReadTestdata("alice.der"))), "alice");

  // The same CRL again, then a newer one (PEM), then the older one again.
  r = h_.Cli({"crl", "import", TestdataPath("crl.pem")});
  EXPECT_EQ(r.exit_code, 1) << "same CRL number: " << r.out << r.err;
  r = h_.Cli({"-o", "json", "crl", "import", TestdataPath("crl_newer.pem")});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("\"crl_number\": \"1001\""), std::string::npos) << r.out;
  r = h_.Cli({"crl", "import", TestdataPath("crl.der")});
  EXPECT_EQ(r.exit_code, 1) << "older CRL number: " << r.out << r.err;
  EXPECT_NE(r.err.find("older"), std::string::npos) << r.err;

  r = h_.Cli({"-o", "json", "crl", "list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"crl_number\": \"1001\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"entry_count\": \"2\""), std::string::npos) << r.out;
  r = h_.Cli({"crl", "list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("NEXT UPDATE"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("current"), std::string::npos) << r.out;

  // The newer CRL also lists bob: revoked (before any enrollment lookup).
  EXPECT_REJECTED(Call(*client_, DerRequest(ReadTestdata("bob.der"))),
                  Rejection::CERTIFICATE_REVOKED);
  EXPECT_REJECTED(Call(*client_, DerRequest(ReadTestdata("erin.der"))),
                  Rejection::CERTIFICATE_REVOKED);
}

TEST_F(TrustIntegration, DistinguishedNamesAreComparedCanonically) {
  // Subject+serial from the trusted local forwarder, for carol's awkward subject (comma, quote,
  // apostrophe, plus, UTF-8), in the forms proxies send it.
  h_.CreateUser("carol");
  h_.Enroll("carol", "carol.der");
  const std::string serial = TrimTrailing(ReadTestdata("carol.serial"));
  const std::string issuer = TrimTrailing(ReadTestdata("carol.issuer"));
  const std::vector<std::string> forms = {
      TrimTrailing(ReadTestdata("carol.subject")),         // openssl -nameopt RFC2253 (nginx s_dn)
      TrimTrailing(ReadTestdata("carol.subject_legacy")),  // slash form (nginx s_dn_legacy)
      "cn=Carol \\\"CJ\\\" O'Neil\\, Zo\xC3\xAB, ou=R\\+D, o=Example\\, Inc., c=US",
      "CN=Carol \\22CJ\\22 O'Neil\\2C Zo\\C3\\AB,OU=R\\2BD,O=Example\\2C   Inc.,C=US",
  };
  for (const std::string& subject : forms) {
    SCOPED_TRACE(subject);
    EXPECT_ALLOWED(Call(*client_, SubjectSerialRequest(subject, serial, issuer)), "carol");
  }
  // A DN that merely contains the enrolled CN, or adds an RDN, is another name.
  for (const std::string& subject :
       {std::string("CN=Carol \\\"CJ\\\" O'Neil\\, Zo\xC3\xAB x,OU=R\\+D,O=Example\\, Inc.,C=US"),
        std::string("CN=Carol,OU=R\\+D,O=Example\\, Inc.,C=US"),
        std::string(
            "CN=Carol \\\"CJ\\\" O'Neil\\, Zo\xC3\xAB,OU=R\\+D,O=Example\\, Inc.,C=US,DC=x"),
        std::string("CN=alice")}) {
    SCOPED_TRACE(subject);
    EXPECT_REJECTED(Call(*client_, SubjectSerialRequest(subject, serial, issuer)),
                    Rejection::CERTIFICATE_NOT_ENROLLED);
  }
}

// ---- CRL policy: required issuer, stale CRL --------------------------------------------------

TEST(TrustCrlPolicy, RequiredIssuerNeedsACurrentCrl) {
  Harness h;
  ASSERT_TRUE(h.Start(TrustYaml({"intermediate.pem"}) + "crl:\n  required_issuers: [" +
                      TestdataPath("intermediate.pem") + "]\n  stale_policy: reject\n"));
  h.CreateUser("ivan");
  h.Enroll("ivan", "leaf_via_intermediate.der");
  auto client = h.Plain();
  const v1::AuthorizeRequest req = DerRequest(ReadTestdata("leaf_via_intermediate.der"));

  v1::AuthorizeResponse missing = Call(*client, req);
  EXPECT_REJECTED(missing, Rejection::UNTRUSTED_ISSUER);
  EXPECT_NE(missing.rejection().message().find("requires an imported CRL"), std::string::npos)
      << missing.rejection().message();

  v1::ImportCrlResponse imported;
  grpc::Status s = h.ImportCrl("crl_intermediate_stale.der", "", &imported);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(imported.crl().stale());
  v1::AuthorizeResponse stale = Call(*client, req);
  EXPECT_REJECTED(stale, Rejection::UNTRUSTED_ISSUER);
  EXPECT_NE(stale.rejection().message().find("nextUpdate"), std::string::npos)
      << stale.rejection().message();

  s = h.ImportCrl("crl_intermediate.der");
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_ALLOWED(Call(*client, req), "ivan");
}

TEST(TrustCrlPolicy, StalePolicyWarnUsesTheStaleCrl) {
  Harness h;
  ASSERT_TRUE(h.Start(TrustYaml({"intermediate.pem"}) +
                      "crl:\n  required_issuers: ['CN=certgate Test Intermediate CA,O=certgate "
                      "tests,C=US']\n  stale_policy: warn\n"));
  h.CreateUser("ivan");
  h.Enroll("ivan", "leaf_via_intermediate.der");
  auto client = h.Plain();
  // A missing CRL of a required issuer is a rejection whatever the stale policy.
  EXPECT_REJECTED(Call(*client, DerRequest(ReadTestdata("leaf_via_intermediate.der"))),
                  Rejection::UNTRUSTED_ISSUER);
  ASSERT_TRUE(h.ImportCrl("crl_intermediate_stale.der").ok());
  EXPECT_ALLOWED(Call(*client, DerRequest(ReadTestdata("leaf_via_intermediate.der"))), "ivan");
}

// ---- forwarders recognised by their mTLS identity on a TLS listener ---------------------------

TEST(TrustForwarders, ForwardedHeadersAreBelievedOnlyFromTheForwardersClientCertificate) {
  Harness h;
  const std::string fp = TrimTrailing(ReadTestdata("forwarder.fingerprint"));
  ASSERT_TRUE(h.Start(TrustYaml() + TlsYaml(/*require_client_cert=*/false) +
                      "forwarders:\n"
                      "  - name: edge-nginx\n"
                      "    fingerprints: ['" +
                      fp +
                      "']\n"
                      "    encodings: [nginx]\n"
                      "    require_verification: SUCCESS\n"));
  h.CreateUser("alice");
  h.Enroll("alice", "alice.der");
  const std::string target = h.server().target();

  // TLS without a client certificate, and mTLS with another (valid) certificate: not forwarders.
  auto anonymous = h.Connect(target, /*tls=*/true);
  EXPECT_REJECTED(Call(*anonymous, Nginx("alice.pem", "SUCCESS")),
                  Rejection::FORWARDER_NOT_TRUSTED);
  auto bob = h.Connect(target, /*tls=*/true, "bob");
  v1::AuthorizeResponse r = Call(*bob, Nginx("alice.pem", "SUCCESS"));
  EXPECT_REJECTED(r, Rejection::FORWARDER_NOT_TRUSTED);
  EXPECT_NE(r.rejection().message().find("CN=bob"), std::string::npos) << r.rejection().message();
  // A plaintext caller from the same address cannot get in either: this listener is TLS-only.
  auto plain = h.Plain();
  v1::AuthorizeResponse ignored;
  EXPECT_FALSE(plain->Authorize(Nginx("alice.pem", "SUCCESS"), &ignored).ok());

  // The forwarder: decided on the certificate it forwards.
  auto forwarder = h.Connect(target, /*tls=*/true, "forwarder");
  EXPECT_ALLOWED(Call(*forwarder, Nginx("alice.pem", "SUCCESS")), "alice");
  EXPECT_REJECTED(Call(*forwarder, Nginx("bob.pem", "SUCCESS")),
                  Rejection::CERTIFICATE_NOT_ENROLLED);
  EXPECT_REJECTED(Call(*forwarder, Nginx("lookalike.pem", "SUCCESS")), Rejection::UNTRUSTED_ISSUER);
  EXPECT_REJECTED(Call(*forwarder, Nginx("alice.pem", "FAILED:certificate has expired")),
                  Rejection::PROXY_VERIFICATION_FAILED);
  // An encoding this forwarder may not use.
  EXPECT_REJECTED(
      Call(*forwarder, HeaderRequest(certs::Base64Encode(ReadTestdata("alice.der")), "base64-der")),
      Rejection::FORWARDER_NOT_TRUSTED);
  // Certificates sent directly need no forwarder, with or without a client certificate.
  EXPECT_ALLOWED(Call(*anonymous, DerRequest(ReadTestdata("alice.der"))), "alice");
}

TEST(TrustForwarders, RequiredClientCertificateRefusesTheHandshakeWithoutOne) {
  Harness h;
  ASSERT_TRUE(h.Start(TrustYaml() + TlsYaml(/*require_client_cert=*/true)));
  h.CreateUser("alice");
  h.Enroll("alice", "alice.der");
  auto anonymous = h.Connect(h.server().target(), /*tls=*/true);
  v1::AuthorizeResponse resp;
  grpc::Status s = anonymous->Authorize(DerRequest(ReadTestdata("alice.der")), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  auto mtls = h.Connect(h.server().target(), /*tls=*/true, "forwarder");
  EXPECT_ALLOWED(Call(*mtls, DerRequest(ReadTestdata("alice.der"))), "alice");
  // The admin listener (unix socket) stays plaintext.
  EXPECT_EQ(h.Cli({"crl", "list"}).exit_code, 0);
}

// ---- SIGHUP reloads the trust anchors --------------------------------------------------------

TEST(TrustReload, SighupSwapsTheAnchorsAndAFailedReloadKeepsThem) {
  const std::string dir = testing::MakeTempDir();
  const std::string anchors = dir + "/anchors.pem";
  auto write = [&](const std::string& content) {
    std::ofstream(anchors, std::ios::binary | std::ios::trunc) << content;
  };
  write(ReadTestdata("rogue_ca.pem"));
  Harness h;
  ASSERT_TRUE(h.Start("trust:\n  ca_files: [" + anchors + "]\n", /*capture_log=*/true));
  h.CreateUser("alice");
  h.Enroll("alice", "alice.der");
  auto client = h.Plain();
  const v1::AuthorizeRequest alice = DerRequest(ReadTestdata("alice.der"));
  EXPECT_REJECTED(Call(*client, alice), Rejection::UNTRUSTED_ISSUER);

  // Reloads are asynchronous (a signal): wait for the log line, bounded.
  auto wait_for_log = [&](const std::string& needle, size_t occurrences) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      const std::string log = h.server().ReadLog();
      size_t n = 0;
      for (size_t at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) {
        ++n;
      }
      if (n >= occurrences) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "no '" << needle << "' in the log:\n" << h.server().ReadLog();
    return false;
  };

  write(ReadTestdata("ca.pem"));
  h.server().Reload();
  ASSERT_TRUE(wait_for_log("trust anchors reloaded", 1));
  EXPECT_ALLOWED(Call(*client, alice), "alice");
  EXPECT_REJECTED(Call(*client, DerRequest(ReadTestdata("rogue_alice.der"))),
                  Rejection::UNTRUSTED_ISSUER);

  write("-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n");
  h.server().Reload();
  ASSERT_TRUE(wait_for_log("trust anchors reload failed", 1));
  EXPECT_ALLOWED(Call(*client, alice), "alice");  // the previous anchors are kept

  std::filesystem::remove(anchors);
  h.server().Reload();
  ASSERT_TRUE(wait_for_log("trust anchors reload failed", 2));
  EXPECT_ALLOWED(Call(*client, alice), "alice");
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

// ---- real nginx in front: curl -> nginx (mTLS) -> backend -> certgate (mTLS) ------------------

// A free TCP port on 127.0.0.1 (bound and released; the window for a clash is tiny).
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) close(fd);
    return 0;
  }
  close(fd);
  return ntohs(addr.sin_port);
}

bool CanConnect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

// A child process with its stdout on a pipe; SIGTERM and a wait on destruction.
class Child {
 public:
  bool Spawn(const std::vector<std::string>& argv, const std::string& stderr_file) {
    int out[2];
    if (pipe(out) != 0) return false;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      int err = open(stderr_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      if (err >= 0) dup2(err, STDERR_FILENO);
      close(out[0]);
      close(out[1]);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    close(out[1]);
    out_ = out[0];
    return pid_ > 0;
  }
  // Reads stdout until a line containing `prefix`; returns the rest of that line ("" on timeout).
  std::string WaitForLine(const std::string& prefix, std::chrono::seconds timeout) {
    std::string buf;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{out_, POLLIN, 0};
      if (poll(&p, 1, 200) <= 0) continue;
      char tmp[256];
      ssize_t n = read(out_, tmp, sizeof tmp);
      if (n <= 0) break;
      buf.append(tmp, static_cast<size_t>(n));
      size_t at = buf.find(prefix);
      if (at != std::string::npos) {
        size_t nl = buf.find('\n', at);
        if (nl != std::string::npos) return buf.substr(at + prefix.size(), nl - at - prefix.size());
      }
    }
    return "";
  }
  ~Child() {
    if (out_ >= 0) close(out_);
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
};

struct CurlResult {
  int http_code = 0;
  std::string body;
  std::string err;
};

CurlResult Curl(int port, const std::string& client_cert) {
  std::vector<std::string> argv = {"curl", "-sS",           "--max-time",
                                   "20",   "--cacert",      TestdataPath("ca.pem"),
                                   "-w",   "\n%{http_code}"};
  if (!client_cert.empty()) {
    argv.insert(argv.end(), {"--cert", TestdataPath(client_cert + ".pem"), "--key",
                             TestdataPath(client_cert + ".key")});
  }
  argv.push_back("https://127.0.0.1:" + std::to_string(port) + "/orders");
  testing::CommandResult r = RunCommand(argv);
  CurlResult out;
  out.err = r.err;
  const size_t nl = r.out.rfind('\n');
  if (nl != std::string::npos) {
    out.body = r.out.substr(0, nl);
    out.http_code = std::atoi(r.out.c_str() + nl + 1);
  }
  return out;
}

TEST(NginxEndToEnd, ClientCertificateThroughRealNginxIsDecidedByCertgate) {
  const std::string nginx = "/usr/sbin/nginx";
  ASSERT_EQ(access(nginx.c_str(), X_OK), 0)
      << "nginx is required (Debian nginx-light; scripts/setup.sh installs it)";

  // certgate: TLS listener; the backend is a forwarder by its mTLS certificate.
  Harness h;
  ASSERT_TRUE(h.Start(TrustYaml() + TlsYaml(/*require_client_cert=*/false) +
                      "forwarders:\n"
                      "  - name: nginx-backend\n"
                      "    fingerprints: ['" +
                      TrimTrailing(ReadTestdata("forwarder.fingerprint")) +
                      "']\n"
                      "    encodings: [nginx]\n"
                      "    require_verification: SUCCESS\n"));
  h.CreateUser("alice");
  h.Enroll("alice", "alice.der");

  const std::string dir = testing::MakeTempDir();
  Child backend;
  ASSERT_TRUE(backend.Spawn(
      {"/usr/bin/python3", Env("CERTGATE_SOURCE_DIR") + "/tests/integration/nginx/backend.py",
       "--certgate", h.server().target(), "--proto-dir", Env("CERTGATE_PROTO_DIR"), "--ca",
       TestdataPath("ca.pem"), "--cert", TestdataPath("forwarder.pem"), "--key",
       TestdataPath("forwarder.key")},
      dir + "/backend.err"));
  const std::string backend_port = backend.WaitForLine("ready port=", std::chrono::seconds(60));
  ASSERT_FALSE(backend_port.empty()) << testing::ReadFile(dir + "/backend.err");

  // nginx: one server that requires a client certificate (ssl_verify_client on), one that passes
  // unverifiable ones through with $ssl_client_verify = FAILED:... (optional_no_ca).
  const int strict_port = FreePort();
  const int lenient_port = FreePort();
  ASSERT_TRUE(strict_port > 0 && lenient_port > 0 && strict_port != lenient_port);
  auto server_block = [&](int port, const char* verify) {
    return "  server {\n"
           "    listen 127.0.0.1:" +
           std::to_string(port) +
           " ssl;\n"
           "    ssl_certificate " +
           TestdataPath("server.pem") +
           ";\n"
           "    ssl_certificate_key " +
           TestdataPath("server.key") +
           ";\n"
           "    ssl_client_certificate " +
           TestdataPath("ca.pem") +
           ";\n"
           "    ssl_verify_client " +
           verify +
           ";\n"
           "    location / {\n"
           "      proxy_pass http://127.0.0.1:" +
           backend_port +
           ";\n"
           "      proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;\n"
           "      proxy_set_header X-SSL-Client-Verify $ssl_client_verify;\n"
           "    }\n"
           "  }\n";
  };
  // Everything nginx writes stays under `dir`; running as root, workers keep root (`user root`)
  // so they can use the private temp directory.
  {
    std::ofstream conf(dir + "/nginx.conf");
    conf << "user root;\n"
         << "worker_processes 1;\n"
         << "pid " << dir << "/nginx.pid;\n"
         << "error_log " << dir << "/error.log warn;\n"
         << "events { worker_connections 64; }\n"
         << "http {\n"
         << "  access_log off;\n"
         << "  client_body_temp_path " << dir << "/client_body;\n"
         << "  proxy_temp_path " << dir << "/proxy;\n"
         << "  fastcgi_temp_path " << dir << "/fastcgi;\n"
         << "  uwsgi_temp_path " << dir << "/uwsgi;\n"
         << "  scgi_temp_path " << dir << "/scgi;\n"
         << server_block(strict_port, "on") << server_block(lenient_port, "optional_no_ca")
         << "}\n";
  }
  Child proxy;
  ASSERT_TRUE(proxy.Spawn(
      {nginx, "-p", dir, "-c", dir + "/nginx.conf", "-e", dir + "/error.log", "-g", "daemon off;"},
      dir + "/nginx.err"));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!(CanConnect(strict_port) && CanConnect(lenient_port)) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(CanConnect(strict_port) && CanConnect(lenient_port))
      << testing::ReadFile(dir + "/error.log") << testing::ReadFile(dir + "/nginx.err");

  CurlResult alice = Curl(strict_port, "alice");
  EXPECT_EQ(alice.http_code, 200) << alice.body << alice.err;
  EXPECT_EQ(TrimTrailing(alice.body), "ALLOW user=alice");

  CurlResult bob = Curl(strict_port, "bob");  // valid, not enrolled
  EXPECT_EQ(bob.http_code, 403) << bob.body << bob.err;
  EXPECT_EQ(bob.body.rfind("DENY CERTIFICATE_NOT_ENROLLED", 0), 0u) << bob.body;

  CurlResult expired = Curl(strict_port, "expired");  // nginx itself refuses it
  EXPECT_EQ(expired.http_code, 400) << expired.body << expired.err;
  CurlResult none = Curl(strict_port, "");
  EXPECT_EQ(none.http_code, 400) << "ssl_verify_client on: no certificate, no request";

  // optional_no_ca: nginx forwards a certificate it could not verify, saying FAILED:...
  CurlResult rogue = Curl(lenient_port, "rogue_alice");
  EXPECT_EQ(rogue.http_code, 403) << rogue.body << rogue.err;
  EXPECT_EQ(rogue.body.rfind("DENY PROXY_VERIFICATION_FAILED", 0), 0u) << rogue.body;
  CurlResult lenient_alice = Curl(lenient_port, "alice");
  EXPECT_EQ(lenient_alice.http_code, 200) << lenient_alice.body << lenient_alice.err;

  // Every decision left an audit row, the forwarder as caller.
  v1::QueryAuditRequest q;
  q.set_user_name("alice");
  q.set_action("GET");
  v1::QueryAuditResponse rows;
  auto ctx = h.admin().NewContext();
  ASSERT_TRUE(h.admin().admin().QueryAudit(ctx.get(), q, &rows).ok());
  EXPECT_EQ(rows.events_size(), 2);
  for (const auto& e : rows.events()) EXPECT_EQ(e.resource(), "/orders");
}

}  // namespace
}  // namespace certgate
