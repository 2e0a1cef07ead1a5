#include "agent/base/rate_limited_log.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace vitals {
namespace internal {

RateLimitedLog::RateLimitedLog(std::shared_ptr<LogSink> sink, const Clock* clock, double per_second,
                               int burst, LogSeverity min_severity)
    : sink_(sink ? std::move(sink) : StderrLogSink()), clock_(clock), min_severity_(min_severity) {
  per_second = per_second > 0 ? per_second : 1e-9;
  interval_nanos_ = static_cast<int64_t>(std::min(1e9 / per_second, 1e18));
  tolerance_nanos_ = interval_nanos_ * std::max(0, burst - 1);
}

bool RateLimitedLog::Admit() {
  // Generic cell rate algorithm: a line passes when the theoretical arrival time is no more
  // than `tolerance` ahead of now; each line pushes it one interval further.
  const int64_t now = clock_->NowNanos();
  int64_t tat = theoretical_arrival_.load(std::memory_order_relaxed);
  for (;;) {
    const int64_t base = std::max(tat, now);
    if (base - now > tolerance_nanos_) {
      suppressed_since_last_.fetch_add(1, std::memory_order_relaxed);
      suppressed_total_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    if (theoretical_arrival_.compare_exchange_weak(tat, base + interval_nanos_,
                                                   std::memory_order_relaxed)) {
      return true;
    }
  }
}

void RateLimitedLog::Write(LogSeverity severity, absl::string_view line) {
  if (!Enabled(severity)) return;
  const uint64_t suppressed = suppressed_since_last_.exchange(0, std::memory_order_relaxed);
  if (suppressed == 0) {
    sink_->Write(severity, line);
  } else {
    sink_->Write(severity, absl::StrCat(line, " (", suppressed,
                                        " similar lines suppressed by the rate limit)"));
  }
}

}  // namespace internal

absl::string_view LogSeverityName(LogSeverity severity) {
  switch (severity) {
    case LogSeverity::kInfo:
      return "INFO";
    case LogSeverity::kWarning:
      return "WARNING";
    case LogSeverity::kError:
      return "ERROR";
  }
  return "UNKNOWN";
}

namespace {

class StderrSink : public LogSink {
 public:
  void Write(LogSeverity severity, absl::string_view line) override {
    std::string out =
        internal::FormatLogLine(absl::Now(), severity, static_cast<int64_t>(gettid()), line);
    out += '\n';
    size_t off = 0;
    while (off < out.size()) {
      ssize_t n = ::write(STDERR_FILENO, out.data() + off, out.size() - off);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }
};

}  // namespace

namespace internal {

std::string FormatLogLine(absl::Time time, LogSeverity severity, int64_t thread_id,
                          absl::string_view message) {
  std::string out =
      absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", time, absl::UTCTimeZone()), " ",
                   LogSeverityName(severity), " ", thread_id, " vitals: ");
  const size_t at = out.size();
  out.append(message.data(), message.size());
  // One record, one line: a line break inside a message would split it in a log pipeline.
  for (size_t i = at; i < out.size(); ++i) {
    if (out[i] == '\n' || out[i] == '\r') out[i] = ' ';
  }
  return out;
}

std::shared_ptr<LogSink> MinSeverityLogSink(std::shared_ptr<LogSink> sink, LogSeverity min) {
  class Filter : public LogSink {
   public:
    Filter(std::shared_ptr<LogSink> sink, LogSeverity min) : sink_(std::move(sink)), min_(min) {}
    void Write(LogSeverity severity, absl::string_view line) override {
      if (severity >= min_) sink_->Write(severity, line);
    }

   private:
    std::shared_ptr<LogSink> sink_;
    LogSeverity min_;
  };
  if (min == LogSeverity::kInfo) return sink;
  return std::make_shared<Filter>(std::move(sink), min);
}

}  // namespace internal

std::shared_ptr<LogSink> StderrLogSink() {
  static auto* sink = new std::shared_ptr<LogSink>(std::make_shared<StderrSink>());
  return *sink;
}

}  // namespace vitals
