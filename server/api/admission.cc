#include "server/api/admission.h"

namespace certgate::api {

Admission::Ticket::~Ticket() {
  if (owner_) owner_->Leave();
}

Admission::Ticket Admission::Enter() {
  if (draining()) {
    return Ticket(nullptr,
                  grpc::Status(grpc::StatusCode::UNAVAILABLE, "certgate is shutting down"));
  }
  int now = inflight_.fetch_add(1, std::memory_order_acq_rel) + 1;
  if (max_inflight_ > 0 && now > max_inflight_) {
    inflight_.fetch_sub(1, std::memory_order_acq_rel);
    rejected_.fetch_add(1, std::memory_order_relaxed);
    return Ticket(nullptr, grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                        "certgate is overloaded: too many calls in flight"));
  }
  // Re-check after counting ourselves in, so WaitIdle never misses a call admitted
  // concurrently with StartDraining.
  if (draining()) {
    Leave();
    return Ticket(nullptr,
                  grpc::Status(grpc::StatusCode::UNAVAILABLE, "certgate is shutting down"));
  }
  return Ticket(this, grpc::Status::OK);
}

void Admission::Leave() {
  if (inflight_.fetch_sub(1, std::memory_order_acq_rel) == 1 && draining()) {
    std::lock_guard<std::mutex> lock(mu_);
    idle_cv_.notify_all();
  }
}

void Admission::StartDraining() { draining_.store(true, std::memory_order_release); }

bool Admission::WaitIdle(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  // The short timed waits cover a Leave() that raced between our check and our sleep.
  while (inflight_.load(std::memory_order_acquire) > 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    idle_cv_.wait_for(lock, std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace certgate::api
