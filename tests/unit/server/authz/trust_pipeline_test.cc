// The pipeline with trust anchors: chain validation and the forgeries, lookup by issuer+serial
// only for a verified chain, imported CRLs (leaf and chain, required issuers, stale policy),
// forwarders recognised by their TLS client certificate, CRL import checks, and store failures on
// the new paths. In-memory store, settable clock, the real Validator.
#include <gtest/gtest.h>

#include "server/authz/authorizer.h"
#include "server/authz/crl_import.h"
#include "server/certs/certificate.h"
#include "server/store/memory_store.h"
#include "tests/support/testdata.h"
#include "tests/unit/server/authz/fail_at_store.h"

namespace certgate::authz {
namespace {

using testing::ReadTestdata;

// 2030-01-01: every "good" certificate of the test PKI is valid, every CRL's nextUpdate (10 years
// after generation) is ahead, crl_intermediate_stale's (2020-02-01) is long past.
constexpr int64_t kNow = 1893456000;

std::string Line(const std::string& name) {
  std::string s = ReadTestdata(name);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

certs::CertificateFacts Facts(const std::string& der_file) {
  auto f = certs::ParseCertificate(ReadTestdata(der_file));
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  return f.ok() ? std::move(f).value() : certs::CertificateFacts{};
}

class TrustPipeline : public ::testing::Test {
 protected:
  void SetUp() override {
    clock_.SetSeconds(kNow);
    store_ = store::NewMemoryStore(clock_);
    audit_ = std::make_unique<audit::AuditWriter>(*store_);
    auto trust = certs::TrustStore::FromDer({ReadTestdata("ca.der")}, {});
    ASSERT_TRUE(trust.ok()) << trust.status().ToString();
    validator_ = std::make_unique<certs::Validator>(*trust);
    Rebuild({});
    auto alice = store_->CreateUser({0, "alice", "", false, {}, 0});
    ASSERT_TRUE(alice.ok());
    alice_id_ = alice->id;
  }

  void Rebuild(AuthorizerOptions opts) {
    authz_ = std::make_unique<Authorizer>(
        Authorizer::Deps{*store_, *audit_, clock_, validator_.get()}, std::move(opts));
  }

  void EnrollDer(const std::string& der_file, int64_t user_id) {
    const certs::CertificateFacts f = Facts(der_file);
    store::EnrolledCertificate row;
    row.user_id = user_id;
    row.fingerprint_sha256 = f.fingerprint_sha256;
    row.issuer_canonical = f.issuer.Canonical();
    row.subject_canonical = f.subject.Canonical();
    row.serial = f.serial;
    row.not_before = f.not_before;
    row.not_after = f.not_after;
    row.der = f.der;
    ASSERT_TRUE(store_->EnrollCertificate(row).ok());
  }
  // Enrollment by issuer + subject + serial, without the certificate.
  void EnrollNames(const std::string& der_file, int64_t user_id) {
    const certs::CertificateFacts f = Facts(der_file);
    store::EnrolledCertificate row;
    row.user_id = user_id;
    row.issuer_canonical = f.issuer.Canonical();
    row.subject_canonical = f.subject.Canonical();
    row.serial = f.serial;
    ASSERT_TRUE(store_->EnrollCertificate(row).ok());
  }

  static AuthorizeInput Der(std::vector<std::string> files) {
    AuthorizeInput in;
    in.request_id = "r";
    in.caller_peer = "ipv4:127.0.0.1:1000";
    in.credential.kind = Credential::Kind::kDer;
    in.credential.der = ReadTestdata(files.front());
    for (size_t i = 1; i < files.size(); ++i)
      in.credential.chain_der.push_back(ReadTestdata(files[i]));
    return in;
  }

  // With the step trace on (as Explain asks), so tests can check which path was taken.
  Decision Decide(AuthorizeInput in) {
    in.explain = true;
    auto r = authz_->Decide(in);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : Decision{};
  }

  Status Import(const std::string& crl_file, const std::string& issuer_file = "") {
    auto r = ImportCrl(*store_, *validator_, clock_, ReadTestdata(crl_file),
                       issuer_file.empty() ? std::string() : ReadTestdata(issuer_file));
    return r.ok() ? Status::Ok() : r.status();
  }

  FakeClock clock_;
  std::unique_ptr<store::MemoryStore> store_;
  std::unique_ptr<audit::AuditWriter> audit_;
  std::unique_ptr<certs::Validator> validator_;
  std::unique_ptr<Authorizer> authz_;
  int64_t alice_id_ = 0;
};

TEST_F(TrustPipeline, EnrolledCertificateThatChainsIsAllowed) {
  EnrollDer("alice.der", alice_id_);
  Decision d = Decide(Der({"alice.der"}));
  EXPECT_TRUE(d.allowed) << d.message;
  bool traced = false;
  for (const auto& t : d.trace) traced |= t.find("verified to trust anchor") != std::string::npos;
  EXPECT_TRUE(traced);
}

TEST_F(TrustPipeline, ForgeriesOfAnEnrolledSubjectAndSerialAreUntrustedIssuer) {
  EnrollDer("alice.der", alice_id_);
  EnrollNames("alice_renewed.der", alice_id_);  // a name-based row must not help them either
  for (const char* forgery : {"lookalike.der", "rogue_alice.der"}) {
    SCOPED_TRACE(forgery);
    Decision d = Decide(Der({forgery}));
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.reason, Reason::kUntrustedIssuer) << d.message;
  }
  Decision with_rogue_ca = Decide(Der({"rogue_alice.der", "rogue_ca.der"}));
  EXPECT_EQ(with_rogue_ca.reason, Reason::kUntrustedIssuer) << with_rogue_ca.message;
}

TEST_F(TrustPipeline, IntermediateFromTheRequestOnly) {
  EnrollDer("leaf_via_intermediate.der", alice_id_);
  EXPECT_EQ(Decide(Der({"leaf_via_intermediate.der"})).reason, Reason::kUntrustedIssuer);
  Decision d = Decide(Der({"leaf_via_intermediate.der", "intermediate.der"}));
  EXPECT_TRUE(d.allowed) << d.message;
}

TEST_F(TrustPipeline, ValidityAndUsageReasons) {
  EXPECT_EQ(Decide(Der({"expired.der"})).reason, Reason::kCertificateExpired);
  EXPECT_EQ(Decide(Der({"notyet.der"})).reason, Reason::kCertificateNotYetValid);
  EXPECT_EQ(Decide(Der({"serverauth.der"})).reason, Reason::kKeyUsageNotAllowed);
  EXPECT_EQ(Decide(Der({"ca_as_client.der"})).reason, Reason::kKeyUsageNotAllowed);
  Decision via_expired =
      Decide(Der({"leaf_via_expired_intermediate.der", "expired_intermediate.der"}));
  EXPECT_EQ(via_expired.reason, Reason::kCertificateExpired) << "an expired intermediate";
  // The clock moves past alice's notAfter: the cached validation is not served.
  EnrollDer("alice.der", alice_id_);
  ASSERT_TRUE(Decide(Der({"alice.der"})).allowed);
  clock_.SetSeconds(Facts("alice.der").not_after + 1);
  EXPECT_EQ(Decide(Der({"alice.der"})).reason, Reason::kCertificateExpired);
}

TEST_F(TrustPipeline, IssuerSubjectSerialLookupOnlyForAVerifiedChain) {
  EnrollNames("alice.der", alice_id_);  // no fingerprint on the row
  Decision d = Decide(Der({"alice.der"}));
  ASSERT_TRUE(d.allowed) << d.message;
  EXPECT_EQ(d.user->name, "alice");
  // Without anchors there is no verified chain: the row is not matched by names.
  Authorizer no_anchors(Authorizer::Deps{*store_, *audit_, clock_}, {});
  auto r = no_anchors.Decide(Der({"alice.der"}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->reason, Reason::kCertificateNotEnrolled);
}

TEST_F(TrustPipeline, RenewedCertificateIsNotEnrolledUntilEnrolled) {
  EnrollDer("alice.der", alice_id_);
  EXPECT_EQ(Decide(Der({"alice_renewed.der"})).reason, Reason::kCertificateNotEnrolled);
  EnrollDer("alice_renewed.der", alice_id_);
  EXPECT_TRUE(Decide(Der({"alice_renewed.der"})).allowed);
}

TEST_F(TrustPipeline, ARowEnrolledFromAnotherCertificateIsNotMatchedByNames) {
  // A row pinned to a certificate (fingerprint) whose issuer and serial equal the presented
  // one's: a CA reusing a serial is not the enrolled certificate.
  const certs::CertificateFacts alice = Facts("alice.der");
  store::EnrolledCertificate row;
  row.user_id = alice_id_;
  row.fingerprint_sha256 = std::string(64, 'a');
  row.issuer_canonical = alice.issuer.Canonical();
  row.subject_canonical = alice.subject.Canonical();
  row.serial = alice.serial;
  ASSERT_TRUE(store_->EnrollCertificate(row).ok());
  EXPECT_EQ(Decide(Der({"alice.der"})).reason, Reason::kCertificateNotEnrolled);
}

TEST_F(TrustPipeline, ImportedCrlRevokesTheListedCertificate) {
  auto erin = store_->CreateUser({0, "erin", "", false, {}, 0});
  ASSERT_TRUE(erin.ok());
  EnrollDer("erin.der", erin->id);
  EnrollDer("alice.der", alice_id_);
  ASSERT_TRUE(Decide(Der({"erin.der"})).allowed);
  ASSERT_TRUE(Import("crl.der").ok());
  Decision d = Decide(Der({"erin.der"}));
  EXPECT_EQ(d.reason, Reason::kCertificateRevoked) << d.message;
  EXPECT_TRUE(Decide(Der({"alice.der"})).allowed);
}

TEST_F(TrustPipeline, AChainCertificateListedInItsIssuersCrlRevokesTheLeaf) {
  EnrollDer("leaf_via_intermediate.der", alice_id_);
  const certs::CertificateFacts inter = Facts("intermediate.der");
  store::CrlInfo crl;
  crl.issuer_canonical = inter.issuer.Canonical();
  crl.issuer_display = inter.issuer.ToRfc4514();
  crl.crl_number = "1";
  crl.this_update = kNow - 10;
  crl.der = "x";
  store::CrlEntry entry;
  entry.issuer_canonical = crl.issuer_canonical;
  entry.serial = inter.serial;
  entry.reason = store::RevocationReason::kCaCompromise;
  ASSERT_TRUE(store_->ImportCrl(crl, {entry}).ok());
  Decision d = Decide(Der({"leaf_via_intermediate.der", "intermediate.der"}));
  EXPECT_EQ(d.reason, Reason::kCertificateRevoked);
  EXPECT_NE(d.message.find("Intermediate"), std::string::npos) << d.message;
}

TEST_F(TrustPipeline, RequiredIssuerWithoutACrlIsUntrustedIssuer) {
  EnrollDer("alice.der", alice_id_);
  AuthorizerOptions opts;
  opts.crl_required_issuers = {Facts("ca.der").subject.Canonical()};
  Rebuild(opts);
  Decision missing = Decide(Der({"alice.der"}));
  EXPECT_EQ(missing.reason, Reason::kUntrustedIssuer);
  EXPECT_NE(missing.message.find("requires an imported CRL"), std::string::npos) << missing.message;
  ASSERT_TRUE(Import("crl.der").ok());
  EXPECT_TRUE(Decide(Der({"alice.der"})).allowed);
}

TEST_F(TrustPipeline, StaleRequiredCrlIsRejectedOrWarnedByPolicy) {
  EnrollDer("leaf_via_intermediate.der", alice_id_);
  const auto chain = Der({"leaf_via_intermediate.der", "intermediate.der"});
  ASSERT_TRUE(Import("crl_intermediate_stale.der", "intermediate.pem").ok());
  // Not required: used, with a warning in the trace.
  Decision warned = Decide(chain);
  EXPECT_TRUE(warned.allowed) << warned.message;
  bool traced = false;
  for (const auto& t : warned.trace) traced |= t.find("warning") != std::string::npos;
  EXPECT_TRUE(traced);

  AuthorizerOptions opts;
  opts.crl_required_issuers = {Facts("intermediate.der").subject.Canonical()};
  Rebuild(opts);
  Decision rejected = Decide(chain);
  EXPECT_EQ(rejected.reason, Reason::kUntrustedIssuer);
  EXPECT_NE(rejected.message.find("nextUpdate"), std::string::npos) << rejected.message;

  opts.crl_reject_stale = false;
  Rebuild(opts);
  EXPECT_TRUE(Decide(chain).allowed) << "stale_policy: warn";

  opts.crl_reject_stale = true;
  Rebuild(opts);
  ASSERT_TRUE(Import("crl_intermediate.der", "intermediate.pem").ok()) << "the newer, current CRL";
  EXPECT_TRUE(Decide(chain).allowed);
}

TEST_F(TrustPipeline, CrlImportChecksSignatureAndOrder) {
  Status rogue = Import("crl_rogue.der");
  EXPECT_EQ(rogue.code(), StatusCode::kInvalidArgument) << rogue.ToString();
  // Giving the rogue CA as the issuer does not help: it does not chain to the anchors.
  Status rogue_given = Import("crl_rogue.der", "rogue_ca.pem");
  EXPECT_EQ(rogue_given.code(), StatusCode::kFailedPrecondition) << rogue_given.ToString();
  // The intermediate is not configured, but given, it chains to the root.
  EXPECT_EQ(Import("crl_intermediate.der").code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Import("crl_intermediate.der", "intermediate.pem").ok());

  EXPECT_TRUE(Import("crl_newer.der").ok());
  EXPECT_EQ(Import("crl.der").code(), StatusCode::kFailedPrecondition) << "older CRL number";
  EXPECT_EQ(Import("crl_newer.der").code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(Import("alice.der").code(), StatusCode::kInvalidArgument) << "not a CRL";
  auto list = store_->ListCrls();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 2u);
}

TEST_F(TrustPipeline, CrlImportInvalidatesTheValidationCache) {
  const uint64_t before = validator_->generation();
  ASSERT_TRUE(Import("crl.der").ok());
  EXPECT_GT(validator_->generation(), before);
}

TEST_F(TrustPipeline, WithoutAnchorsAGivenIssuerCertificateIsTheOperatorsWord) {
  certs::Validator no_anchors(nullptr);
  auto r = ImportCrl(*store_, no_anchors, clock_, ReadTestdata("crl_intermediate.der"),
                     ReadTestdata("intermediate.der"));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  auto none = ImportCrl(*store_, no_anchors, clock_, ReadTestdata("crl.der"), "");
  EXPECT_EQ(none.status().code(), StatusCode::kFailedPrecondition);
}

// --- forwarders recognised by their TLS client certificate ---

AuthorizeInput Forwarded(const std::string& caller_der_file, const std::string& peer) {
  AuthorizeInput in;
  in.request_id = "r";
  in.caller_peer = peer;
  if (!caller_der_file.empty()) in.caller_certificate_der = ReadTestdata(caller_der_file);
  in.credential.kind = Credential::Kind::kHeader;
  in.credential.preset = "cloudflare";
  in.credential.header_value = certs::Base64Encode(ReadTestdata("alice.der"));
  return in;
}

TEST_F(TrustPipeline, ForwarderByFingerprintSubjectOrSan) {
  EnrollDer("alice.der", alice_id_);
  const std::string peer = "ipv4:10.1.2.3:4444";
  struct Case {
    std::string what;
    config::ForwarderConfig f;
  };
  std::vector<Case> cases(3);
  cases[0].what = "fingerprint, uppercase with colons";
  std::string fp = Line("forwarder.fingerprint"), colons;
  for (size_t i = 0; i < fp.size(); i += 2) {
    colons += (i ? ":" : "") + std::string(1, static_cast<char>(toupper(fp[i]))) +
              static_cast<char>(toupper(fp[i + 1]));
  }
  cases[0].f.fingerprints = {colons};
  cases[1].what = "subject in the slash form";
  cases[1].f.subjects = {"/C=US/O=certgate tests/OU=Proxies/CN=certgate test forwarder"};
  cases[2].what = "SAN, DNS case-insensitively";
  cases[2].f.sans = {"Forwarder.Example.COM"};
  for (Case& c : cases) {
    SCOPED_TRACE(c.what);
    c.f.name = "proxy";
    AuthorizerOptions opts;
    opts.forwarders = {c.f};
    Rebuild(opts);
    Decision d = Decide(Forwarded("forwarder.der", peer));
    EXPECT_TRUE(d.allowed) << ReasonName(d.reason) << ": " << d.message;
    Decision other = Decide(Forwarded("bob.der", peer));
    EXPECT_EQ(other.reason, Reason::kForwarderNotTrusted) << "another client certificate";
    Decision none = Decide(Forwarded("", peer));
    EXPECT_EQ(none.reason, Reason::kForwarderNotTrusted) << "no client certificate";
  }
}

TEST_F(TrustPipeline, ForwarderWithAddressesAndIdentityNeedsBoth) {
  EnrollDer("alice.der", alice_id_);
  config::ForwarderConfig f;
  f.name = "proxy";
  f.addresses = {"10.0.0.0/8"};
  f.sans = {"spiffe://example.org/forwarder"};
  AuthorizerOptions opts;
  opts.forwarders = {f};
  Rebuild(opts);
  EXPECT_TRUE(Decide(Forwarded("forwarder.der", "ipv4:10.1.2.3:1")).allowed);
  EXPECT_EQ(Decide(Forwarded("forwarder.der", "ipv4:192.168.1.1:1")).reason,
            Reason::kForwarderNotTrusted);
  EXPECT_EQ(Decide(Forwarded("alice.der", "ipv4:10.1.2.3:1")).reason, Reason::kForwarderNotTrusted);
}

TEST_F(TrustPipeline, ForwarderSubjectIsNeverASubstringMatch) {
  config::ForwarderConfig f;
  f.name = "proxy";
  f.subjects = {"CN=certgate test"};
  AuthorizerOptions opts;
  opts.forwarders = {f};
  Rebuild(opts);
  EXPECT_EQ(Decide(Forwarded("forwarder.der", "ipv4:10.1.2.3:1")).reason,
            Reason::kForwarderNotTrusted);
}

TEST_F(TrustPipeline, StoreFailuresOnTheCrlPathsAreErrorsNeverDecisions) {
  EnrollDer("leaf_via_intermediate.der", alice_id_);
  ASSERT_TRUE(Import("crl.der").ok());
  ASSERT_TRUE(Import("crl_intermediate.der", "intermediate.pem").ok());
  const auto chain = Der({"leaf_via_intermediate.der", "intermediate.der"});
  int total = 0;
  {
    FailAtStore counting(*store_, -1);
    audit::AuditWriter writer(counting);
    Authorizer a(Authorizer::Deps{counting, writer, clock_, validator_.get()}, {});
    auto r = a.Authorize(chain);
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE(r->decision.allowed) << r->decision.message;
    writer.Shutdown();
    total = counting.calls();
  }
  ASSERT_GE(total, 8) << "2 x (CRL info + entry), lookup, revocation, user, audit";
  for (int k = 0; k < total; ++k) {
    SCOPED_TRACE("failing store call #" + std::to_string(k));
    FailAtStore failing(*store_, k);
    audit::AuditWriter writer(failing);
    Authorizer a(Authorizer::Deps{failing, writer, clock_, validator_.get()}, {});
    auto r = a.Authorize(chain);
    EXPECT_FALSE(r.ok());
    writer.Shutdown();
  }
}

}  // namespace
}  // namespace certgate::authz
