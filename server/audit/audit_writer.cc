// Group-commit audit writer; see audit_writer.h.
#include "server/audit/audit_writer.h"

#include <algorithm>
#include <exception>
#include <string>
#include <utility>
#include <vector>

namespace certgate::audit {

struct AuditWriter::Pending {
  // Written by Record() before queueing; afterwards read (moved from) only by the writer thread,
  // which owns it until `done` is set.
  store::AuditEvent event;

  // Guarded by AuditWriter::mu_:
  bool done = false;           // the writer has filled status/id
  Status status;               // the batch's outcome
  int64_t id = 0;              // the row id when status is OK
  std::condition_variable cv;  // wakes exactly this caller; notified with mu_ held, because
                               // the caller destroys this Pending as soon as it sees done
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

Result<int64_t> AuditWriter::Record(store::AuditEvent event) {
  // Reject a malformed event here, alone, rather than let it fail a whole batch of other callers.
  CERTGATE_RETURN_IF_ERROR(store::ValidateAuditEvent(event));
  Pending pending;
  pending.event = std::move(event);

  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_) return Status::Unavailable("audit writer is shut down");
  if (queue_.size() >= options_.max_queue) {
    return Status::ResourceExhausted("audit queue is full (" + std::to_string(queue_.size()) +
                                     " events waiting)");
  }
  queue_.push_back(&pending);
  ++callers_;
  work_cv_.notify_one();
  pending.cv.wait(lock, [&] { return pending.done; });
  if (--callers_ == 0 && stopping_) idle_cv_.notify_all();
  if (!pending.status.ok()) return pending.status;
  return pending.id;
}

void AuditWriter::Run() {
  const size_t max_batch = std::max<size_t>(options_.max_batch, 1);
  std::vector<Pending*> batch;
  std::vector<store::AuditEvent> events;
  batch.reserve(max_batch);
  events.reserve(max_batch);

  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) break;  // stopping_ and fully drained

    batch.clear();
    while (!queue_.empty() && batch.size() < max_batch) {
      batch.push_back(queue_.front());
      queue_.pop_front();
    }
    lock.unlock();

    // The store call (an fsync) runs without mu_, so callers keep queueing the next batch.
    events.clear();
    for (Pending* p : batch) events.push_back(std::move(p->event));
    Status status;
    try {
      status = store_.AppendAudit(events);
    } catch (const std::exception& e) {
      // A Store must not throw; if one does (e.g. bad_alloc), fail the batch, don't hang it.
      status = Status::Internal(std::string("audit append threw: ") + e.what());
    }

    lock.lock();
    for (size_t i = 0; i < batch.size(); ++i) {
      Pending* p = batch[i];
      p->status = status;
      p->id = status.ok() ? events[i].id : 0;
      p->done = true;
      p->cv.notify_one();
    }
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

}  // namespace certgate::audit
