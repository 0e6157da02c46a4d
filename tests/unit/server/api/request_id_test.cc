#include "server/api/request_id.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <thread>

namespace certgate::api {
namespace {

TEST(NewRequestId, Is24LowercaseHexAndUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = NewRequestId();
    ASSERT_EQ(id.size(), 24u) << id;
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
    EXPECT_TRUE(seen.insert(id).second) << "duplicate " << id;
  }
}

TEST(NewRequestId, StartsWithTheMillisecondsSoLaterIdsSortAfterEarlierOnes) {
  const auto millis = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const long long before = millis();
  const std::string a = NewRequestId();
  const long long after = millis();
  const long long stamped = std::stoll(a.substr(0, 12), nullptr, 16);
  EXPECT_GE(stamped, before);
  EXPECT_LE(stamped, after);
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_LT(a, NewRequestId());
}

}  // namespace
}  // namespace certgate::api
