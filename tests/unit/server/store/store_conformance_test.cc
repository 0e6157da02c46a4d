// The Store contract (store.h), run against every implementation: SQLite and the in-memory fake.
// A behaviour that differs between them is a bug in one of them.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "server/common/clock.h"
#include "server/store/memory_store.h"
#include "server/store/sqlite_store.h"
#include "server/store/store.h"
#include "tests/support/testdata.h"
#include "tests/unit/server/store/store_test_util.h"

namespace certgate::store {
namespace {

using testing::ExpectSameCertificate;
using testing::ExpectSameEvent;
using testing::MakeEvent;

constexpr int64_t kStartMicros = 1'700'000'000'000'000;

struct Backend {
  std::string name;
  std::function<Result<std::unique_ptr<Store>>(const Clock&, const std::string& dir)> open;
};

class StoreConformance : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    dir_ = certgate::testing::MakeTempDir();
    clock_.SetMicros(kStartMicros);
    Result<std::unique_ptr<Store>> opened = GetParam().open(clock_, dir_);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(opened).value();
  }

  void TearDown() override {
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  User AddUser(const std::string& name, std::vector<std::string> roles = {}) {
    User u;
    u.name = name;
    u.display_name = "Display " + name;
    u.roles = std::move(roles);
    Result<User> created = store_->CreateUser(u);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return created.ok() ? created.value() : User{};
  }

  static EnrolledCertificate MakeCert(int64_t user_id, const std::string& fingerprint,
                                      const std::string& issuer, const std::string& subject,
                                      const std::string& serial) {
    EnrolledCertificate c;
    c.user_id = user_id;
    c.fingerprint_sha256 = fingerprint;
    c.issuer_canonical = issuer;
    c.subject_canonical = subject;
    c.issuer_display = "display " + issuer;
    c.subject_display = "display " + subject;
    c.serial = serial;
    c.not_before = 1'600'000'000;
    c.not_after = 1'900'000'000;
    if (!fingerprint.empty()) {
      c.der = std::string("\x30\x82\x00\x00", 4) + fingerprint;  // includes a NUL byte
      c.spki_sha256 = "spki-" + fingerprint;
    }
    return c;
  }

  EnrolledCertificate Enroll(const EnrolledCertificate& c) {
    Result<EnrolledCertificate> r = store_->EnrollCertificate(c);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r.value() : EnrolledCertificate{};
  }

  std::vector<AuditEvent> Query(const AuditQuery& q) {
    Result<std::vector<AuditEvent>> r = store_->QueryAudit(q);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r.value() : std::vector<AuditEvent>{};
  }

  static std::vector<int64_t> Ids(const std::vector<AuditEvent>& events) {
    std::vector<int64_t> ids;
    for (const AuditEvent& e : events) ids.push_back(e.id);
    return ids;
  }

  // Appends `events` in one batch and returns them with ids assigned.
  std::vector<AuditEvent> Append(std::vector<AuditEvent> events) {
    Status s = store_->AppendAudit(events);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return events;
  }

  FakeClock clock_;
  std::string dir_;
  std::unique_ptr<Store> store_;
};

// --- users ---

TEST_P(StoreConformance, CreateUserAssignsIdAndCreationTimeAndNormalisesRoles) {
  User u;
  u.name = "alice";
  u.display_name = "Alice A.";
  u.roles = {"reader", "admin", "reader"};
  Result<User> created = store_->CreateUser(u);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_GT(created->id, 0);
  EXPECT_EQ(created->created_at, kStartMicros);
  EXPECT_EQ(created->roles, (std::vector<std::string>{"admin", "reader"}));
  EXPECT_FALSE(created->disabled);

  Result<std::optional<User>> got = store_->GetUser(created->id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->name, "alice");
  EXPECT_EQ((*got)->display_name, "Alice A.");
  EXPECT_EQ((*got)->roles, (std::vector<std::string>{"admin", "reader"}));
  EXPECT_EQ((*got)->created_at, kStartMicros);
}

TEST_P(StoreConformance, CreateUserKeepsDisabledFlag) {
  User u;
  u.name = "bob";
  u.disabled = true;
  Result<User> created = store_->CreateUser(u);
  ASSERT_TRUE(created.ok());
  EXPECT_TRUE(store_->GetUser(created->id).value()->disabled);
}

TEST_P(StoreConformance, DuplicateUserNameIsAlreadyExists) {
  User first = AddUser("alice", {"admin"});
  User dup;
  dup.name = "alice";
  Result<User> again = store_->CreateUser(dup);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  Result<std::vector<User>> all = store_->ListUsers();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].id, first.id);
  EXPECT_EQ((*all)[0].roles, (std::vector<std::string>{"admin"}));
}

