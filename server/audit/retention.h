// Audit retention: a background thread that deletes audit rows older than the configured age, in
// short batches, so the database (and the disk under it) stops growing with the traffic.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "server/common/clock.h"
#include "server/common/status.h"
#include "server/store/store.h"

namespace certgate::audit {

class AuditRetention {
 public:
  struct Options {
    int64_t max_age_micros = 0;    // rows with time < now - max_age are deleted; must be > 0
    int64_t interval_ms = 60'000;  // how often a pass runs (the first at Start)
    int batch = 1'000;             // rows per delete transaction
    int pause_ms = 5;              // between batches: the audit writer's commits get the lock
  };
  AuditRetention(store::Store& store, const Clock& clock, Options options);
  ~AuditRetention();  // Stop()
  AuditRetention(const AuditRetention&) = delete;
  AuditRetention& operator=(const AuditRetention&) = delete;

  // One pass: deletes batches until none is left older than the cut-off (or Stop() is called).
  // Returns the rows deleted; a store error ends the pass (the next one tries again).
  Result<int64_t> RunOnce();
  // Runs a pass now and then every interval on a thread of its own; errors are logged.
  void Start();
  // Ends the thread (a pass stops between batches). Idempotent.
  void Stop();

 private:
  // Waits `ms` or until Stop(); false if stopping.
  bool WaitUnlessStopped(int64_t ms);
  void Loop();

  store::Store& store_;
  const Clock& clock_;
  const Options options_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

}  // namespace certgate::audit
