// agent/base/log_throttle.h: the one helper that throttles repeated log lines per source.
//
// Every agent line goes through the agent's RateLimitedLog (one budget for the whole agent). A
// LogThrottle adds, per key, "at most one line per `interval`": a source that fails every
// second logs once a minute, and the next line it does log says how many it held back. With an
// infinite interval a key logs once, ever. At most kMaxKeys keys are tracked; further keys
// share one, so a flood of distinct keys cannot grow memory.
//
// Keys live in the throttle's own map (a mutex, never on a hot path), or, for a caller that must
// not take a lock (a slow request), in a Gate the caller keeps per key: deciding is then a load,
// and one compare-and-swap when a line is due. Both kinds say "(N more since the last such
// line)" the same way.
//
// Thread-safety: `Log` may be called from any thread.

#ifndef VITALS_AGENT_BASE_LOG_THROTTLE_H_
#define VITALS_AGENT_BASE_LOG_THROTTLE_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/base/mutex.h"
#include "agent/base/rate_limited_log.h"
#include "vitals/clock.h"
#include "vitals/log.h"

namespace vitals {
namespace internal {

class LogThrottle {
 public:
  static constexpr size_t kMaxKeys = 1024;

  // `log` and `clock` must outlive this; a null `log` makes Log() count only.
  LogThrottle(RateLimitedLog* log, const Clock* clock, absl::Duration interval)
      : log_(log), clock_(clock), interval_(interval) {}

  // Logs `line` unless `key` logged less than `interval` ago; returns whether it did.
  bool Log(absl::string_view key, LogSeverity severity, absl::string_view line)
      ABSL_LOCKS_EXCLUDED(mu_);

  // One key's state, kept by the caller (a route keeps one for its slow-request line).
  class Gate {
   private:
    friend class LogThrottle;
    std::atomic<int64_t> next_nanos_{INT64_MIN};
    std::atomic<uint64_t> held_back_{0};
  };
  // Logs the line `make_line()` returns (called only when a line is due) unless `gate` logged
  // less than `interval` ago; returns whether it did. Lock-free.
  template <typename MakeLine>
  bool Log(Gate& gate, LogSeverity severity, MakeLine&& make_line) {
    const int64_t now = clock_->NowNanos();
    int64_t next = gate.next_nanos_.load(std::memory_order_relaxed);
    if (now < next ||
        !gate.next_nanos_.compare_exchange_strong(next, NextDue(now), std::memory_order_relaxed)) {
      gate.held_back_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    Emit(severity, make_line(), gate.held_back_.exchange(0, std::memory_order_relaxed));
    return true;
  }

 private:
  // When a key that logs at `now` may log again.
  int64_t NextDue(int64_t now) const;
  // Writes `line`, with how many were held back since the last one, to the agent's log.
  void Emit(LogSeverity severity, std::string line, uint64_t held_back);

  struct KeyState {
    int64_t next_nanos = INT64_MIN;
    uint64_t held_back = 0;
  };

  RateLimitedLog* const log_;
  const Clock* const clock_;
  const absl::Duration interval_;
  internal::Mutex mu_;
  absl::flat_hash_map<std::string, KeyState> keys_ ABSL_GUARDED_BY(mu_);
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_BASE_LOG_THROTTLE_H_