TEST_P(StoreConformance, EmptyUserNameOrRoleIsInvalidArgument) {
  User nameless;
  EXPECT_EQ(store_->CreateUser(nameless).status().code(), StatusCode::kInvalidArgument);
  User bad_role;
  bad_role.name = "carol";
  bad_role.roles = {"admin", ""};
  EXPECT_EQ(store_->CreateUser(bad_role).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(store_->ListUsers()->empty());
}

TEST_P(StoreConformance, GetUserAndGetUserByNameReturnNulloptWhenMissing) {
  User alice = AddUser("alice");
  Result<std::optional<User>> by_name = store_->GetUserByName("alice");
  ASSERT_TRUE(by_name.ok());
  ASSERT_TRUE(by_name->has_value());
  EXPECT_EQ((*by_name)->id, alice.id);

  Result<std::optional<User>> missing = store_->GetUser(alice.id + 100);
  ASSERT_TRUE(missing.ok()) << "a missing row is not an error";
  EXPECT_FALSE(missing->has_value());
  Result<std::optional<User>> missing_name = store_->GetUserByName("nobody");
  ASSERT_TRUE(missing_name.ok());
  EXPECT_FALSE(missing_name->has_value());
}

TEST_P(StoreConformance, ListUsersIsOrderedByIdWithEachUsersRoles) {
  User a = AddUser("alice", {"admin"});
  User b = AddUser("bob");
  User c = AddUser("carol", {"z", "a"});
  Result<std::vector<User>> all = store_->ListUsers();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].id, a.id);
  EXPECT_EQ((*all)[1].id, b.id);
  EXPECT_EQ((*all)[2].id, c.id);
  EXPECT_LT(a.id, b.id);
  EXPECT_LT(b.id, c.id);
  EXPECT_EQ((*all)[0].roles, (std::vector<std::string>{"admin"}));
  EXPECT_TRUE((*all)[1].roles.empty());
  EXPECT_EQ((*all)[2].roles, (std::vector<std::string>{"a", "z"}));
}

TEST_P(StoreConformance, SetUserDisabledTogglesAndUnknownUserIsNotFound) {
  User alice = AddUser("alice");
  ASSERT_TRUE(store_->SetUserDisabled(alice.id, true).ok());
  EXPECT_TRUE(store_->GetUser(alice.id).value()->disabled);
  ASSERT_TRUE(store_->SetUserDisabled(alice.id, false).ok());
  EXPECT_FALSE(store_->GetUser(alice.id).value()->disabled);
  // Setting the current value again is fine.
  EXPECT_TRUE(store_->SetUserDisabled(alice.id, false).ok());
  EXPECT_EQ(store_->SetUserDisabled(alice.id + 100, true).code(), StatusCode::kNotFound);
}

TEST_P(StoreConformance, SetUserRolesReplacesSortsAndDeduplicates) {
  User alice = AddUser("alice", {"old"});
  ASSERT_TRUE(store_->SetUserRoles(alice.id, {"writer", "admin", "writer"}).ok());
  EXPECT_EQ(store_->GetUser(alice.id).value()->roles,
            (std::vector<std::string>{"admin", "writer"}));
  ASSERT_TRUE(store_->SetUserRoles(alice.id, {}).ok());
  EXPECT_TRUE(store_->GetUserByName("alice").value()->roles.empty());
  EXPECT_EQ(store_->SetUserRoles(alice.id + 100, {"admin"}).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->SetUserRoles(alice.id, {""}).code(), StatusCode::kInvalidArgument);
}

// --- enrolled certificates ---

TEST_P(StoreConformance, EnrollByFingerprintRoundTripsEveryField) {
  User alice = AddUser("alice");
  clock_.AdvanceMicros(5);
  EnrolledCertificate want = Enroll(MakeCert(alice.id, "aa11", "cn=ca1", "cn=alice", "01"));
  EXPECT_GT(want.id, 0);
  EXPECT_EQ(want.created_at, kStartMicros + 5);
  EXPECT_EQ(want.der.size(), 8u);

  Result<std::optional<EnrolledCertificate>> got = store_->FindCertificateByFingerprint("aa11");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_TRUE(got->has_value());
  ExpectSameCertificate(want, **got);

  Result<std::optional<EnrolledCertificate>> none = store_->FindCertificateByFingerprint("bb22");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST_P(StoreConformance, EnrollByIssuerAndSerialWithoutDer) {
  User alice = AddUser("alice");
  EnrolledCertificate a = Enroll(MakeCert(alice.id, "", "cn=ca1", "cn=alice", "01"));
  // A second certificate without a fingerprint: "unknown" fingerprints never collide.
  EnrolledCertificate b = Enroll(MakeCert(alice.id, "", "cn=ca1", "cn=alice", "02"));
  EXPECT_NE(a.id, b.id);

  Result<std::optional<EnrolledCertificate>> got =
      store_->FindCertificateByIssuerSerial("cn=ca1", "01");
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->has_value());
  ExpectSameCertificate(a, **got);
  EXPECT_TRUE((*got)->der.empty());
  EXPECT_TRUE((*got)->fingerprint_sha256.empty());
  EXPECT_TRUE((*got)->spki_sha256.empty());

  // An empty fingerprint is not a key: it finds nothing even though such rows exist.
  Result<std::optional<EnrolledCertificate>> by_empty = store_->FindCertificateByFingerprint("");
  ASSERT_TRUE(by_empty.ok());
  EXPECT_FALSE(by_empty->has_value());
}

