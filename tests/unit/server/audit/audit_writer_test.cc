// AuditWriter: group commit, durability before the answer, failure propagation, back-pressure,
// shutdown. Most tests use MemoryStore behind a CountingStore that can hold a commit "in flight"
// so the batching is deterministic; one test measures throughput against real SQLite.
#include "server/audit/audit_writer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "server/common/clock.h"
#include "server/store/memory_store.h"
#include "server/store/sqlite_store.h"
#include "tests/support/testdata.h"

namespace certgate::audit {
namespace {

using store::AuditEvent;
using store::Store;

// Delegates to another Store, counting AppendAudit calls and their sizes. Can hold AppendAudit
// calls at a gate (to keep a commit "in flight") and add a delay (to imitate an fsync).
// Thread-safe.
class CountingStore final : public Store {
 public:
  explicit CountingStore(Store& inner) : inner_(inner) {}

  void HoldAppends() {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = true;
  }
  void ReleaseAppends() {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = false;
    cv_.notify_all();
  }
  // Blocks until an AppendAudit call is waiting at the gate.
  void WaitUntilHeld() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return waiting_ > 0; });
  }
  void SetDelay(std::chrono::microseconds d) {
    std::lock_guard<std::mutex> lock(mu_);
    delay_ = d;
  }
  std::vector<size_t> batch_sizes() {
    std::lock_guard<std::mutex> lock(mu_);
    return batch_sizes_;
  }

  Status AppendAudit(std::vector<AuditEvent>& events) override {
    std::chrono::microseconds delay;
    {
      std::unique_lock<std::mutex> lock(mu_);
      batch_sizes_.push_back(events.size());
      ++waiting_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return !held_; });
      --waiting_;
      delay = delay_;
    }
    if (delay.count() > 0) std::this_thread::sleep_for(delay);
    return inner_.AppendAudit(events);
  }

  Result<store::User> CreateUser(const store::User& u) override { return inner_.CreateUser(u); }
  Result<std::optional<store::User>> GetUser(int64_t id) override { return inner_.GetUser(id); }
  Result<std::optional<store::User>> GetUserByName(const std::string& n) override {
    return inner_.GetUserByName(n);
  }
  Result<std::vector<store::User>> ListUsers() override { return inner_.ListUsers(); }
  Status SetUserDisabled(int64_t id, bool d) override { return inner_.SetUserDisabled(id, d); }
  Status SetUserRoles(int64_t id, const std::vector<std::string>& r) override {
    return inner_.SetUserRoles(id, r);
  }
  Result<store::EnrolledCertificate> EnrollCertificate(
      const store::EnrolledCertificate& c) override {
    return inner_.EnrollCertificate(c);
  }
  Result<std::optional<store::EnrolledCertificate>> FindCertificateByFingerprint(
      const std::string& fp) override {
    return inner_.FindCertificateByFingerprint(fp);
  }
  Result<std::vector<store::EnrolledCertificate>> FindCertificatesBySubjectSerial(
      const std::string& s, const std::string& n) override {
    return inner_.FindCertificatesBySubjectSerial(s, n);
  }
  Result<std::optional<store::EnrolledCertificate>> FindCertificateByIssuerSerial(
      const std::string& i, const std::string& n) override {
    return inner_.FindCertificateByIssuerSerial(i, n);
  }
  Result<std::vector<store::EnrolledCertificate>> FindCertificatesBySpki(
      const std::string& k) override {
    return inner_.FindCertificatesBySpki(k);
  }
  Result<std::vector<store::EnrolledCertificate>> ListCertificates(std::optional<int64_t> u,
                                                                   int64_t a, int l) override {
    return inner_.ListCertificates(u, a, l);
  }
  Result<std::optional<store::EnrolledCertificate>> GetCertificate(int64_t i) override {
    return inner_.GetCertificate(i);
  }
  Status AddRevocation(const store::Revocation& r) override { return inner_.AddRevocation(r); }
  Status ReleaseHold(const std::string& i, const std::string& s) override {
    return inner_.ReleaseHold(i, s);
  }
  Result<std::optional<store::Revocation>> FindRevocation(const std::string& f,
                                                          const std::string& i,
                                                          const std::string& s) override {
    return inner_.FindRevocation(f, i, s);
  }
  Result<store::CrlInfo> ImportCrl(const store::CrlInfo& c,
                                   const std::vector<store::CrlEntry>& e) override {
    return inner_.ImportCrl(c, e);
  }
  Result<std::vector<store::CrlInfo>> ListCrls() override { return inner_.ListCrls(); }
  Result<std::optional<store::CrlInfo>> GetCrlInfo(const std::string& i) override {
    return inner_.GetCrlInfo(i);
  }
  Result<std::optional<store::CrlEntry>> FindCrlEntry(const std::string& i,
                                                      const std::string& s) override {
    return inner_.FindCrlEntry(i, s);
  }
  Result<std::vector<AuditEvent>> QueryAudit(const store::AuditQuery& q) override {
    return inner_.QueryAudit(q);
  }
  Result<int64_t> DeleteAuditBefore(int64_t before, int limit) override {
    return inner_.DeleteAuditBefore(before, limit);
  }
  Status Ping() override { return inner_.Ping(); }

 private:
  Store& inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_:
  bool held_ = false;
  int waiting_ = 0;
  std::chrono::microseconds delay_{0};
  std::vector<size_t> batch_sizes_;
};

