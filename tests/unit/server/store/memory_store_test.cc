// MemoryStore's fault-injection seam (its Store semantics are covered by the conformance suite).
#include "server/store/memory_store.h"

#include <gtest/gtest.h>

#include "server/common/clock.h"
#include "tests/unit/server/store/store_test_util.h"

namespace certgate::store {
namespace {

using testing::MakeEvent;

TEST(MemoryStore, FailNextCallsFailsExactlyThatManyCallsAndChangesNothing) {
  FakeClock clock(5);
  std::unique_ptr<MemoryStore> store = NewMemoryStore(clock);
  store->FailNextCalls(3, Status::Unavailable("disk on fire"));

  User u;
  u.name = "alice";
  Result<User> first = store->CreateUser(u);
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(first.status().message(), "disk on fire");
  EXPECT_EQ(store->Ping().code(), StatusCode::kUnavailable);
  EXPECT_EQ(store->GetUserByName("alice").status().code(), StatusCode::kUnavailable);

  // The fourth call goes through, and the failed CreateUser left no trace.
  Result<std::optional<User>> none = store->GetUserByName("alice");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_TRUE(store->CreateUser(u).ok());
}

TEST(MemoryStore, InjectedAppendAuditFailureStoresNothingAndAssignsNoIds) {
  FakeClock clock(5);
  std::unique_ptr<MemoryStore> store = NewMemoryStore(clock);
  store->FailNextCalls(1, Status::Internal("commit failed"));
  std::vector<AuditEvent> batch = {MakeEvent("r1"), MakeEvent("r2")};
  EXPECT_EQ(store->AppendAudit(batch).code(), StatusCode::kInternal);
  EXPECT_EQ(batch[0].id, 0);
  EXPECT_EQ(batch[1].id, 0);
  EXPECT_TRUE(store->QueryAudit({})->empty());
  ASSERT_TRUE(store->AppendAudit(batch).ok());
  EXPECT_EQ(batch[0].id, 1);
  EXPECT_EQ(batch[1].id, 2);
}

TEST(MemoryStore, FailNextCallsWithOkStatusOrZeroCountInjectsNothing) {
  FakeClock clock(5);
  std::unique_ptr<MemoryStore> store = NewMemoryStore(clock);
  store->FailNextCalls(5, Status::Ok());
  EXPECT_TRUE(store->Ping().ok());
  store->FailNextCalls(0, Status::Unavailable("x"));
  EXPECT_TRUE(store->Ping().ok());
  store->FailNextCalls(2, Status::Unavailable("x"));
  store->FailNextCalls(1, Status::Internal("y"));  // replaces the earlier injection
  EXPECT_EQ(store->Ping().code(), StatusCode::kInternal);
  EXPECT_TRUE(store->Ping().ok());
}

}  // namespace
}  // namespace certgate::store