TEST_P(StoreConformance, DuplicateFingerprintIsAlreadyExists) {
  User alice = AddUser("alice");
  User bob = AddUser("bob");
  Enroll(MakeCert(alice.id, "aa11", "cn=ca1", "cn=alice", "01"));
  Result<EnrolledCertificate> dup =
      store_->EnrollCertificate(MakeCert(bob.id, "aa11", "cn=ca2", "cn=bob", "02"));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->ListCertificates(std::nullopt)->size(), 1u);
}

TEST_P(StoreConformance, DuplicateIssuerAndSerialIsAlreadyExists) {
  User alice = AddUser("alice");
  Enroll(MakeCert(alice.id, "aa11", "cn=ca1", "cn=alice", "01"));
  Result<EnrolledCertificate> dup =
      store_->EnrollCertificate(MakeCert(alice.id, "bb22", "cn=ca1", "cn=other", "01"));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists);
  Result<EnrolledCertificate> dup_no_der =
      store_->EnrollCertificate(MakeCert(alice.id, "", "cn=ca1", "cn=alice", "01"));
  EXPECT_EQ(dup_no_der.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->ListCertificates(std::nullopt)->size(), 1u);
}

TEST_P(StoreConformance, SameSerialFromDifferentIssuersAreDistinctCertificates) {
  User alice = AddUser("alice");
  Enroll(MakeCert(alice.id, "aa11", "cn=ca1", "cn=alice", "01"));
  Enroll(MakeCert(alice.id, "bb22", "cn=ca2", "cn=alice", "01"));
  EXPECT_EQ(store_->ListCertificates(alice.id)->size(), 2u);
}

TEST_P(StoreConformance, EnrollForUnknownUserIsNotFound) {
  Result<EnrolledCertificate> r =
      store_->EnrollCertificate(MakeCert(42, "aa11", "cn=ca1", "cn=ghost", "01"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->ListCertificates(std::nullopt)->empty());
}

TEST_P(StoreConformance, EnrollWithoutIssuerOrSerialIsInvalidArgument) {
  User alice = AddUser("alice");
  EXPECT_EQ(
      store_->EnrollCertificate(MakeCert(alice.id, "aa11", "", "cn=alice", "01")).status().code(),
      StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->EnrollCertificate(MakeCert(alice.id, "aa11", "cn=ca1", "cn=alice", ""))
                .status()
                .code(),
            StatusCode::kInvalidArgument);
}

TEST_P(StoreConformance, FindBySubjectAndSerialReturnsEveryIssuerInIdOrder) {
  User alice = AddUser("alice");
  User bob = AddUser("bob");
  EnrolledCertificate from_ca1 = Enroll(MakeCert(alice.id, "aa11", "cn=ca1", "cn=alice", "07"));
  Enroll(MakeCert(alice.id, "aa12", "cn=ca1", "cn=alice", "08"));  // other serial
  Enroll(MakeCert(bob.id, "bb11", "cn=ca3", "cn=bob", "07"));      // other subject
  EnrolledCertificate from_ca2 = Enroll(MakeCert(bob.id, "", "cn=ca2", "cn=alice", "07"));

  Result<std::vector<EnrolledCertificate>> found =
      store_->FindCertificatesBySubjectSerial("cn=alice", "07");
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  ASSERT_EQ(found->size(), 2u);
  ExpectSameCertificate(from_ca1, (*found)[0]);
  ExpectSameCertificate(from_ca2, (*found)[1]);

  Result<std::vector<EnrolledCertificate>> none =
      store_->FindCertificatesBySubjectSerial("cn=alice", "09");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_P(StoreConformance, FindByIssuerAndSerialNeedsBothToMatch) {
  User alice = AddUser("alice");
  EnrolledCertificate c = Enroll(MakeCert(alice.id, "aa11", "cn=ca1", "cn=alice", "0a"));
  Result<std::optional<EnrolledCertificate>> hit =
      store_->FindCertificateByIssuerSerial("cn=ca1", "0a");
  ASSERT_TRUE(hit.ok());
  ASSERT_TRUE(hit->has_value());
  EXPECT_EQ((*hit)->id, c.id);
  EXPECT_FALSE(store_->FindCertificateByIssuerSerial("cn=ca2", "0a")->has_value());
  EXPECT_FALSE(store_->FindCertificateByIssuerSerial("cn=ca1", "0b")->has_value());
}

TEST_P(StoreConformance, ListCertificatesFiltersByUser) {
  User alice = AddUser("alice");
  User bob = AddUser("bob");
  EnrolledCertificate a1 = Enroll(MakeCert(alice.id, "aa11", "cn=ca1", "cn=alice", "01"));
  EnrolledCertificate b1 = Enroll(MakeCert(bob.id, "bb11", "cn=ca1", "cn=bob", "02"));
  EnrolledCertificate a2 = Enroll(MakeCert(alice.id, "", "cn=ca1", "cn=alice", "03"));

  Result<std::vector<EnrolledCertificate>> all = store_->ListCertificates(std::nullopt);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].id, a1.id);
  EXPECT_EQ((*all)[1].id, b1.id);
  EXPECT_EQ((*all)[2].id, a2.id);

  Result<std::vector<EnrolledCertificate>> alices = store_->ListCertificates(alice.id);
  ASSERT_TRUE(alices.ok());
  ASSERT_EQ(alices->size(), 2u);
  ExpectSameCertificate(a1, (*alices)[0]);
  ExpectSameCertificate(a2, (*alices)[1]);
  EXPECT_TRUE(store_->ListCertificates(bob.id + 100)->empty());
}

