// Chain validation against the generated PKI: trust anchors, intermediates from the request or
// from configuration, the forgeries (look-alike, rogue CA of the same name), validity of every
// certificate at the injected time, and the Validator's cache and reload behaviour.
#include "server/certs/validator.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "tests/unit/server/certs/test_helpers.h"

namespace certgate::certs {
namespace {

using testing::ReadTestdata;
using Outcome = Validation::Outcome;

// 2030-01-01T00:00:00Z: every "good" certificate of the test PKI is valid then.
constexpr int64_t kNow = 1893456000;

std::shared_ptr<const TrustStore> Store(std::vector<std::string> anchors,
                                        std::vector<std::string> intermediates = {}) {
  std::vector<std::string> a, i;
  for (const auto& n : anchors) a.push_back(ReadTestdata(n));
  for (const auto& n : intermediates) i.push_back(ReadTestdata(n));
  auto t = TrustStore::FromDer(a, i);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? std::move(t).value() : TrustStore::Empty();
}

std::vector<std::string> Chain(std::initializer_list<const char*> names) {
  std::vector<std::string> out;
  for (const char* n : names) out.push_back(ReadTestdata(n));
  return out;
}

TEST(TrustStore, AcceptsSelfSignedRootsAndCaIntermediates) {
  auto t = Store({"ca.der"}, {"intermediate.der"});
  EXPECT_TRUE(t->has_anchors());
  EXPECT_EQ(t->anchors().size(), 1u);
  EXPECT_EQ(t->intermediates().size(), 1u);
  EXPECT_EQ(t->FindBySubject(t->anchors()[0].subject.Canonical()).size(), 1u);
  EXPECT_FALSE(TrustStore::Empty()->has_anchors());
}

TEST(TrustStore, RefusesAnchorsThatCannotEndAChain) {
  auto not_root = TrustStore::FromDer({ReadTestdata("intermediate.der")}, {});
  ASSERT_FALSE(not_root.ok());
  EXPECT_NE(not_root.status().message().find("intermediate_files"), std::string::npos);
  EXPECT_FALSE(TrustStore::FromDer({ReadTestdata("alice.der")}, {}).ok());
  EXPECT_FALSE(TrustStore::FromDer({ReadTestdata("ca.der")}, {ReadTestdata("alice.der")}).ok())
      << "an intermediate must be a CA";
  EXPECT_FALSE(TrustStore::FromDer({"garbage"}, {}).ok());
}

TEST(TrustStore, LoadsPemAndDerFilesAndNamesAMissingOne) {
  auto t = TrustStore::LoadFiles({::certgate::testing::TestdataPath("ca.pem")},
                                 {::certgate::testing::TestdataPath("intermediate.der")});
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ((*t)->Describe(), "1 trust anchor(s), 1 intermediate(s)");
  auto missing = TrustStore::LoadFiles({"/nonexistent/ca.pem"}, {});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/ca.pem"), std::string::npos);
  EXPECT_FALSE(TrustStore::LoadFiles({::certgate::testing::TestdataPath("crl.pem")}, {}).ok());
}

TEST(VerifyChain, LeafFromTheRootVerifiesAndReportsTheBuiltChain) {
  Validation v = VerifyChain(*Store({"ca.der"}), Chain({"alice.der"}), kNow);
  ASSERT_EQ(v.outcome, Outcome::kOk) << v.message;
  EXPECT_TRUE(v.chain_verified);
  ASSERT_EQ(v.verified_chain.size(), 2u);
  EXPECT_EQ(v.verified_chain[0].serial, testing::ReadLine("alice.serial"));
  EXPECT_EQ(v.verified_chain[0].fingerprint_sha256, testing::ReadLine("alice.fingerprint"));
  EXPECT_EQ(v.verified_chain[0].issuer_canonical, v.verified_chain[1].subject_canonical);
  EXPECT_FALSE(v.verified_chain[0].is_anchor);
  EXPECT_TRUE(v.verified_chain[1].is_anchor);
  // The outcome holds while every certificate of the chain is valid.
  EXPECT_EQ(v.valid_from, v.leaf().not_before);
  EXPECT_EQ(v.valid_until, v.leaf().not_after);
}

TEST(VerifyChain, IntermediateFromTheRequestOrFromConfiguration) {
  EXPECT_EQ(VerifyChain(*Store({"ca.der"}), Chain({"leaf_via_intermediate.der"}), kNow).outcome,
            Outcome::kUntrustedIssuer)
      << "no intermediate anywhere";
  Validation from_request = VerifyChain(
      *Store({"ca.der"}), Chain({"leaf_via_intermediate.der", "intermediate.der"}), kNow);
  ASSERT_EQ(from_request.outcome, Outcome::kOk) << from_request.message;
  EXPECT_EQ(from_request.verified_chain.size(), 3u);
  EXPECT_EQ(VerifyChain(*Store({"ca.der"}, {"intermediate.der"}),
                        Chain({"leaf_via_intermediate.der"}), kNow)
                .outcome,
            Outcome::kOk);
}

TEST(VerifyChain, ForgeriesWithTheEnrolledNamesAreUntrusted) {
  auto trust = Store({"ca.der"});
  Validation lookalike = VerifyChain(*trust, Chain({"lookalike.der"}), kNow);
  EXPECT_EQ(lookalike.outcome, Outcome::kUntrustedIssuer) << lookalike.message;
  Validation rogue = VerifyChain(*trust, Chain({"rogue_alice.der"}), kNow);
  EXPECT_EQ(rogue.outcome, Outcome::kUntrustedIssuer) << rogue.message;
  // Even when the client also sends the rogue CA (whose name is the real root's).
  Validation rogue_chain = VerifyChain(*trust, Chain({"rogue_alice.der", "rogue_ca.der"}), kNow);
  EXPECT_EQ(rogue_chain.outcome, Outcome::kUntrustedIssuer) << rogue_chain.message;
  EXPECT_FALSE(rogue_chain.chain_verified);
  EXPECT_TRUE(rogue_chain.verified_chain.empty());
}

TEST(VerifyChain, ValidityOfEveryCertificateAtTheGivenTime) {
  auto trust = Store({"ca.der"});
  EXPECT_EQ(VerifyChain(*trust, Chain({"expired.der"}), kNow).outcome, Outcome::kExpired);
  EXPECT_EQ(VerifyChain(*trust, Chain({"notyet.der"}), kNow).outcome, Outcome::kNotYetValid);
  // alice is valid 2024-01-01 .. 2099-01-01.
  EXPECT_EQ(VerifyChain(*trust, Chain({"alice.der"}), 1700000000).outcome, Outcome::kNotYetValid);
  EXPECT_EQ(VerifyChain(*trust, Chain({"alice.der"}), 4102444800 + 86400).outcome,
            Outcome::kExpired);
  Validation via_expired = VerifyChain(
      *trust, Chain({"leaf_via_expired_intermediate.der", "expired_intermediate.der"}), kNow);
  EXPECT_EQ(via_expired.outcome, Outcome::kExpired);
  EXPECT_NE(via_expired.message.find("Expired Intermediate"), std::string::npos)
      << via_expired.message;
}

TEST(VerifyChain, UsageIsNotOpensslsBusiness) {
  // serverAuth-only and CA certificates chain fine; the pipeline rejects them by usage.
  auto trust = Store({"ca.der"});
  EXPECT_EQ(VerifyChain(*trust, Chain({"serverauth.der"}), kNow).outcome, Outcome::kOk);
  EXPECT_EQ(VerifyChain(*trust, Chain({"ca_as_client.der"}), kNow).outcome, Outcome::kOk);
}

TEST(VerifyChain, WithoutAnchorsOnlyParses) {
  Validation v = VerifyChain(*TrustStore::Empty(), Chain({"lookalike.der"}), kNow);
  EXPECT_EQ(v.outcome, Outcome::kOk);
  EXPECT_FALSE(v.chain_verified);
  EXPECT_EQ(v.presented.size(), 1u);
  Validation bad = VerifyChain(*TrustStore::Empty(), {ReadTestdata("alice.der"), "junk"}, kNow);
  EXPECT_EQ(bad.outcome, Outcome::kMalformed);
  EXPECT_NE(bad.message.find("chain certificate 1"), std::string::npos) << bad.message;
}

TEST(Validator, SecondValidationOfTheSameChainIsACacheHit) {
  Validator validator(Store({"ca.der"}));
  auto first = validator.Validate(Chain({"alice.der"}), kNow);
  auto second = validator.Validate(Chain({"alice.der"}), kNow + 10);
  EXPECT_EQ(first, second) << "the very same cached object";
  EXPECT_EQ(validator.CacheStats().hits, 1u);
  // The same leaf with another chain is another key.
  auto with_root = validator.Validate(Chain({"alice.der", "ca.der"}), kNow);
  EXPECT_NE(with_root, first);
  EXPECT_EQ(with_root->outcome, Outcome::kOk);
}

TEST(Validator, CachedOutcomeIsNotServedOutsideItsWindow) {
  Validator validator(Store({"ca.der"}));
  auto ok = validator.Validate(Chain({"alice.der"}), kNow);
  ASSERT_EQ(ok->outcome, Outcome::kOk);
  auto later = validator.Validate(Chain({"alice.der"}), ok->valid_until + 1);
  EXPECT_EQ(later->outcome, Outcome::kExpired) << "re-verified, not served from the cache";
  auto before = validator.Validate(Chain({"alice.der"}), ok->valid_from - 1);
  EXPECT_EQ(before->outcome, Outcome::kNotYetValid);
  // Time-bound failures are never cached.
  validator.Validate(Chain({"expired.der"}), kNow);
  const uint64_t hits = validator.CacheStats().hits;
  validator.Validate(Chain({"expired.der"}), kNow);
  EXPECT_EQ(validator.CacheStats().hits, hits);
}

TEST(Validator, NewTrustStoreInvalidatesEveryCachedValidation) {
  Validator validator(Store({"ca.der"}));
  EXPECT_EQ(validator.Validate(Chain({"alice.der"}), kNow)->outcome, Outcome::kOk);
  EXPECT_EQ(validator.Validate(Chain({"rogue_alice.der"}), kNow)->outcome,
            Outcome::kUntrustedIssuer);
  const uint64_t generation = validator.generation();
  validator.SetTrustStore(Store({"rogue_ca.der"}));
  EXPECT_GT(validator.generation(), generation);
  EXPECT_EQ(validator.Validate(Chain({"alice.der"}), kNow)->outcome, Outcome::kUntrustedIssuer);
  EXPECT_EQ(validator.Validate(Chain({"rogue_alice.der"}), kNow)->outcome, Outcome::kOk);
}

TEST(Validator, InvalidateCacheMakesTheNextValidationAMiss) {
  Validator validator(Store({"ca.der"}));
  auto first = validator.Validate(Chain({"alice.der"}), kNow);
  validator.InvalidateCache();
  auto second = validator.Validate(Chain({"alice.der"}), kNow);
  EXPECT_NE(first, second);
  EXPECT_EQ(second->outcome, Outcome::kOk);
}

TEST(Validator, WithoutAnchorsParsesAndCachesUntilTheLeafExpires) {
  Validator validator(nullptr);
  auto v = validator.Validate(Chain({"lookalike.der"}), kNow);
  EXPECT_EQ(v->outcome, Outcome::kOk);
  EXPECT_FALSE(v->chain_verified);
  EXPECT_EQ(validator.Validate(Chain({"lookalike.der"}), kNow), v);
  EXPECT_NE(validator.Validate(Chain({"lookalike.der"}), v->leaf().not_after + 1), v);
}

TEST(Validator, ParseOnlyIsCachedSeparately) {
  Validator validator(Store({"ca.der"}));
  auto parsed = validator.ParseOnly(ReadTestdata("lookalike.der"), kNow);
  EXPECT_EQ(parsed->outcome, Outcome::kOk) << "no chain check for an already verified peer";
  EXPECT_EQ(validator.ParseOnly(ReadTestdata("lookalike.der"), kNow), parsed);
  EXPECT_EQ(validator.Validate(Chain({"lookalike.der"}), kNow)->outcome, Outcome::kUntrustedIssuer);
}

TEST(Validator, ConcurrentValidationsDuringReloads) {
  Validator validator(Store({"ca.der"}));
  auto good = Store({"ca.der"});
  std::atomic<bool> stop{false};
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  const auto alice = Chain({"alice.der"});
  const auto rogue = Chain({"rogue_alice.der"});
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      while (!stop.load()) {
        // Whatever store is current, the rogue certificate never verifies against `good`.
        if (validator.Validate(rogue, kNow)->outcome == Outcome::kOk) wrong.fetch_add(1);
        validator.Validate(alice, kNow);
      }
    });
  }
  for (int i = 0; i < 50; ++i) validator.SetTrustStore(good);
  stop.store(true);
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(validator.Validate(alice, kNow)->outcome, Outcome::kOk);
}

