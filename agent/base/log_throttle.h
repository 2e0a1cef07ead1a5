// agent/base/log_throttle.h: the one helper that throttles repeated log lines per source.
//
// Every agent line goes through the agent's RateLimitedLog (one budget for the whole agent). A
// LogThrottle adds, per key, "at most one line per `interval`": a source that fails every
// second logs once a minute, and the next line it does log says how many it held back. With an
// infinite interval a key logs once, ever. At most kMaxKeys keys are tracked; further keys
// share one, so a flood of distinct keys cannot grow memory.
//
// Thread-safety: `Log` may be called from any thread (a mutex; never on a hot path).

#ifndef VITALS_AGENT_BASE_LOG_THROTTLE_H_
#define VITALS_AGENT_BASE_LOG_THROTTLE_H_

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

 private:
  struct KeyState {
    bool logged = false;
    int64_t last_nanos = 0;
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