TEST_P(StoreConformance, ListCertificatesPagesAfterAnIdAndGetsById) {
  User alice = AddUser("alice");
  User bob = AddUser("bob");
  std::vector<EnrolledCertificate> certs;
  for (int i = 0; i < 5; ++i) {
    const User& u = i % 2 == 0 ? alice : bob;
    certs.push_back(Enroll(
        MakeCert(u.id, "", "cn=ca1", "cn=u" + std::to_string(i), "0" + std::to_string(i + 1))));
  }
  Result<std::vector<EnrolledCertificate>> page = store_->ListCertificates(std::nullopt, 0, 2);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[1].id, certs[1].id);
  page = store_->ListCertificates(std::nullopt, certs[1].id, 2);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].id, certs[2].id);
  page = store_->ListCertificates(std::nullopt, certs[3].id, 2);
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].id, certs[4].id);
  EXPECT_TRUE(store_->ListCertificates(std::nullopt, certs[4].id, 2)->empty());
  // With a user: the limit counts that user's rows.
  page = store_->ListCertificates(alice.id, certs[0].id, 1);
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].id, certs[2].id);

  Result<std::optional<EnrolledCertificate>> got = store_->GetCertificate(certs[3].id);
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->has_value());
  ExpectSameCertificate(certs[3], **got);
  EXPECT_FALSE(store_->GetCertificate(certs[4].id + 100)->has_value());
}

TEST_P(StoreConformance, FindBySpkiReturnsEveryCertificateWithThatKey) {
  User alice = AddUser("alice");
  User bob = AddUser("bob");
  EnrolledCertificate a = MakeCert(alice.id, "aa11", "cn=ca1", "cn=alice", "01");
  a.spki_sha256 = "5151";
  EnrolledCertificate b = MakeCert(bob.id, "bb11", "cn=ca1", "cn=bob", "02");
  b.spki_sha256 = "5151";
  EnrolledCertificate c = MakeCert(bob.id, "cc11", "cn=ca1", "cn=bob", "03");
  c.spki_sha256 = "7777";
  a = Enroll(a);
  b = Enroll(b);
  Enroll(c);
  Result<std::vector<EnrolledCertificate>> same = store_->FindCertificatesBySpki("5151");
  ASSERT_TRUE(same.ok());
  ASSERT_EQ(same->size(), 2u);
  EXPECT_EQ((*same)[0].id, a.id);
  EXPECT_EQ((*same)[1].id, b.id);
  EXPECT_TRUE(store_->FindCertificatesBySpki("")->empty()) << "an empty hash is not a key";
  EXPECT_TRUE(store_->FindCertificatesBySpki("0000")->empty());
}

// --- revocations ---

Revocation MakeRevocation(const std::string& issuer, const std::string& serial,
                          const std::string& fingerprint, RevocationReason reason) {
  Revocation r;
  r.issuer_canonical = issuer;
  r.serial = serial;
  r.fingerprint_sha256 = fingerprint;
  r.reason = reason;
  r.revoked_at = 12'345;
  r.source = "admin";
  return r;
}

