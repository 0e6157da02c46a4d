// The decision pipeline against the in-memory store and a settable clock: ordering of checks,
// fail-closed behaviour on store failures (an error, never an allow, never a deny), and that
// nothing is decided on text a client could have written.
#include "server/authz/authorizer.h"

#include <gtest/gtest.h>

#include <atomic>

#include "server/certs/certificate.h"
#include "server/store/memory_store.h"
#include "tests/support/testdata.h"
#include "tests/unit/server/authz/fail_at_store.h"

namespace certgate::authz {
namespace {

using testing::ReadTestdata;

class AuthorizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    clock_.SetSeconds(time(nullptr));
    store_ = store::NewMemoryStore(clock_);
    audit_ = std::make_unique<audit::AuditWriter>(*store_);
    AuthorizerOptions opts;
    config::ForwarderConfig f;
    f.name = "proxy";
    f.addresses = {"127.0.0.1"};
    f.allow_subject_serial = true;
    opts.forwarders = {f};
    authz_ = std::make_unique<Authorizer>(Authorizer::Deps{*store_, *audit_, clock_}, opts);
    auto user = store_->CreateUser({0, "alice", "", false, {}, 0});
    ASSERT_TRUE(user.ok());
    alice_id_ = user->id;
    auto facts = certs::ParseCertificate(ReadTestdata("alice.der"));
    ASSERT_TRUE(facts.ok()) << facts.status().ToString();
    alice_ = *facts;
    store::EnrolledCertificate row;
    row.user_id = alice_id_;
    row.fingerprint_sha256 = alice_.fingerprint_sha256;
    row.issuer_canonical = alice_.issuer.Canonical();
    row.subject_canonical = alice_.subject.Canonical();
    row.issuer_display = alice_.issuer.ToRfc4514();
    row.subject_display = alice_.subject.ToRfc4514();
    row.serial = alice_.serial;
    row.not_before = alice_.not_before;
    row.not_after = alice_.not_after;
    row.der = alice_.der;
    ASSERT_TRUE(store_->EnrollCertificate(row).ok());
  }

  AuthorizeInput Der(const std::string& der) {
    AuthorizeInput in;
    in.request_id = "r";
    in.caller_peer = "ipv4:127.0.0.1:1000";
    in.credential.kind = Credential::Kind::kDer;
    in.credential.der = der;
    return in;
  }

  FakeClock clock_;
  std::unique_ptr<store::MemoryStore> store_;
  std::unique_ptr<audit::AuditWriter> audit_;
  std::unique_ptr<Authorizer> authz_;
  int64_t alice_id_ = 0;
  certs::CertificateFacts alice_;
};

TEST_F(AuthorizerTest, AllowsEnrolledCertificateAndAuditsIt) {
  auto r = authz_->Authorize(Der(alice_.der));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->decision.allowed);
  ASSERT_TRUE(r->decision.user.has_value());
  EXPECT_EQ(r->decision.user->id, alice_id_);
  store::AuditQuery q;
  auto rows = store_->QueryAudit(q);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].id, r->audit_id);
  EXPECT_EQ((*rows)[0].decision, store::Decision::kAllow);
  EXPECT_EQ((*rows)[0].fingerprint_sha256, alice_.fingerprint_sha256);
}

TEST_F(AuthorizerTest, StepTraceIsBuiltOnlyWhenExplainAsksForIt) {
  auto plain = authz_->Authorize(Der(alice_.der));
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain->decision.trace.empty()) << "Authorize must not pay for explain's trace";
  AuthorizeInput in = Der(alice_.der);
  in.explain = true;
  auto explained = authz_->Decide(in);
  ASSERT_TRUE(explained.ok());
  ASSERT_FALSE(explained->trace.empty());
  EXPECT_NE(explained->trace.back().find("allow"), std::string::npos) << explained->trace.back();
}

TEST_F(AuthorizerTest, ValidityWindowFollowsTheInjectedClock) {
  clock_.SetSeconds(alice_.not_after + 1);
  auto r = authz_->Authorize(Der(alice_.der));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->decision.reason, Reason::kCertificateExpired);
  clock_.SetSeconds(alice_.not_before - 1);
  r = authz_->Authorize(Der(alice_.der));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->decision.reason, Reason::kCertificateNotYetValid);
  clock_.SetSeconds(alice_.not_after);
  r = authz_->Authorize(Der(alice_.der));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->decision.allowed) << "the last second of the window is still valid";
}

