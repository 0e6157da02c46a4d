// AuditWriter: group-commit writer. Many request threads call Record() (blocking) or
// RecordAsync() (completion callback); one writer thread collects whatever is queued, appends it
// to the Store in one transaction, and then answers every event of that batch. An event is
// answered only after it is durably committed (or failed), so an answer is never sent for a
// decision whose audit row could be lost. Thread-safe.
//
// Why group commit: with synchronous=FULL every transaction costs an fsync, so one transaction
// per request would cap throughput at the disk's fsync rate. While one batch is being committed,
// new events pile up in the queue and go out together in the next transaction: under load the
// batch size grows by itself and the fsync cost is shared; an idle writer commits a lone event
// at once (no timer, no added latency).
//
// Why RecordAsync: a gRPC callback-API handler must not block gRPC's threads for the length of
// an fsync. It queues the event with a callback and returns; the writer thread runs the callback
// (which finishes the RPC) right after the commit.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "server/common/status.h"
#include "server/store/store.h"

namespace certgate::audit {

struct AuditWriterOptions {
  size_t max_batch = 256;    // events per transaction (0 is treated as 1)
  size_t max_queue = 65536;  // beyond this Record() fails fast with ResourceExhausted
};

// Counters since the writer started (for logs, benchmarks and tests).
struct AuditWriterStats {
  uint64_t events = 0;     // events handed to the store (committed or failed)
  uint64_t batches = 0;    // store transactions
  uint64_t max_batch = 0;  // largest batch so far
};

class AuditWriter {
 public:
  // Receives the outcome of RecordAsync: the row id, or the error Record() would have returned.
  using Done = std::function<void(Result<int64_t>)>;

  // `store` must outlive the writer. Starts the writer thread.
  AuditWriter(store::Store& store, AuditWriterOptions options = {});
  // Flushes everything queued, then stops the thread, then waits until every Record() call that
  // was accepted has returned to its caller (so callers blocked in Record() when destruction
  // begins get their answer instead of touching a destroyed writer). New Record() calls must not
  // start once destruction has begun.
  ~AuditWriter();
  AuditWriter(const AuditWriter&) = delete;
  AuditWriter& operator=(const AuditWriter&) = delete;

  // Blocks until the event is committed. Returns the assigned audit row id, or the store's
  // error (Unavailable etc.; every event of a failed batch gets that error and none of them is
  // stored), or ResourceExhausted when max_queue events are already waiting, or Unavailable
  // after Shutdown(), or InvalidArgument (without queueing) when store::ValidateAuditEvent
  // rejects the event.
  Result<int64_t> Record(store::AuditEvent event);

  // Like Record() without blocking: `done` is called exactly once with the same outcome. When
  // the event is refused up front (invalid, queue full, shut down) `done` runs on the calling
  // thread before RecordAsync returns; otherwise it runs on the writer thread after the batch's
  // transaction, with no lock of the writer held (so it may call RecordAsync again). `done` must
  // be quick: the next batch waits for the callbacks of this one. Events queued before
  // Shutdown() returns have all been answered.
  void RecordAsync(store::AuditEvent event, Done done);

  // Stops accepting new events, commits what is queued, joins the thread. Idempotent; safe to
  // call from several threads (all return once the thread has exited).
  void Shutdown();

  // Events queued and not yet handed to the store (for metrics and tests).
  size_t QueueDepth() const;
  AuditWriterStats Stats() const;

 private:
  // A blocked Record() call. Lives on the caller's stack.
  struct Waiter;
  // One queued event: exactly one of `waiter` (Record) and `done` (RecordAsync) is set.
  struct Entry {
    store::AuditEvent event;
    Waiter* waiter = nullptr;
    Done done;
  };
  // Under mu_: why a new event cannot be queued now (shut down, queue full), else OK.
  Status AcceptLocked() const;
  // Under mu_, after AcceptLocked() said OK: queues the entry and wakes the writer if needed.
  void EnqueueLocked(Entry entry);
  void Run();

  store::Store& store_;
  const AuditWriterOptions options_;

  mutable std::mutex mu_;
  // Guarded by mu_:
  std::condition_variable work_cv_;  // writer waits here for queue_ non-empty or stopping_
  std::vector<Entry> queue_;         // FIFO; events not yet taken by the writer thread
  bool stopping_ = false;            // set once by Shutdown(); Record() then fails fast
  int callers_ = 0;                  // Record() calls that queued an event and have not returned
  std::condition_variable idle_cv_;  // signalled when callers_ drops to 0 after stopping_
  AuditWriterStats stats_;
  // (Each Waiter's done/status/id fields are also guarded by mu_; see audit_writer.cc.)

  std::once_flag join_once_;  // the writer thread is joined exactly once
  std::thread thread_;        // declared last: started after every other member exists
};

}  // namespace certgate::audit
