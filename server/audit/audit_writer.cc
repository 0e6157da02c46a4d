// Group-commit audit writer; see audit_writer.h.
#include "server/audit/audit_writer.h"

#include <algorithm>
#include <exception>
#include <iterator>
#include <string>
#include <utility>

namespace certgate::audit {

struct AuditWriter::Waiter {
  // Guarded by AuditWriter::mu_:
  bool done = false;           // the writer has filled status/id
  Status status;               // the batch's outcome
  int64_t id = 0;              // the row id when status is OK
  std::condition_variable cv;  // wakes exactly this caller; notified with mu_ held, because
                               // the caller destroys this Waiter as soon as it sees done
};

AuditWriter::AuditWriter(store::Store& store, AuditWriterOptions options)
    : store_(store), options_(options), thread_([this] { Run(); }) {}

AuditWriter::~AuditWriter() {
  Shutdown();
  // The writer thread has answered every accepted event; wait until those callers have woken
  // and released mu_ before the members they use are destroyed.
  std::unique_lock<std::mutex> lock(mu_);
  idle_cv_.wait(lock, [&] { return callers_ == 0; });
}

Status AuditWriter::AcceptLocked() const {
  if (stopping_) return Status::Unavailable("audit writer is shut down");
  if (queue_.size() >= options_.max_queue) {
    return Status::ResourceExhausted("audit queue is full (" + std::to_string(queue_.size()) +
                                     " events waiting)");
  }
  return Status::Ok();
}

void AuditWriter::EnqueueLocked(Entry entry) {
  const bool was_empty = queue_.empty();
  queue_.push_back(std::move(entry));
  // The writer only sleeps on an empty queue: one wake-up per batch is enough.
  if (was_empty) work_cv_.notify_one();
}

Result<int64_t> AuditWriter::Record(store::AuditEvent event) {
  // Reject a malformed event here, alone, rather than let it fail a whole batch of other callers.
  CERTGATE_RETURN_IF_ERROR(store::ValidateAuditEvent(event));
  Waiter waiter;
  std::unique_lock<std::mutex> lock(mu_);
  CERTGATE_RETURN_IF_ERROR(AcceptLocked());
  EnqueueLocked(Entry{std::move(event), &waiter, nullptr});
  ++callers_;
  waiter.cv.wait(lock, [&] { return waiter.done; });
  if (--callers_ == 0 && stopping_) idle_cv_.notify_all();
  if (!waiter.status.ok()) return waiter.status;
  return waiter.id;
}

void AuditWriter::RecordAsync(store::AuditEvent event, Done done) {
  Status refused = store::ValidateAuditEvent(event);
  if (refused.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    refused = AcceptLocked();
    if (refused.ok()) {
      EnqueueLocked(Entry{std::move(event), nullptr, std::move(done)});
      return;
    }
  }
  done(refused);  // outside the lock: the callback may do anything
}

void AuditWriter::Run() {
  const size_t max_batch = std::max<size_t>(options_.max_batch, 1);
  std::vector<Entry> batch;
  std::vector<store::AuditEvent> events;
  batch.reserve(max_batch);
  events.reserve(max_batch);

  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) break;  // stopping_ and fully drained

    batch.clear();
    if (queue_.size() <= max_batch) {
      batch.swap(queue_);  // the usual case: take everything, no per-entry moves under the lock
    } else {
      std::move(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(max_batch),
                std::back_inserter(batch));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(max_batch));
    }
    stats_.events += batch.size();
    stats_.batches += 1;
    stats_.max_batch = std::max<uint64_t>(stats_.max_batch, batch.size());
    lock.unlock();

    // The store call (an fsync) runs without mu_, so callers keep queueing the next batch.
    events.clear();
    for (Entry& e : batch) events.push_back(std::move(e.event));
    Status status;
    try {
      status = store_.AppendAudit(events);
    } catch (const std::exception& e) {
      // A Store must not throw; if one does (e.g. bad_alloc), fail the batch, don't hang it.
      status = Status::Internal(std::string("audit append threw: ") + e.what());
    }

    // Callbacks first, without the lock (they finish RPCs and may re-enter RecordAsync).
    bool has_waiters = false;
    for (size_t i = 0; i < batch.size(); ++i) {
      Entry& e = batch[i];
      if (e.waiter) {
        has_waiters = true;
        continue;
      }
      if (status.ok()) {
        e.done(events[i].id);
      } else {
        e.done(status);
      }
      e.done = nullptr;  // release what the callback captured now, not at the next batch
    }

    lock.lock();
    if (has_waiters) {
      for (size_t i = 0; i < batch.size(); ++i) {
        Waiter* w = batch[i].waiter;
        if (!w) continue;
        w->status = status;
        w->id = status.ok() ? events[i].id : 0;
        w->done = true;
        w->cv.notify_one();
      }
    }
    batch.clear();  // its buffer goes back to queue_ at the next swap
  }
}

void AuditWriter::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    work_cv_.notify_all();
  }
  // Run() drains the queue before it returns, so every accepted event gets its answer.
  std::call_once(join_once_, [this] {
    if (thread_.joinable()) thread_.join();
  });
}

size_t AuditWriter::QueueDepth() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

AuditWriterStats AuditWriter::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace certgate::audit