TEST_F(AuthorizerTest, AnyStoreFailureIsAnErrorNeverADecision) {
  // Count the store calls an allowed request makes (pipeline reads + the audit append), then
  // fail each one in turn: every stage must turn the failure into an error, including the
  // audit append (an answer without a durable audit row is never sent).
  int total = 0;
  {
    FailAtStore counting(*store_, -1);
    audit::AuditWriter writer(counting);
    Authorizer a(Authorizer::Deps{counting, writer, clock_}, {});
    auto r = a.Authorize(Der(alice_.der));
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE(r->decision.allowed);
    writer.Shutdown();
    total = counting.calls();
  }
  ASSERT_GE(total, 4) << "lookup, revocation, user, audit";
  for (int k = 0; k < total; ++k) {
    SCOPED_TRACE("failing store call #" + std::to_string(k));
    FailAtStore failing(*store_, k);
    audit::AuditWriter writer(failing);
    Authorizer a(Authorizer::Deps{failing, writer, clock_}, {});
    auto r = a.Authorize(Der(alice_.der));
    EXPECT_FALSE(r.ok()) << "a failure inside certgate must not produce a decision";
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
    }
    writer.Shutdown();
  }
}

TEST_F(AuthorizerTest, RevocationIsKeyedByIssuerAndSerialNotSerialAlone) {
  store::Revocation other_issuer;
  other_issuer.issuer_canonical = "2.5.4.3=some other ca";
  other_issuer.serial = alice_.serial;
  other_issuer.revoked_at = 1;
  other_issuer.source = "admin";
  ASSERT_TRUE(store_->AddRevocation(other_issuer).ok());
  auto r = authz_->Authorize(Der(alice_.der));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->decision.allowed) << "a revocation by another issuer of the same serial must not apply";

  store::Revocation same = other_issuer;
  same.issuer_canonical = alice_.issuer.Canonical();
  ASSERT_TRUE(store_->AddRevocation(same).ok());
  r = authz_->Authorize(Der(alice_.der));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->decision.reason, Reason::kCertificateRevoked);
}

TEST_F(AuthorizerTest, ForwardedCredentialNeedsAConfiguredForwarder) {
  AuthorizeInput in = Der(alice_.der);
  in.credential = Credential();
  in.credential.kind = Credential::Kind::kHeader;
  in.credential.encoding = "base64-der";
  in.credential.header_value = "AAAA";
  in.caller_peer = "ipv4:10.9.9.9:1";
  auto r = authz_->Authorize(in);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->decision.reason, Reason::kForwarderNotTrusted);
  in.caller_peer = "ipv4:127.0.0.1:1";
  r = authz_->Authorize(in);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->decision.reason, Reason::kCertificateMalformed);
}

TEST_F(AuthorizerTest, SubjectSerialAmbiguityWithoutIssuerIsDenied) {
  // A second enrollment with the same subject and serial under another issuer.
  auto bob = store_->CreateUser({0, "bob", "", false, {}, 0});
  ASSERT_TRUE(bob.ok());
  store::EnrolledCertificate row;
  row.user_id = bob->id;
  row.issuer_canonical = "2.5.4.3=other ca";
  row.issuer_display = "CN=Other CA";
  row.subject_canonical = alice_.subject.Canonical();
  row.subject_display = alice_.subject.ToRfc4514();
  row.serial = alice_.serial;
  ASSERT_TRUE(store_->EnrollCertificate(row).ok());

  AuthorizeInput in = Der("");
  in.credential = Credential();
  in.credential.kind = Credential::Kind::kSubjectSerial;
  in.credential.subject_dn = alice_.subject.ToRfc4514();
  in.credential.serial = alice_.serial;
  auto r = authz_->Authorize(in);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->decision.allowed);
  EXPECT_EQ(r->decision.reason, Reason::kCertificateNotEnrolled);

  in.credential.issuer_dn = "CN=Other CA";
  r = authz_->Authorize(in);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->decision.allowed);
  EXPECT_EQ(r->decision.user->name, "bob");
}

}  // namespace
}  // namespace certgate::authz
