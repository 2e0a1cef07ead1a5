// agent/base/rate_limited_log.h: the agent's logger, with a token-bucket rate limit.
//
// A burst of `burst` lines passes, then at most `per_second` lines a second. Lines over the
// limit are dropped and counted; the next line that passes says how many were suppressed.
// Lines below the minimum severity (VITALS_LOG_LEVEL) are dropped first and use no budget.
// Thread-safe and lock-free (one compare-and-swap per line that is considered).

#ifndef VITALS_AGENT_BASE_RATE_LIMITED_LOG_H_
#define VITALS_AGENT_BASE_RATE_LIMITED_LOG_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "vitals/clock.h"
#include "vitals/log.h"

namespace vitals {
namespace internal {

class RateLimitedLog {
 public:
  RateLimitedLog(std::shared_ptr<LogSink> sink, const Clock* clock, double per_second, int burst,
                 LogSeverity min_severity = LogSeverity::kInfo);

  // Whether lines of `severity` are written at all.
  bool Enabled(LogSeverity severity) const { return severity >= min_severity_; }

  // True when a line would pass now (consumes a token if so). Callers that must format an
  // expensive line ask first, then call Write.
  bool Admit();

  // Writes `line` (already admitted), prefixed with the suppressed count if any; nothing
  // below the minimum severity.
  void Write(LogSeverity severity, absl::string_view line);

  // Enabled(), Admit(), then Write().
  void Log(LogSeverity severity, absl::string_view line) {
    if (Enabled(severity) && Admit()) Write(severity, line);
  }

  uint64_t suppressed_total() const { return suppressed_total_.load(std::memory_order_relaxed); }

 private:
  std::shared_ptr<LogSink> sink_;
  const Clock* clock_;
  const LogSeverity min_severity_;
  int64_t interval_nanos_;
  int64_t tolerance_nanos_;
  std::atomic<int64_t> theoretical_arrival_{INT64_MIN};
  std::atomic<uint64_t> suppressed_since_last_{0};
  std::atomic<uint64_t> suppressed_total_{0};
};

// `sink` without the lines below `min` (`sink` itself when `min` is kInfo).
std::shared_ptr<LogSink> MinSeverityLogSink(std::shared_ptr<LogSink> sink, LogSeverity min);

// A line as StderrLogSink writes it (without the newline): an RFC 3339 UTC timestamp with
// microseconds, the severity, the thread id (the kernel's, as top -H and gdb show it) and the
// message, whose line breaks become spaces:
//   2026-12-06T06:48:40.123456Z WARNING 41873 vitals: slow request: GET /users/:id took 1.2s
std::string FormatLogLine(absl::Time time, LogSeverity severity, int64_t thread_id,
                          absl::string_view message);

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_BASE_RATE_LIMITED_LOG_H_
