// vitals/clock.h: the monotonic clock that times requests.
//
// The agent reads the clock twice per timed request, so its cost is part of every request's
// cost. `Clock::Default()` reads the CPU's time-stamp counter when it is invariant and the
// kernel trusts it (clocksource `tsc`, or a TSC marked reliable or of known frequency, as on
// cloud VMs that run `kvm-clock`): about 12 ns a read here against about 30 ns for
// `std::chrono::steady_clock::now()` on the same machine. Elsewhere it falls back to
// `steady_clock`; `Options::fast_clock = false` (VITALS_FAST_CLOCK=false) forces
// `steady_clock`. Tests inject their own `Clock` so they never sleep.

#ifndef VITALS_CLOCK_H_
#define VITALS_CLOCK_H_

#include <cstdint>

#include "absl/strings/string_view.h"
#include "vitals/detail/export.h"

namespace vitals {

// A monotonic clock with nanosecond units and an arbitrary epoch.
//
// Thread-safety: implementations must be safe to call from any thread at once.
class VITALS_EXPORT Clock {
 public:
  virtual ~Clock() = default;

  // Nanoseconds since an arbitrary, fixed epoch. Never decreases.
  virtual int64_t NowNanos() const = 0;

  // What the clock reads: "tsc", "steady_clock", or "custom" for clocks of the host's own.
  virtual absl::string_view name() const { return "custom"; }

  // The process-wide fast clock described above. Never destroyed; safe to use at any time,
  // including from static destructors.
  static const Clock& Default();

  // `std::chrono::steady_clock`, for hosts that prefer the kernel's clock over the TSC.
  static const Clock& Steady();
};

}  // namespace vitals

#endif  // VITALS_CLOCK_H_
