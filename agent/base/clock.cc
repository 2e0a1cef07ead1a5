#include "vitals/clock.h"

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define VITALS_HAVE_TSC 1
#endif

namespace vitals {
namespace {

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class SteadyClock final : public Clock {
 public:
  int64_t NowNanos() const override { return SteadyNanos(); }
};

#ifdef VITALS_HAVE_TSC
// True when the TSC ticks at a constant rate through sleep states and the kernel itself uses it
// as its clocksource (so it is synchronized across CPUs and not emulated).
bool TscUsable() {
  std::ifstream source("/sys/devices/system/clocksource/clocksource0/current_clocksource");
  std::string current;
  if (!(source >> current) || current != "tsc") return false;
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line);
    bool constant = false, nonstop = false;
    std::string w;
    while (words >> w) {
      constant |= w == "constant_tsc";
      nonstop |= w == "nonstop_tsc";
    }
    return constant && nonstop;
  }
  return false;
}

// Converts TSC ticks to nanoseconds with a rate measured against steady_clock over ~5 ms at
// first use (relative error ~1e-5), anchored so the epoch matches steady_clock's.
class TscClock final : public Clock {
 public:
  TscClock() {
    const int64_t t0 = SteadyNanos();
    const uint64_t c0 = __rdtsc();
    int64_t t1;
    uint64_t c1;
    do {
      t1 = SteadyNanos();
      c1 = __rdtsc();
    } while (t1 - t0 < 5'000'000);
    nanos_per_tick_ = static_cast<double>(t1 - t0) / static_cast<double>(c1 - c0);
    base_ticks_ = c1;
    base_nanos_ = t1;
  }
  int64_t NowNanos() const override {
    const int64_t ticks = static_cast<int64_t>(__rdtsc() - base_ticks_);
    return base_nanos_ + static_cast<int64_t>(static_cast<double>(ticks) * nanos_per_tick_);
  }

 private:
  double nanos_per_tick_;
  uint64_t base_ticks_;
  int64_t base_nanos_;
};
#endif

}  // namespace

const Clock& Clock::Steady() {
  static const Clock* clock = new SteadyClock;
  return *clock;
}

const Clock& Clock::Default() {
  static const Clock* clock = []() -> const Clock* {
#ifdef VITALS_HAVE_TSC
    if (TscUsable()) return new TscClock;
#endif
    return &Steady();
  }();
  return *clock;
}

}  // namespace vitals
