// AuditWriter: group-commit writer. Many request threads call Record(); one writer thread
// collects whatever is queued, appends it to the Store in one transaction, and wakes every
// waiter. Record() returns only after the event is durably committed (or failed), so an answer
// is never sent for a decision whose audit row could be lost. Thread-safe.
//
// Why group commit: with synchronous=FULL every transaction costs an fsync, so one transaction
// per request would cap throughput at the disk's fsync rate. While one batch is being committed,
// new events pile up in the queue and go out together in the next transaction: under load the
// batch size grows by itself and the fsync cost is shared; an idle writer commits a lone event
// at once (no timer, no added latency).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "server/common/status.h"
#include "server/store/store.h"

namespace certgate::audit {

struct AuditWriterOptions {
  size_t max_batch = 256;    // events per transaction (0 is treated as 1)
  size_t max_queue = 65536;  // beyond this Record() fails fast with ResourceExhausted
};

class AuditWriter {
 public:
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

  // Stops accepting new events, commits what is queued, joins the thread. Idempotent; safe to
  // call from several threads (all return once the thread has exited).
  void Shutdown();

  // Events queued and not yet handed to the store (for metrics and tests).
  size_t QueueDepth() const;

 private:
  // One Record() call in flight. Lives on the caller's stack; the queue holds a pointer to it.
  struct Pending;
  void Run();

  store::Store& store_;
  const AuditWriterOptions options_;

  mutable std::mutex mu_;
  // Guarded by mu_:
  std::condition_variable work_cv_;  // writer waits here for queue_ non-empty or stopping_
  std::deque<Pending*> queue_;       // FIFO; events not yet taken by the writer thread
  bool stopping_ = false;            // set once by Shutdown(); Record() then fails fast
  int callers_ = 0;                  // Record() calls that queued an event and have not returned
  std::condition_variable idle_cv_;  // signalled when callers_ drops to 0 after stopping_
  // (Each Pending's done/status/id fields are also guarded by mu_; see audit_writer.cc.)

  std::once_flag join_once_;  // the writer thread is joined exactly once
  std::thread thread_;        // declared last: started after every other member exists
};

}  // namespace certgate::audit