TEST_P(StoreConformance, FirstRevocationWins) {
  ASSERT_TRUE(store_
                  ->AddRevocation(
                      MakeRevocation("cn=ca1", "01", "aa11", RevocationReason::kCertificateHold))
                  .ok());
  Revocation later = MakeRevocation("cn=ca1", "01", "", RevocationReason::kKeyCompromise);
  later.source = "crl";
  later.revoked_at = 99'999;
  EXPECT_TRUE(store_->AddRevocation(later).ok()) << "a repeated revocation is not an error";

  Result<std::optional<Revocation>> got = store_->FindRevocation("", "cn=ca1", "01");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_TRUE(got->has_value());
  EXPECT_GT((*got)->id, 0);
  EXPECT_EQ((*got)->reason, RevocationReason::kCertificateHold);
  EXPECT_EQ((*got)->fingerprint_sha256, "aa11");
  EXPECT_EQ((*got)->revoked_at, 12'345);
  EXPECT_EQ((*got)->source, "admin");
}

TEST_P(StoreConformance, FindRevocationByFingerprintOrByIssuerAndSerial) {
  ASSERT_TRUE(
      store_->AddRevocation(MakeRevocation("cn=ca1", "01", "aa11", RevocationReason::kSuperseded))
          .ok());
  ASSERT_TRUE(
      store_->AddRevocation(MakeRevocation("cn=ca2", "05", "", RevocationReason::kKeyCompromise))
          .ok());

  // By fingerprint alone (issuer/serial given do not match anything).
  Result<std::optional<Revocation>> by_fp = store_->FindRevocation("aa11", "cn=other", "ff");
  ASSERT_TRUE(by_fp.ok());
  ASSERT_TRUE(by_fp->has_value());
  EXPECT_EQ((*by_fp)->serial, "01");
  EXPECT_EQ((*by_fp)->issuer_canonical, "cn=ca1");
  EXPECT_EQ((*by_fp)->reason, RevocationReason::kSuperseded);

  // By (issuer, serial), with an unrelated fingerprint.
  Result<std::optional<Revocation>> by_key = store_->FindRevocation("cc33", "cn=ca2", "05");
  ASSERT_TRUE(by_key.ok());
  ASSERT_TRUE(by_key->has_value());
  EXPECT_EQ((*by_key)->reason, RevocationReason::kKeyCompromise);
  EXPECT_TRUE((*by_key)->fingerprint_sha256.empty());

  Result<std::optional<Revocation>> none = store_->FindRevocation("cc33", "cn=ca2", "06");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST_P(StoreConformance, SerialAloneWithAnotherIssuerIsNotRevoked) {
  ASSERT_TRUE(
      store_->AddRevocation(MakeRevocation("cn=ca1", "01", "", RevocationReason::kKeyCompromise))
          .ok());
  Result<std::optional<Revocation>> other_issuer = store_->FindRevocation("", "cn=ca2", "01");
  ASSERT_TRUE(other_issuer.ok());
  EXPECT_FALSE(other_issuer->has_value());
  // An empty fingerprint never matches a revocation recorded without one.
  Result<std::optional<Revocation>> empty_fp = store_->FindRevocation("", "cn=ca2", "02");
  ASSERT_TRUE(empty_fp.ok());
  EXPECT_FALSE(empty_fp->has_value());
}

TEST_P(StoreConformance, RevokedAtDefaultsToNow) {
  Revocation r = MakeRevocation("cn=ca1", "01", "", RevocationReason::kUnspecified);
  r.revoked_at = 0;
  ASSERT_TRUE(store_->AddRevocation(r).ok());
  EXPECT_EQ(store_->FindRevocation("", "cn=ca1", "01").value()->revoked_at, kStartMicros);
}

TEST_P(StoreConformance, InvalidRevocationIsInvalidArgument) {
  EXPECT_EQ(
      store_->AddRevocation(MakeRevocation("", "01", "", RevocationReason::kUnspecified)).code(),
      StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->AddRevocation(MakeRevocation("cn=ca1", "", "", RevocationReason::kUnspecified))
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(
      store_->AddRevocation(MakeRevocation("cn=ca1", "01", "", static_cast<RevocationReason>(7)))
          .code(),
      StatusCode::kInvalidArgument);
}

TEST_P(StoreConformance, ReleaseHoldRemovesOnlyAHold) {
  ASSERT_TRUE(store_
                  ->AddRevocation(
                      MakeRevocation("cn=ca1", "01", "aa11", RevocationReason::kCertificateHold))
                  .ok());
  ASSERT_TRUE(
      store_->AddRevocation(MakeRevocation("cn=ca1", "02", "", RevocationReason::kKeyCompromise))
          .ok());

  Status not_hold = store_->ReleaseHold("cn=ca1", "02");
  EXPECT_EQ(not_hold.code(), StatusCode::kFailedPrecondition) << not_hold.ToString();
  EXPECT_TRUE(store_->FindRevocation("", "cn=ca1", "02").value().has_value());

  EXPECT_EQ(store_->ReleaseHold("cn=ca1", "03").code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->ReleaseHold("cn=ca2", "01").code(), StatusCode::kNotFound)
      << "the key is (issuer, serial), never the serial alone";

  ASSERT_TRUE(store_->ReleaseHold("cn=ca1", "01").ok());
  EXPECT_FALSE(store_->FindRevocation("aa11", "cn=ca1", "01").value().has_value());
  EXPECT_EQ(store_->ReleaseHold("cn=ca1", "01").code(), StatusCode::kNotFound);

  // After release, a new revocation of the same certificate takes effect.
  ASSERT_TRUE(
      store_->AddRevocation(MakeRevocation("cn=ca1", "01", "", RevocationReason::kKeyCompromise))
          .ok());
  EXPECT_EQ(store_->FindRevocation("", "cn=ca1", "01").value()->reason,
            RevocationReason::kKeyCompromise);
}

// --- audit ---

TEST_P(StoreConformance, AppendAuditAssignsIncreasingIds) {
  std::vector<AuditEvent> first = Append({MakeEvent("r1"), MakeEvent("r2"), MakeEvent("r3")});
  std::vector<AuditEvent> second = Append({MakeEvent("r4")});
  std::vector<int64_t> ids = Ids(first);
  ids.push_back(second[0].id);
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_GT(ids[i], 0);
    if (i > 0) {
      EXPECT_GT(ids[i], ids[i - 1]);
    }
  }
}

TEST_P(StoreConformance, AppendAuditEmptyBatchIsOk) {
  std::vector<AuditEvent> none;
  EXPECT_TRUE(store_->AppendAudit(none).ok());
  EXPECT_TRUE(Query({}).empty());
}

TEST_P(StoreConformance, AuditRoundTripsEveryFieldAndEveryReason) {
  std::vector<AuditEvent> events;
  AuditEvent allow = MakeEvent("req-allow");
  allow.kind = "authorize";
  allow.time = 111;
  allow.caller = "ipv6:[::1]:443 spiffe://proxy";
  allow.fingerprint_sha256 = "ab" + std::string(62, 'c');
  allow.subject = "CN=alice,O=Example";
  allow.issuer = "CN=Example CA";
  allow.serial = "0123456789abcdef";
  allow.user_id = 7;
  allow.user_name = "alice";
  allow.action = "GET";
  allow.resource = "/v1/things";
  allow.message = "ok \xE2\x9C\x93";  // UTF-8
  events.push_back(allow);
  int64_t t = 200;
  for (Reason r : kAllReasons) {
    AuditEvent deny =
        MakeEvent(std::string("req-") + std::string(ReasonName(r)), Decision::kDeny, r);
    deny.time = t++;
    deny.kind = "admin";
    deny.message = "denied";
    events.push_back(deny);  // user_id stays nullopt
  }
  std::vector<AuditEvent> stored = Append(events);

  AuditQuery q;
  q.after_id = 0;  // oldest first
  std::vector<AuditEvent> got = Query(q);
  ASSERT_EQ(got.size(), stored.size());
  for (size_t i = 0; i < got.size(); ++i) ExpectSameEvent(stored[i], got[i]);
  EXPECT_EQ(got[0].user_id, std::optional<int64_t>(7));
  EXPECT_EQ(got[1].user_id, std::nullopt);
  EXPECT_EQ(got[0].reason, Reason::kNone);
  EXPECT_EQ(got.back().reason, Reason::kAccessDenied);
}

TEST_P(StoreConformance, AppendAuditStampsMissingTimeWithTheClock) {
  AuditEvent e = MakeEvent("r1");
  e.time = 0;
  std::vector<AuditEvent> stored = Append({e});
  EXPECT_EQ(stored[0].time, kStartMicros);
  EXPECT_EQ(Query({})[0].time, kStartMicros);
}

TEST_P(StoreConformance, AppendAuditRejectsAnInvalidEventAndStoresNothing) {
  std::vector<AuditEvent> events = {MakeEvent("good"), MakeEvent("bad")};
  events[1].decision = static_cast<Decision>(42);
  Status s = store_->AppendAudit(events);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(events[0].id, 0);
  EXPECT_TRUE(Query({}).empty());
  events[1] = MakeEvent("bad-reason", Decision::kDeny, static_cast<Reason>(999));
  EXPECT_EQ(store_->AppendAudit(events).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Query({}).empty());
}

class AuditQueryTest : public StoreConformance {
 protected:
  void SetUp() override {
    StoreConformance::SetUp();
    if (HasFatalFailure()) return;
    // Six events at times 10..60 covering every filterable field.
    std::vector<AuditEvent> events;
    auto add = [&](int64_t time, const char* request_id, std::optional<int64_t> user,
                   const char* fp, Decision d, Reason r, const char* action, const char* kind) {
      AuditEvent e = MakeEvent(request_id, d, r);
      e.time = time;
      e.user_id = user;
      e.fingerprint_sha256 = fp;
      e.action = action;
      e.kind = kind;
      events.push_back(e);
    };
    add(10, "req-a", 1, "fp1", Decision::kAllow, Reason::kNone, "", "authorize");
    add(20, "req-b", 2, "fp2", Decision::kDeny, Reason::kCertificateRevoked, "", "authorize");
    add(30, "req-c", std::nullopt, "", Decision::kDeny, Reason::kCertificateMissing, "",
        "authorize");
    add(40, "req-d", 1, "fp1", Decision::kAllow, Reason::kNone, "user.create", "admin");
    add(50, "req-e", 1, "fp1", Decision::kDeny, Reason::kCertificateRevoked, "", "authorize");
    add(60, "req-a", 2, "fp2", Decision::kAllow, Reason::kNone, "cert.revoke", "admin");
    stored_ = Append(events);
  }

  // Request ids of the matching events, in the order returned.
  std::vector<std::string> RequestIds(const AuditQuery& q) {
    std::vector<std::string> out;
    for (const AuditEvent& e : Query(q)) out.push_back(e.request_id + "@" + std::to_string(e.time));
    return out;
  }

  std::vector<AuditEvent> stored_;
};

using Strings = std::vector<std::string>;

TEST_P(AuditQueryTest, DefaultIsNewestFirst) {
  EXPECT_EQ(RequestIds({}),
            (Strings{"req-a@60", "req-e@50", "req-d@40", "req-c@30", "req-b@20", "req-a@10"}));
}

TEST_P(AuditQueryTest, SinceIsInclusiveAndUntilExclusive) {
  AuditQuery q;
  q.since = 20;
  q.until = 50;
  EXPECT_EQ(RequestIds(q), (Strings{"req-d@40", "req-c@30", "req-b@20"}));
  AuditQuery only_since;
  only_since.since = 55;
  EXPECT_EQ(RequestIds(only_since), (Strings{"req-a@60"}));
  AuditQuery only_until;
  only_until.until = 11;
  EXPECT_EQ(RequestIds(only_until), (Strings{"req-a@10"}));
}

TEST_P(AuditQueryTest, FiltersByUser) {
  AuditQuery q;
  q.user_id = 2;
  EXPECT_EQ(RequestIds(q), (Strings{"req-a@60", "req-b@20"}));
}

TEST_P(AuditQueryTest, FiltersByFingerprint) {
  AuditQuery q;
  q.fingerprint_sha256 = "fp1";
  EXPECT_EQ(RequestIds(q), (Strings{"req-e@50", "req-d@40", "req-a@10"}));
}

TEST_P(AuditQueryTest, FiltersByDecision) {
  AuditQuery q;
  q.decision = Decision::kDeny;
  EXPECT_EQ(RequestIds(q), (Strings{"req-e@50", "req-c@30", "req-b@20"}));
}

TEST_P(AuditQueryTest, FiltersByReason) {
  AuditQuery q;
  q.reason = Reason::kCertificateRevoked;
  EXPECT_EQ(RequestIds(q), (Strings{"req-e@50", "req-b@20"}));
  AuditQuery none;
  none.reason = Reason::kNone;
  EXPECT_EQ(RequestIds(none), (Strings{"req-a@60", "req-d@40", "req-a@10"}));
}

TEST_P(AuditQueryTest, FiltersByActionRequestIdAndKind) {
  AuditQuery action;
  action.action = "cert.revoke";
  EXPECT_EQ(RequestIds(action), (Strings{"req-a@60"}));
  AuditQuery request;
  request.request_id = "req-a";
  EXPECT_EQ(RequestIds(request), (Strings{"req-a@60", "req-a@10"}));
  AuditQuery kind;
  kind.kind = "admin";
  EXPECT_EQ(RequestIds(kind), (Strings{"req-a@60", "req-d@40"}));
}

TEST_P(AuditQueryTest, FiltersCombine) {
  AuditQuery q;
  q.user_id = 1;
  q.decision = Decision::kAllow;
  q.kind = "authorize";
  EXPECT_EQ(RequestIds(q), (Strings{"req-a@10"}));
  AuditQuery nothing;
  nothing.user_id = 2;
  nothing.reason = Reason::kCertificateMissing;
  EXPECT_TRUE(RequestIds(nothing).empty());
}

TEST_P(AuditQueryTest, BeforeIdPagesNewestFirst) {
  AuditQuery q;
  q.limit = 4;
  std::vector<AuditEvent> page1 = Query(q);
  ASSERT_EQ(page1.size(), 4u);
  q.before_id = page1.back().id;
  std::vector<AuditEvent> page2 = Query(q);
  ASSERT_EQ(page2.size(), 2u);
  q.before_id = page2.back().id;
  EXPECT_TRUE(Query(q).empty());

  std::vector<int64_t> all = Ids(page1);
  for (int64_t id : Ids(page2)) all.push_back(id);
  std::vector<int64_t> want;
  for (auto it = stored_.rbegin(); it != stored_.rend(); ++it) want.push_back(it->id);
  EXPECT_EQ(all, want);
}

TEST_P(AuditQueryTest, AfterIdFollowsOldestFirst) {
  AuditQuery q;
  q.after_id = stored_[1].id;
  q.limit = 2;
  std::vector<AuditEvent> page = Query(q);
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].id, stored_[2].id);
  EXPECT_EQ(page[1].id, stored_[3].id);
  q.after_id = page.back().id;
  page = Query(q);
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[1].id, stored_[5].id);
  q.after_id = stored_[5].id;
  EXPECT_TRUE(Query(q).empty());
  // A follower sees new rows as they arrive.
  std::vector<AuditEvent> more = Append({MakeEvent("req-f")});
  ASSERT_EQ(Query(q).size(), 1u);
  EXPECT_EQ(Query(q)[0].id, more[0].id);
}

