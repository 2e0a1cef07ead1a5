// agent/base/tsc_clock.h: the time-stamp-counter clock behind Clock::Default(), and when to
// trust the TSC.
//
// The TSC is used when it ticks at a constant rate through frequency changes and sleep states
// (`constant_tsc` and `nonstop_tsc`) and the kernel trusts it: its clocksource is `tsc`, or it
// marks the TSC reliable (`tsc_reliable`) or of known frequency (`tsc_known_freq`) while
// keeping it among the available clocksources. Cloud VMs commonly run the `kvm-clock`
// clocksource on such a TSC; reading the TSC there costs about 12 ns against about 30 ns for
// steady_clock (BENCHMARKS.md). Ticks become nanoseconds at a rate measured against
// steady_clock at first use.
//
// Thread-safety: Now() may be called from any thread; the clock is immutable once built.

#ifndef VITALS_AGENT_BASE_TSC_CLOCK_H_
#define VITALS_AGENT_BASE_TSC_CLOCK_H_

#include <cstdint>
#include <memory>

#include "absl/strings/string_view.h"
#include "vitals/clock.h"

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define VITALS_HAVE_TSC 1
#endif

namespace vitals {
namespace internal {

// Whether the TSC can be trusted, from the CPU flags line of /proc/cpuinfo, the current
// clocksource and the available ones (the contents of /sys/devices/system/clocksource/
// clocksource0/{current,available}_clocksource).
bool TscTrusted(absl::string_view cpu_flags, absl::string_view current_clocksource,
                absl::string_view available_clocksources);

// TscTrusted() for this machine.
bool TscTrustedHere();

#ifdef VITALS_HAVE_TSC
class TscClock final : public Clock {
 public:
  // Calibrates against steady_clock for about 5 ms.
  TscClock();
  int64_t NowNanos() const override { return Now(); }
  absl::string_view name() const override { return "tsc"; }
  // NowNanos without the virtual call, for the agent's own hot path.
  int64_t Now() const { return NanosAt(__rdtsc()); }
  // The clock's reading at raw TSC value `tsc` (one read earlier, as a stamp).
  int64_t NanosAt(uint64_t tsc) const {
    const int64_t ticks = static_cast<int64_t>(tsc - base_ticks_);
    return base_nanos_ + static_cast<int64_t>(static_cast<double>(ticks) * nanos_per_tick_);
  }
  double nanos_per_tick() const { return nanos_per_tick_; }

 private:
  double nanos_per_tick_;
  uint64_t base_ticks_;
  int64_t base_nanos_;
};

// `clock` as a TscClock when it is one, else null: callers then skip the virtual call.
inline const TscClock* AsTscClock(const Clock* clock) {
  return clock != nullptr && clock->name() == "tsc" ? static_cast<const TscClock*>(clock) : nullptr;
}
#else
class TscClock;
inline const TscClock* AsTscClock(const Clock*) { return nullptr; }
#endif

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_BASE_TSC_CLOCK_H_
