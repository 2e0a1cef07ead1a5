#include "vitals/clock.h"

#include <chrono>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "agent/base/tsc_clock.h"

namespace vitals {
namespace internal {
namespace {

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class SteadyClock final : public Clock {
 public:
  int64_t NowNanos() const override { return SteadyNanos(); }
  absl::string_view name() const override { return "steady_clock"; }
};

std::string ReadFirstLine(const char* path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace

bool TscTrusted(absl::string_view cpu_flags, absl::string_view current_clocksource,
                absl::string_view available_clocksources) {
  bool constant = false, nonstop = false, reliable = false, known_freq = false;
  for (absl::string_view w : absl::StrSplit(cpu_flags, absl::ByAnyChar(" \t"), absl::SkipEmpty())) {
    constant |= w == "constant_tsc";
    nonstop |= w == "nonstop_tsc";
    reliable |= w == "tsc_reliable";
    known_freq |= w == "tsc_known_freq";
  }
  if (!constant || !nonstop) return false;  // not invariant: the rate changes or it stops
  current_clocksource = absl::StripAsciiWhitespace(current_clocksource);
  if (current_clocksource == "tsc") return true;
  // The kernel drops the TSC from the available clocksources when it finds it unstable.
  bool available = false;
  for (absl::string_view c :
       absl::StrSplit(available_clocksources, absl::ByAnyChar(" \t\n"), absl::SkipEmpty())) {
    available |= c == "tsc";
  }
  return available && (reliable || known_freq);
}

bool TscTrustedHere() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line, flags;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("flags", 0) == 0) {
      flags = line;
      break;
    }
  }
  return TscTrusted(
      flags, ReadFirstLine("/sys/devices/system/clocksource/clocksource0/current_clocksource"),
      ReadFirstLine("/sys/devices/system/clocksource/clocksource0/available_clocksource"));
}

#ifdef VITALS_HAVE_TSC
namespace {

// A steady_clock reading and the TSC at the same moment: of a few (steady, tsc, steady) triples,
// the one whose two steady reads are closest, so a preemption between the reads (tens of
// microseconds on a loaded machine) cannot skew the pair.
struct ClockPair {
  int64_t nanos;
  uint64_t ticks;
};
ClockPair ReadClockPair() {
  ClockPair best{0, 0};
  int64_t best_width = INT64_MAX;
  for (int i = 0; i < 16; ++i) {
    const int64_t before = SteadyNanos();
    const uint64_t ticks = __rdtsc();
    const int64_t after = SteadyNanos();
    if (after - before < best_width) {
      best_width = after - before;
      best = ClockPair{before + (after - before) / 2, ticks};
    }
  }
  return best;
}

}  // namespace

TscClock::TscClock() {
  // Converts ticks to nanoseconds with a rate measured against steady_clock over ~5 ms, anchored
  // so the epoch matches steady_clock's. Both ends are bracketed pairs (ReadClockPair), so the
  // rate's error is the brackets' width over 5 ms (~1e-5), even when the thread is preempted.
  const ClockPair start = ReadClockPair();
  while (SteadyNanos() - start.nanos < 5'000'000) {
  }
  const ClockPair end = ReadClockPair();
  nanos_per_tick_ =
      static_cast<double>(end.nanos - start.nanos) / static_cast<double>(end.ticks - start.ticks);
  base_ticks_ = end.ticks;
  base_nanos_ = end.nanos;
}
#endif

}  // namespace internal

const Clock& Clock::Steady() {
  static const Clock* clock = new internal::SteadyClock;
  return *clock;
}

const Clock& Clock::Default() {
  static const Clock* clock = []() -> const Clock* {
#ifdef VITALS_HAVE_TSC
    if (internal::TscTrustedHere()) return new internal::TscClock;
#endif
    return &Steady();
  }();
  return *clock;
}

}  // namespace vitals