TEST_P(AuditQueryTest, BeforeAndAfterIdTogetherBoundAWindow) {
  AuditQuery q;
  q.after_id = stored_[0].id;
  q.before_id = stored_[4].id;
  std::vector<AuditEvent> window = Query(q);
  ASSERT_EQ(window.size(), 3u);
  EXPECT_EQ(window[0].id, stored_[1].id);  // oldest first because after_id is set
  EXPECT_EQ(window[2].id, stored_[3].id);
}

TEST_P(AuditQueryTest, PagingComposesWithFilters) {
  AuditQuery q;
  q.fingerprint_sha256 = "fp1";
  q.limit = 1;
  std::vector<AuditEvent> page = Query(q);
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].request_id, "req-e");
  q.before_id = page[0].id;
  page = Query(q);
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].request_id, "req-d");
}

// Events at times 10, 20, 30, 40, 50, 60 (see the fixture).
TEST_P(AuditQueryTest, DeleteAuditBeforeRemovesTheOldestRowsInBatchesAndNothingNewer) {
  Result<int64_t> n = store_->DeleteAuditBefore(45, 2);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 2);
  EXPECT_EQ(RequestIds({}), (Strings{"req-a@60", "req-e@50", "req-d@40", "req-c@30"}));
  n = store_->DeleteAuditBefore(45, 100);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2) << "the rest before 45: times 30 and 40";
  EXPECT_EQ(RequestIds({}), (Strings{"req-a@60", "req-e@50"}));
  n = store_->DeleteAuditBefore(45, 100);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0);
  EXPECT_FALSE(store_->DeleteAuditBefore(100, 0).ok()) << "a limit below 1 is refused";
  EXPECT_EQ(Query({}).size(), 2u);
  // Ids are never reused after a delete: a new row comes after every row ever stored.
  std::vector<AuditEvent> more = Append({MakeEvent("req-f")});
  EXPECT_GT(more[0].id, stored_.back().id);
}

