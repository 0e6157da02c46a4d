// Clock: the injected source of "now". Validity windows, audit timestamps and cache expiry all
// read time through a Clock so tests can set it.
#pragma once

#include <atomic>
#include <cstdint>

namespace certgate {

// Implementations must be thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  // Microseconds since the Unix epoch.
  virtual int64_t NowMicros() const = 0;
  int64_t NowSeconds() const { return NowMicros() / 1'000'000; }
};

// Wall clock (CLOCK_REALTIME). Thread-safe.
class SystemClock final : public Clock {
 public:
  int64_t NowMicros() const override;
  // Process-wide instance; never destroyed.
  static const SystemClock& Instance();
};

// A clock tests set by hand. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t now_micros = 0) : now_(now_micros) {}
  int64_t NowMicros() const override { return now_.load(std::memory_order_relaxed); }
  void SetMicros(int64_t now) { now_.store(now, std::memory_order_relaxed); }
  void SetSeconds(int64_t now) { SetMicros(now * 1'000'000); }
  void AdvanceMicros(int64_t d) { now_.fetch_add(d, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace certgate