// Not a pass/fail test: measures what the cache saves (printed; see the report in README).
TEST(Validator, MeasuresCacheHitAgainstMiss) {
  const auto chain = Chain({"leaf_via_intermediate.der", "intermediate.der"});
  auto trust = Store({"ca.der"});
  constexpr int kRounds = 300;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kRounds; ++i) {
    Validation v = VerifyChain(*trust, chain, kNow);
    ASSERT_EQ(v.outcome, Outcome::kOk);
  }
  auto t1 = std::chrono::steady_clock::now();
  Validator validator(trust);
  validator.Validate(chain, kNow);
  auto t2 = std::chrono::steady_clock::now();
  for (int i = 0; i < kRounds * 10; ++i) {
    ASSERT_EQ(validator.Validate(chain, kNow)->outcome, Outcome::kOk);
  }
  auto t3 = std::chrono::steady_clock::now();
  const double miss_us = std::chrono::duration<double, std::micro>(t1 - t0).count() / kRounds;
  const double hit_us = std::chrono::duration<double, std::micro>(t3 - t2).count() / (kRounds * 10);
  std::printf("validation of a 3-certificate chain: miss %.1f us, cache hit %.2f us\n", miss_us,
              hit_us);
  EXPECT_LT(hit_us, miss_us);
}

}  // namespace
}  // namespace certgate::certs
