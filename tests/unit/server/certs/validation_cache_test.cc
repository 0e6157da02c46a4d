// ValidationCache: hits and misses, the bound and LRU order, the validity window, generations.
#include "server/certs/validation_cache.h"

#include <gtest/gtest.h>

#include <thread>

#include "server/certs/validator.h"

namespace certgate::certs {
namespace {

ChainKey Key(unsigned char a, unsigned char b = 0) {
  ChainKey k{};
  k[0] = a;
  k[1] = b;
  k[8] = static_cast<unsigned char>(a * 31 + b);
  return k;
}

std::shared_ptr<const Validation> Value(const std::string& message) {
  auto v = std::make_shared<Validation>();
  v->message = message;
  return v;
}

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

TEST(ValidationCache, MissThenHit) {
  ValidationCache cache(100);
  EXPECT_EQ(cache.Lookup(Key(1), 1, 0), nullptr);
  auto v = Value("one");
  cache.Insert(Key(1), 1, kMin, kMax, v);
  EXPECT_EQ(cache.Lookup(Key(1), 1, 0), v);
  EXPECT_EQ(cache.Lookup(Key(2), 1, 0), nullptr);
  ValidationCacheStats s = cache.Stats();
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 2u);
  EXPECT_EQ(s.insertions, 1u);
  EXPECT_EQ(s.entries, 1u);
}

TEST(ValidationCache, NeverHoldsMoreThanItsBoundAndEvictsTheLeastRecentlyUsed) {
  ValidationCache cache(4, /*shards=*/1);
  for (unsigned char i = 0; i < 4; ++i) cache.Insert(Key(i), 1, kMin, kMax, Value("v"));
  ASSERT_NE(cache.Lookup(Key(0), 1, 0), nullptr);  // 0 is now the most recently used
  cache.Insert(Key(9), 1, kMin, kMax, Value("new"));
  EXPECT_EQ(cache.Stats().entries, 4u);
  EXPECT_EQ(cache.Stats().evictions, 1u);
  EXPECT_NE(cache.Lookup(Key(0), 1, 0), nullptr);
  EXPECT_EQ(cache.Lookup(Key(1), 1, 0), nullptr) << "the least recently used entry goes first";
  EXPECT_NE(cache.Lookup(Key(9), 1, 0), nullptr);
}

TEST(ValidationCache, ShardedCacheStaysWithinItsTotalBound) {
  ValidationCache cache(10, /*shards=*/16);
  EXPECT_LE(cache.max_entries(), 10u);
  for (int i = 0; i < 1000; ++i) {
    cache.Insert(Key(static_cast<unsigned char>(i), static_cast<unsigned char>(i / 256)), 1, kMin,
                 kMax, Value("v"));
  }
  EXPECT_LE(cache.Stats().entries, 10u);
}

TEST(ValidationCache, ZeroEntriesDisablesCaching) {
  ValidationCache cache(0);
  cache.Insert(Key(1), 1, kMin, kMax, Value("v"));
  EXPECT_EQ(cache.Lookup(Key(1), 1, 0), nullptr);
  EXPECT_EQ(cache.Stats().entries, 0u);
}

TEST(ValidationCache, AnEntryIsServedOnlyInsideItsWindow) {
  ValidationCache cache(10);
  cache.Insert(Key(1), 1, 100, 200, Value("v"));
  EXPECT_NE(cache.Lookup(Key(1), 1, 100), nullptr);
  EXPECT_NE(cache.Lookup(Key(1), 1, 200), nullptr) << "the window is inclusive";
  EXPECT_EQ(cache.Lookup(Key(1), 1, 201), nullptr) << "past notAfter: a miss";
  EXPECT_EQ(cache.Lookup(Key(1), 1, 150), nullptr) << "and the stale entry was dropped";
  cache.Insert(Key(2), 1, 100, 200, Value("v"));
  EXPECT_EQ(cache.Lookup(Key(2), 1, 99), nullptr) << "a clock set back is a miss too";
}

TEST(ValidationCache, AnOlderGenerationIsAMiss) {
  ValidationCache cache(10);
  cache.Insert(Key(1), 7, kMin, kMax, Value("v"));
  EXPECT_EQ(cache.Lookup(Key(1), 8, 0), nullptr);
  EXPECT_EQ(cache.Lookup(Key(1), 7, 0), nullptr) << "dropped on the first miss";
}

TEST(ValidationCache, InsertReplacesAndClearEmpties) {
  ValidationCache cache(10);
  cache.Insert(Key(1), 1, kMin, kMax, Value("old"));
  auto v = Value("new");
  cache.Insert(Key(1), 1, kMin, kMax, v);
  EXPECT_EQ(cache.Lookup(Key(1), 1, 0), v);
  EXPECT_EQ(cache.Stats().entries, 1u);
  cache.Clear();
  EXPECT_EQ(cache.Lookup(Key(1), 1, 0), nullptr);
  EXPECT_EQ(cache.Stats().entries, 0u);
}

TEST(ValidationCache, ConcurrentUseKeepsTheBound) {
  ValidationCache cache(64);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&cache, t] {
      for (int i = 0; i < 5000; ++i) {
        const ChainKey k = Key(static_cast<unsigned char>(i % 200), static_cast<unsigned char>(t));
        if (!cache.Lookup(k, 1, 0)) cache.Insert(k, 1, kMin, kMax, Value("v"));
      }
    });
  }
  for (auto& th : threads) th.join();
  ValidationCacheStats s = cache.Stats();
  EXPECT_LE(s.entries, 64u);
  EXPECT_EQ(s.hits + s.misses, 20000u);
}

}  // namespace
}  // namespace certgate::certs
