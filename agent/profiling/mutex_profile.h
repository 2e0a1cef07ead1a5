// agent/profiling/mutex_profile.h: lock contention of absl::Mutex, as Go's mutex profile
// (/debug/pprof/mutex): where a contended mutex was released, how often, and how long its
// waiters waited.
//
// Built from abseil's contention hook (absl::RegisterMutexTracer): abseil calls it in the
// thread that releases a mutex someone waited for, with the cycles the first waiter waited.
// As in Go, the delay is charged to the releasing stack (the code that held the lock too
// long), taken with glibc's backtrace() (DWARF unwinding, so hosts without frame pointers get
// whole stacks). Sampling is Go's SetMutexProfileFraction: with fraction N, on average one
// contention event in N is kept, and the profile scales counts and delays by N.
//
// Off until asked for: the hook is registered the first time a fraction above 0 is set (abseil
// lets a hook be set once per process), and set to 0 again, it returns at its first load. So a
// host that never turns it on pays nothing, and one that turned it off pays one atomic load per
// *contended* release (BENCHMARKS.md, "Mutex profile"). An uncontended Lock/Unlock never calls
// the hook. Only absl::Mutex is seen (std::mutex has no hook).
//
// Bounded: at most 4096 distinct stacks of up to 64 frames; contentions beyond land in a count
// of dropped events that the profile reports.
//
// Thread-safety: process-wide and thread-safe; the hook takes a std::mutex (never an
// absl::Mutex, which would call the hook again).

#ifndef VITALS_AGENT_PROFILING_MUTEX_PROFILE_H_
#define VITALS_AGENT_PROFILING_MUTEX_PROFILE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/profiling/pprof_proto.h"

namespace vitals {
namespace internal {

class MutexProfile {
 public:
  // One releasing stack and what was recorded at it (unscaled, sampled events).
  struct Entry {
    std::vector<uint64_t> pcs;  // leaf first, moved back into their call instructions
    int64_t contentions = 0;
    int64_t delay_nanos = 0;
  };
  struct Snapshot {
    std::vector<Entry> entries;
    int64_t dropped = 0;  // events not kept: the table was full
    int fraction = 0;     // at the time of the snapshot
  };

  static constexpr size_t kMaxStacks = 4096;  // the default bound
  static constexpr int kMaxFrames = 64;

  // Sets the sampling fraction (0 = off, 1 = every event, N = one in N on average) and returns
  // the previous one; negative values leave it as is (Go's convention).
  static int SetFraction(int fraction);
  static int fraction();
  // Whether the hook has been registered with abseil in this process (it never is until a
  // fraction above 0 is first set).
  static bool hooked();

  // Everything recorded since the process started recording.
  static Snapshot Take();
  // `now` minus `before`, stack by stack (for ?seconds=N).
  static Snapshot Delta(const Snapshot& before, const Snapshot& now);

  // The profile as Go writes it: sample types contentions/count and delay/nanoseconds, period
  // type contentions/count, period = fraction, values scaled by the fraction.
  static ProfileData ToProfile(const Snapshot& snapshot, int64_t time_nanos,
                               int64_t duration_nanos);

  // The /debug/pprof/mutex answer: everything since recording began, or what `seconds` > 0 of
  // waiting added (ends early, Cancelled, once `cancelled()` is true); `debug` 0 gzipped
  // profile.proto, 1 Go's legacy text. FailedPrecondition when the profile is off and holds
  // nothing (the reason says how to turn it on).
  static absl::StatusOr<std::string> Serve(int64_t seconds, int debug,
                                           const std::function<bool()>& cancelled);

  // Changes the bound on distinct stacks (for tests); returns the previous one.
  static size_t SetMaxStacks(size_t max_stacks);

  // Records one event as the hook does (for tests and benchmarks: `wait_cycles` in abseil's
  // cycle clock).
  static void Record(int64_t wait_cycles);
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_PROFILING_MUTEX_PROFILE_H_