AuditEvent Event(const std::string& request_id) {
  AuditEvent e;
  e.time = 42;
  e.kind = "authorize";
  e.request_id = request_id;
  e.caller = "test";
  e.decision = store::Decision::kDeny;
  e.reason = Reason::kCertificateRevoked;
  return e;
}

// Polls `pred` (e.g. a queue depth) until true or 10 s pass. Returns pred().
template <typename Pred>
bool Eventually(Pred pred) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!pred() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return pred();
}

// Every audit row in the store, oldest first.
std::vector<AuditEvent> AllRows(Store& s) {
  std::vector<AuditEvent> out;
  store::AuditQuery q;
  q.after_id = 0;
  q.limit = 1000;
  while (true) {
    Result<std::vector<AuditEvent>> page = s.QueryAudit(q);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    if (!page.ok() || page->empty()) break;
    out.insert(out.end(), page->begin(), page->end());
    q.after_id = page->back().id;
  }
  return out;
}

class AuditWriterTest : public ::testing::Test {
 protected:
  FakeClock clock_{1'000};
  std::unique_ptr<store::MemoryStore> memory_ = store::NewMemoryStore(clock_);
  CountingStore counting_{*memory_};
};

TEST_F(AuditWriterTest, RecordReturnsTheCommittedRowId) {
  AuditWriter writer(counting_);
  Result<int64_t> id = writer.Record(Event("req-1"));
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  // Durable before the answer: the row is already in the store when Record returns.
  std::vector<AuditEvent> rows = AllRows(*memory_);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].id, *id);
  EXPECT_EQ(rows[0].request_id, "req-1");
  EXPECT_EQ(rows[0].reason, Reason::kCertificateRevoked);
}

