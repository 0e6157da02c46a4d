// Admission: one gate every RPC handler passes through. It bounds the number of calls being
// worked on at once (beyond the bound a call fails fast with RESOURCE_EXHAUSTED instead of
// queueing without limit), refuses new calls while the server drains (UNAVAILABLE, so callers
// retry elsewhere), and lets shutdown wait until the calls already admitted have finished.
//
// Thread-safe.
#pragma once

#include <grpcpp/support/status.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace certgate::api {

class Admission {
 public:
  // max_inflight <= 0 means unbounded.
  explicit Admission(int max_inflight) : max_inflight_(max_inflight) {}

  // Held for the duration of one call. `status()` is OK when admitted; otherwise return it.
  class Ticket {
   public:
    Ticket(Ticket&& other) noexcept : owner_(other.owner_), status_(std::move(other.status_)) {
      other.owner_ = nullptr;
    }
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    ~Ticket();
    bool admitted() const { return owner_ != nullptr; }
    const grpc::Status& status() const { return status_; }

   private:
    friend class Admission;
    Ticket(Admission* owner, grpc::Status status) : owner_(owner), status_(std::move(status)) {}
    Admission* owner_;
    grpc::Status status_;
  };

  Ticket Enter();
  // From now on Enter() refuses with UNAVAILABLE.
  void StartDraining();
  bool draining() const { return draining_.load(std::memory_order_acquire); }
  // Blocks until no admitted call is in flight or the deadline passes. True if idle.
  bool WaitIdle(std::chrono::steady_clock::time_point deadline);
  int inflight() const { return inflight_.load(std::memory_order_relaxed); }
  // Calls refused because of the bound, since start (for metrics and tests).
  uint64_t rejected() const { return rejected_.load(std::memory_order_relaxed); }

 private:
  void Leave();

  const int max_inflight_;
  std::atomic<int> inflight_{0};
  std::atomic<bool> draining_{false};
  std::atomic<uint64_t> rejected_{0};
  std::mutex mu_;  // only for WaitIdle's sleep/wake-up
  std::condition_variable idle_cv_;
};

}  // namespace certgate::api
