// AuditWriter: group-commit writer. Many request threads call Record(); one writer thread
// collects whatever is queued, appends it to the Store in one transaction, and wakes every
// waiter. Record() returns only after the event is durably committed (or failed), so an answer
// is never sent for a decision whose audit row could be lost. Thread-safe.
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
  size_t max_batch = 256;        // events per transaction
  size_t max_queue = 65536;      // beyond this Record() fails fast with ResourceExhausted
};

class AuditWriter {
 public:
  // `store` must outlive the writer. Starts the writer thread.
  AuditWriter(store::Store& store, AuditWriterOptions options = {});
  // Flushes everything queued, then stops the thread.
  ~AuditWriter();
  AuditWriter(const AuditWriter&) = delete;
  AuditWriter& operator=(const AuditWriter&) = delete;

  // Blocks until the event is committed. Returns the assigned audit row id, or the store's
  // error (Unavailable etc.), or ResourceExhausted when the queue is full, or Unavailable after
  // Shutdown().
  Result<int64_t> Record(store::AuditEvent event);

  // Stops accepting new events, commits what is queued, joins the thread. Idempotent.
  void Shutdown();

 private:
  struct Pending;
  void Run();

  store::Store& store_;
  const AuditWriterOptions options_;

  std::mutex mu_;
  // Guarded by mu_:
  std::condition_variable work_cv_;
  std::deque<Pending*> queue_;
  bool stopping_ = false;

  std::thread thread_;
};

}  // namespace certgate::audit