TEST_F(AuditWriterTest, ManyThreadsGetDistinctIdsAndEveryRowIsStored) {
  counting_.SetDelay(std::chrono::microseconds(300));  // an fsync-like commit cost
  AuditWriter writer(counting_);
  constexpr int kThreads = 16;
  constexpr int kPerThread = 100;
  std::vector<std::vector<int64_t>> ids(kThreads);
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        Result<int64_t> id = writer.Record(Event(std::to_string(t) + "/" + std::to_string(i)));
        if (id.ok()) {
          ids[t].push_back(*id);
        } else {
          errors.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(errors.load(), 0);

  std::set<int64_t> distinct;
  for (const auto& v : ids) distinct.insert(v.begin(), v.end());
  EXPECT_EQ(distinct.size(), size_t{kThreads * kPerThread});

  std::vector<AuditEvent> rows = AllRows(*memory_);
  ASSERT_EQ(rows.size(), size_t{kThreads * kPerThread});
  std::set<std::string> request_ids;
  for (const AuditEvent& row : rows) {
    EXPECT_EQ(distinct.count(row.id), 1u) << "row " << row.id << " was never returned";
    request_ids.insert(row.request_id);
  }
  EXPECT_EQ(request_ids.size(), size_t{kThreads * kPerThread});

  // Group commit happened: far fewer transactions than events.
  std::vector<size_t> batches = counting_.batch_sizes();
  EXPECT_LT(batches.size(), size_t{kThreads * kPerThread} / 2);
  size_t total = 0;
  for (size_t b : batches) total += b;
  EXPECT_EQ(total, size_t{kThreads * kPerThread});
  std::printf("[ info ] %d events in %zu AppendAudit calls (%.1f events per commit)\n",
              kThreads * kPerThread, batches.size(),
              static_cast<double>(total) / static_cast<double>(batches.size()));
}

// Starts `n` threads that each Record one event; returns them (join later). Results land in
// `results` (pre-sized).
std::vector<std::thread> RecordInThreads(AuditWriter& writer, int first, int n,
                                         std::vector<Result<int64_t>>& results) {
  std::vector<std::thread> threads;
  for (int i = first; i < first + n; ++i) {
    threads.emplace_back(
        [&writer, &results, i] { results[i] = writer.Record(Event("r" + std::to_string(i))); });
  }
  return threads;
}

TEST_F(AuditWriterTest, EventsQueuedDuringACommitGoOutTogetherInTheNextOne) {
  AuditWriter writer(counting_);
  std::vector<Result<int64_t>> results(11, Status::Internal("not run"));
  counting_.HoldAppends();
  std::vector<std::thread> threads = RecordInThreads(writer, 0, 1, results);
  counting_.WaitUntilHeld();  // event 0 is being committed
  std::vector<std::thread> more = RecordInThreads(writer, 1, 10, results);
  ASSERT_TRUE(Eventually([&] { return writer.QueueDepth() == 10; }));
  counting_.ReleaseAppends();
  for (std::thread& t : threads) t.join();
  for (std::thread& t : more) t.join();

  EXPECT_EQ(counting_.batch_sizes(), (std::vector<size_t>{1, 10}));
  std::set<int64_t> ids;
  for (const Result<int64_t>& r : results) {
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ids.insert(*r);
  }
  EXPECT_EQ(ids.size(), 11u);
}

TEST_F(AuditWriterTest, BatchesNeverExceedMaxBatch) {
  AuditWriterOptions options;
  options.max_batch = 4;
  AuditWriter writer(counting_, options);
  std::vector<Result<int64_t>> results(11, Status::Internal("not run"));
  counting_.HoldAppends();
  std::vector<std::thread> threads = RecordInThreads(writer, 0, 1, results);
  counting_.WaitUntilHeld();
  std::vector<std::thread> more = RecordInThreads(writer, 1, 10, results);
  ASSERT_TRUE(Eventually([&] { return writer.QueueDepth() == 10; }));
  counting_.ReleaseAppends();
  for (std::thread& t : threads) t.join();
  for (std::thread& t : more) t.join();
  EXPECT_EQ(counting_.batch_sizes(), (std::vector<size_t>{1, 4, 4, 2}));
  for (const Result<int64_t>& r : results) EXPECT_TRUE(r.ok()) << r.status().ToString();
}

TEST_F(AuditWriterTest, AFailingCommitFailsEveryEventInItAndNoneGetsAnId) {
  AuditWriter writer(counting_);
  std::vector<Result<int64_t>> results(6, Status::Internal("not run"));
  memory_->FailNextCalls(2, Status::Unavailable("database is locked"));
  counting_.HoldAppends();
  std::vector<std::thread> threads = RecordInThreads(writer, 0, 1, results);
  counting_.WaitUntilHeld();
  std::vector<std::thread> more = RecordInThreads(writer, 1, 5, results);
  ASSERT_TRUE(Eventually([&] { return writer.QueueDepth() == 5; }));
  counting_.ReleaseAppends();
  for (std::thread& t : threads) t.join();
  for (std::thread& t : more) t.join();

  EXPECT_EQ(counting_.batch_sizes(), (std::vector<size_t>{1, 5}));
  for (const Result<int64_t>& r : results) {
    ASSERT_FALSE(r.ok()) << "got id " << r.value();
    EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
    EXPECT_EQ(r.status().message(), "database is locked");
  }
  EXPECT_TRUE(AllRows(*memory_).empty());

  // The writer keeps working once the store recovers.
  Result<int64_t> later = writer.Record(Event("later"));
  ASSERT_TRUE(later.ok()) << later.status().ToString();
  EXPECT_EQ(AllRows(*memory_).size(), 1u);
}

TEST_F(AuditWriterTest, AFullQueueIsResourceExhaustedImmediately) {
  AuditWriterOptions options;
  options.max_queue = 3;
  AuditWriter writer(counting_, options);
  std::vector<Result<int64_t>> results(4, Status::Internal("not run"));
  counting_.HoldAppends();
  std::vector<std::thread> threads = RecordInThreads(writer, 0, 1, results);
  counting_.WaitUntilHeld();  // one in flight, not counted against the queue
  std::vector<std::thread> more = RecordInThreads(writer, 1, 3, results);
  ASSERT_TRUE(Eventually([&] { return writer.QueueDepth() == 3; }));

  // On this thread, while the store is still held: must not block.
  Result<int64_t> rejected = writer.Record(Event("one too many"));
  ASSERT_FALSE(rejected.ok());
  EXPECT_EQ(rejected.status().code(), StatusCode::kResourceExhausted);

  counting_.ReleaseAppends();
  for (std::thread& t : threads) t.join();
  for (std::thread& t : more) t.join();
  for (const Result<int64_t>& r : results) EXPECT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(AllRows(*memory_).size(), 4u) << "the rejected event was not stored";
}

TEST_F(AuditWriterTest, ShutdownCommitsQueuedEventsThenRefusesNewOnes) {
  AuditWriter writer(counting_);
  std::vector<Result<int64_t>> results(6, Status::Internal("not run"));
  counting_.HoldAppends();
  std::vector<std::thread> threads = RecordInThreads(writer, 0, 1, results);
  counting_.WaitUntilHeld();
  std::vector<std::thread> more = RecordInThreads(writer, 1, 5, results);
  ASSERT_TRUE(Eventually([&] { return writer.QueueDepth() == 5; }));

  std::thread shutdown([&] { writer.Shutdown(); });
  // Shutdown stops intake first; once it has, a new Record fails fast (it cannot be queued).
  // Give the shutdown thread a moment to get there, then let the store proceed. Correctness does
  // not depend on this sleep; only whether the queued events are drained by Shutdown or earlier.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  counting_.ReleaseAppends();
  shutdown.join();
  for (std::thread& t : threads) t.join();
  for (std::thread& t : more) t.join();

  for (const Result<int64_t>& r : results) EXPECT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(AllRows(*memory_).size(), 6u);
  Result<int64_t> late = writer.Record(Event("late"));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().code(), StatusCode::kUnavailable);
  writer.Shutdown();  // idempotent
  EXPECT_EQ(AllRows(*memory_).size(), 6u);
}

