// AuditRetention against the in-memory store and a fake clock: what a pass deletes, its batches,
// store failures, and the background thread.
#include "server/audit/retention.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "server/common/clock.h"
#include "server/store/memory_store.h"

namespace certgate::audit {
namespace {

constexpr int64_t kDay = 86'400'000'000;

class RetentionTest : public ::testing::Test {
 protected:
  // One row per time, request ids "t<time in days>".
  void AddRowsAtDays(const std::vector<int64_t>& days) {
    std::vector<store::AuditEvent> events;
    for (int64_t d : days) {
      store::AuditEvent e;
      e.time = d * kDay;
      e.kind = "authorize";
      e.request_id = "t" + std::to_string(d);
      events.push_back(e);
    }
    ASSERT_TRUE(store_->AppendAudit(events).ok());
  }
  std::vector<std::string> Remaining() {
    store::AuditQuery q;
    q.limit = 1000;
    Result<std::vector<store::AuditEvent>> rows = store_->QueryAudit(q);
    EXPECT_TRUE(rows.ok());
    std::vector<std::string> out;
    if (rows.ok()) {
      for (const auto& e : *rows) out.push_back(e.request_id);
    }
    return out;
  }

  FakeClock clock_{100 * kDay};
  std::unique_ptr<store::MemoryStore> store_ = store::NewMemoryStore(clock_);
};

TEST_F(RetentionTest, APassDeletesEveryRowOlderThanTheAgeInBatchesAndKeepsTheRest) {
  AddRowsAtDays({1, 2, 3, 4, 5, 6, 7, 69, 71, 99});
  AuditRetention r(*store_, clock_, {30 * kDay, 60'000, 3});  // cut-off: day 70
  Result<int64_t> n = r.RunOnce();
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 8);  // batches of 3, 3, 2
  EXPECT_EQ(Remaining(), (std::vector<std::string>{"t99", "t71"}));
  n = r.RunOnce();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0);
  clock_.AdvanceMicros(2 * kDay);  // cut-off: day 72
  EXPECT_EQ(r.RunOnce().value(), 1);
  EXPECT_EQ(Remaining(), (std::vector<std::string>{"t99"}));
}

TEST_F(RetentionTest, AStoreFailureEndsThePassWithTheErrorAndTheNextPassFinishes) {
  AddRowsAtDays({1, 2, 3, 4});
  AuditRetention r(*store_, clock_, {30 * kDay, 60'000, 1});
  store_->FailNextCalls(1, Status::Unavailable("disk"));
  Result<int64_t> n = r.RunOnce();
  EXPECT_EQ(n.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(Remaining().size(), 4u);
  EXPECT_EQ(r.RunOnce().value(), 4);
  EXPECT_TRUE(Remaining().empty());
}

TEST_F(RetentionTest, ANonPositiveAgeIsRefusedRatherThanDeletingEverything) {
  AddRowsAtDays({1, 99});
  AuditRetention r(*store_, clock_, {0, 60'000, 10});
  EXPECT_FALSE(r.RunOnce().ok());
  EXPECT_EQ(Remaining().size(), 2u);
}

TEST_F(RetentionTest, TheThreadRunsAPassAtStartAndEveryIntervalAndStops) {
  AddRowsAtDays({1});
  AuditRetention r(*store_, clock_, {30 * kDay, 20, 100});
  r.Start();
  auto wait_empty = [&] {
    for (int i = 0; i < 500 && !Remaining().empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return Remaining().empty();
  };
  EXPECT_TRUE(wait_empty()) << "the first pass runs at Start";
  AddRowsAtDays({2});  // old again: the next pass takes it
  EXPECT_TRUE(wait_empty());
  r.Stop();
  r.Stop();  // idempotent
  AddRowsAtDays({3});
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(Remaining().size(), 1u) << "no pass after Stop";
}

}  // namespace
}  // namespace certgate::audit
