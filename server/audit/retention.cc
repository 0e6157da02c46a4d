#include "server/audit/retention.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>

namespace certgate::audit {
namespace {

std::shared_ptr<spdlog::logger> Log() {
  std::shared_ptr<spdlog::logger> l = spdlog::get("audit");
  return l ? l : spdlog::default_logger();
}

}  // namespace

AuditRetention::AuditRetention(store::Store& store, const Clock& clock, Options options)
    : store_(store), clock_(clock), options_(options) {}

AuditRetention::~AuditRetention() { Stop(); }

bool AuditRetention::WaitUnlessStopped(int64_t ms) {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stop_; });
}

Result<int64_t> AuditRetention::RunOnce() {
  if (options_.max_age_micros <= 0) return Status::InvalidArgument("max_age must be > 0");
  const int64_t cutoff = clock_.NowMicros() - options_.max_age_micros;
  int64_t total = 0;
  do {
    Result<int64_t> n = store_.DeleteAuditBefore(cutoff, options_.batch);
    if (!n.ok()) return n.status();
    total += *n;
    if (*n < options_.batch) break;
  } while (WaitUnlessStopped(options_.pause_ms));
  return total;
}

void AuditRetention::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void AuditRetention::Loop() {
  do {
    Result<int64_t> n = RunOnce();
    if (!n.ok()) {
      Log()->warn("audit retention: pass failed, retrying in {} ms: {}", options_.interval_ms,
                  n.status().ToString());
    } else if (*n > 0) {
      Log()->info("audit retention: deleted {} rows older than {} s", *n,
                  options_.max_age_micros / 1'000'000);
    }
  } while (WaitUnlessStopped(options_.interval_ms));
}

void AuditRetention::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace certgate::audit