TEST_F(AuditWriterTest, DestructorCommitsQueuedEventsAndAnswersEveryWaitingCaller) {
  auto writer = std::make_unique<AuditWriter>(counting_);
  std::vector<Result<int64_t>> results(6, Status::Internal("not run"));
  counting_.HoldAppends();
  std::vector<std::thread> threads = RecordInThreads(*writer, 0, 1, results);
  counting_.WaitUntilHeld();
  std::vector<std::thread> more = RecordInThreads(*writer, 1, 5, results);
  ASSERT_TRUE(Eventually([&] { return writer->QueueDepth() == 5; }));

  std::thread destroy([&] { writer.reset(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  counting_.ReleaseAppends();
  destroy.join();  // returns only after every waiting caller has its answer
  for (std::thread& t : threads) t.join();
  for (std::thread& t : more) t.join();
  for (const Result<int64_t>& r : results) EXPECT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(AllRows(*memory_).size(), 6u);
}

TEST_F(AuditWriterTest, AnInvalidEventIsRejectedAloneWithoutReachingTheStore) {
  AuditWriter writer(counting_);
  AuditEvent bad = Event("bad");
  bad.decision = static_cast<store::Decision>(9);
  Result<int64_t> r = writer.Record(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(counting_.batch_sizes().empty());
  EXPECT_TRUE(writer.Record(Event("good")).ok());
}

TEST_F(AuditWriterTest, ConcurrentShutdownsAreSafe) {
  AuditWriter writer(counting_);
  ASSERT_TRUE(writer.Record(Event("one")).ok());
  std::thread a([&] { writer.Shutdown(); });
  std::thread b([&] { writer.Shutdown(); });
  a.join();
  b.join();
  EXPECT_EQ(writer.Record(Event("two")).status().code(), StatusCode::kUnavailable);
}

// Real SQLite with synchronous=FULL: every commit is an fsync, which is what group commit is for.
// Prints the measured rate; asserts only correctness and that batching happened.
// RecordAsync: the callback API's path (no caller thread waits for the commit).

// Collects RecordAsync outcomes; thread-safe.
struct AsyncResults {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Result<int64_t>> results;
  std::vector<std::thread::id> threads;

  AuditWriter::Done Callback() {
    return [this](Result<int64_t> r) {
      std::lock_guard<std::mutex> lock(mu);
      results.push_back(std::move(r));
      threads.push_back(std::this_thread::get_id());
      cv.notify_all();
    };
  }
  bool WaitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(10), [&] { return results.size() >= n; });
  }
};

TEST_F(AuditWriterTest, RecordAsyncCallsBackOnTheWriterThreadAfterTheCommit) {
  AuditWriter writer(counting_);
  AsyncResults got;
  counting_.HoldAppends();
  writer.RecordAsync(Event("async-1"), got.Callback());
  counting_.WaitUntilHeld();
  {
    std::lock_guard<std::mutex> lock(got.mu);
    EXPECT_TRUE(got.results.empty()) << "answered before the commit";
  }
  counting_.ReleaseAppends();
  ASSERT_TRUE(got.WaitFor(1));
  ASSERT_TRUE(got.results[0].ok()) << got.results[0].status().ToString();
  EXPECT_NE(got.threads[0], std::this_thread::get_id());
  std::vector<AuditEvent> rows = AllRows(*memory_);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].id, *got.results[0]);
  EXPECT_EQ(rows[0].request_id, "async-1");
}