TEST_P(StoreConformance, AuditQueryLimitIsClampedToOneThroughAThousand) {
  std::vector<AuditEvent> events;
  for (int i = 0; i < 1005; ++i) events.push_back(MakeEvent("r" + std::to_string(i)));
  std::vector<AuditEvent> stored = Append(events);

  AuditQuery q;
  q.limit = 0;
  std::vector<AuditEvent> one = Query(q);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].id, stored.back().id);
  q.limit = -5;
  EXPECT_EQ(Query(q).size(), 1u);
  q.limit = 5000;
  EXPECT_EQ(Query(q).size(), 1000u);
  q.limit = 1000;
  EXPECT_EQ(Query(q).size(), 1000u);
  q.limit = 7;
  EXPECT_EQ(Query(q).size(), 7u);
  AuditQuery default_limit;
  EXPECT_EQ(Query(default_limit).size(), 100u);
}

TEST_P(StoreConformance, PingSucceeds) { EXPECT_TRUE(store_->Ping().ok()); }

// --- the backends ---

std::vector<Backend> Backends() {
  return {
      {"Sqlite",
       [](const Clock& clock, const std::string& dir) {
         SqliteOptions options;
         options.path = dir + "/certgate.db";
         // fsync per commit is not what these tests are about; the SQLite-specific tests and the
         // audit writer tests keep synchronous=FULL.
         options.synchronous_full = false;
         return OpenSqliteStore(options, clock);
       }},
      {"Memory",
       [](const Clock& clock, const std::string&) -> Result<std::unique_ptr<Store>> {
         return std::unique_ptr<Store>(NewMemoryStore(clock));
       }},
  };
}

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(Backends, StoreConformance, ::testing::ValuesIn(Backends()), BackendName);
INSTANTIATE_TEST_SUITE_P(Backends, AuditQueryTest, ::testing::ValuesIn(Backends()), BackendName);

}  // namespace
}  // namespace certgate::store