TEST_F(AuditWriterTest, RecordAsyncAndRecordShareBatchesAndFailuresReachTheCallback) {
  AuditWriter writer(counting_);
  AsyncResults got;
  memory_->FailNextCalls(1, Status::Unavailable("disk full"));  // the first batch fails
  counting_.HoldAppends();
  writer.RecordAsync(Event("first"), got.Callback());
  counting_.WaitUntilHeld();
  // Let the first batch through only once the second one is fully queued.
  writer.RecordAsync(Event("a1"), got.Callback());
  std::vector<Result<int64_t>> blocking(1, Status::Internal("not run"));
  std::vector<std::thread> threads = RecordInThreads(writer, 0, 1, blocking);
  writer.RecordAsync(Event("a2"), got.Callback());
  ASSERT_TRUE(Eventually([&] { return writer.QueueDepth() == 3; }));
  counting_.ReleaseAppends();
  for (std::thread& t : threads) t.join();
  ASSERT_TRUE(got.WaitFor(3));

  EXPECT_EQ(counting_.batch_sizes(), (std::vector<size_t>{1, 3}));
  ASSERT_FALSE(got.results[0].ok());
  EXPECT_EQ(got.results[0].status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(got.results[0].status().message(), "disk full");
  for (size_t i = 1; i < 3; ++i) EXPECT_TRUE(got.results[i].ok()) << i;
  EXPECT_TRUE(blocking[0].ok()) << blocking[0].status().ToString();
  EXPECT_EQ(AllRows(*memory_).size(), 3u);
  AuditWriterStats stats = writer.Stats();
  EXPECT_EQ(stats.events, 4u);
  EXPECT_EQ(stats.batches, 2u);
  EXPECT_EQ(stats.max_batch, 3u);
}

TEST_F(AuditWriterTest, RecordAsyncRefusalsAreAnsweredOnTheCallersThread) {
  AuditWriterOptions options;
  options.max_queue = 1;
  AuditWriter writer(counting_, options);
  AsyncResults got;

  AuditEvent invalid = Event("bad");
  invalid.reason = static_cast<Reason>(999);
  writer.RecordAsync(invalid, got.Callback());
  ASSERT_EQ(got.results.size(), 1u) << "an invalid event is refused before RecordAsync returns";
  EXPECT_EQ(got.results[0].status().code(), StatusCode::kInvalidArgument);

  counting_.HoldAppends();
  writer.RecordAsync(Event("in flight"), got.Callback());
  counting_.WaitUntilHeld();
  writer.RecordAsync(Event("queued"), got.Callback());
  writer.RecordAsync(Event("one too many"), got.Callback());
  ASSERT_EQ(got.results.size(), 2u);
  EXPECT_EQ(got.results[1].status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(got.threads[1], std::this_thread::get_id());
  counting_.ReleaseAppends();
  ASSERT_TRUE(got.WaitFor(4));

  writer.Shutdown();
  writer.RecordAsync(Event("late"), got.Callback());
  ASSERT_EQ(got.results.size(), 5u);
  EXPECT_EQ(got.results[4].status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(AllRows(*memory_).size(), 2u);
}

TEST_F(AuditWriterTest, ACallbackMayRecordAgain) {
  AuditWriter writer(counting_);
  AsyncResults got;
  writer.RecordAsync(Event("outer"), [&](Result<int64_t> r) {
    ASSERT_TRUE(r.ok());
    writer.RecordAsync(Event("inner"), got.Callback());  // from the writer thread, no deadlock
  });
  ASSERT_TRUE(got.WaitFor(1));
  EXPECT_TRUE(got.results[0].ok());
  EXPECT_EQ(AllRows(*memory_).size(), 2u);
}

TEST_F(AuditWriterTest, ShutdownAnswersEveryQueuedRecordAsync) {
  AsyncResults got;
  {
    AuditWriter writer(counting_);
    counting_.SetDelay(std::chrono::microseconds(200));
    for (int i = 0; i < 50; ++i) writer.RecordAsync(Event("e" + std::to_string(i)), got.Callback());
    writer.Shutdown();
    std::lock_guard<std::mutex> lock(got.mu);
    EXPECT_EQ(got.results.size(), 50u)
        << "every accepted event answered by the time Shutdown returns";
  }
  for (const Result<int64_t>& r : got.results) EXPECT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(AllRows(*memory_).size(), 50u);
}

TEST(AuditWriterSqlite, GroupCommitThroughputWithManyThreads) {
  std::string dir = certgate::testing::MakeTempDir();
  FakeClock clock(1);
  store::SqliteOptions options;
  options.path = dir + "/audit.db";
  options.synchronous_full = true;
  Result<std::unique_ptr<Store>> sqlite = store::OpenSqliteStore(options, clock);
  ASSERT_TRUE(sqlite.ok()) << sqlite.status().ToString();
  CountingStore counting(**sqlite);

  constexpr int kThreads = 32;
  constexpr int kPerThread = 250;
  std::atomic<int> errors{0};
  auto start = std::chrono::steady_clock::now();
  {
    AuditWriter writer(counting);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          if (!writer.Record(Event(std::to_string(t) + "/" + std::to_string(i))).ok()) {
            errors.fetch_add(1);
          }
        }
      });
    }
    for (std::thread& t : threads) t.join();
  }
  double grouped_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(errors.load(), 0);
  size_t grouped_commits = counting.batch_sizes().size();
  EXPECT_EQ(AllRows(**sqlite).size(), size_t{kThreads * kPerThread});
  EXPECT_LT(grouped_commits, size_t{kThreads * kPerThread} / 2);

  // Baseline: one transaction per event (max_batch = 1), fewer events.
  constexpr int kBaseline = 300;
  start = std::chrono::steady_clock::now();
  {
    AuditWriterOptions one;
    one.max_batch = 1;
    AuditWriter writer(**sqlite, one);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < kBaseline / 4; ++i) {
          if (!writer.Record(Event("baseline")).ok()) errors.fetch_add(1);
        }
      });
    }
    for (std::thread& t : threads) t.join();
  }
  double single_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(errors.load(), 0);

  std::printf(
      "[ info ] group commit: %d events from %d threads in %.3f s = %.0f events/s, %zu commits "
      "(%.1f events/commit); one commit per event: %d events in %.3f s = %.0f events/s\n",
      kThreads * kPerThread, kThreads, grouped_s, kThreads * kPerThread / grouped_s,
      grouped_commits, static_cast<double>(kThreads * kPerThread) / grouped_commits, kBaseline,
      single_s, kBaseline / single_s);
  sqlite->reset();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace certgate::audit
