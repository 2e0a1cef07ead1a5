// vitals/log.h: where the agent's log lines go.
//
// The agent logs rarely (a slow request, a failed scrape, a server error) and always through a
// rate limiter, so a burst of slow requests cannot flood the host's log. The sink is pluggable:
// route lines into the host's own logger by implementing `LogSink`.

#ifndef VITALS_LOG_H_
#define VITALS_LOG_H_

#include <memory>

#include "absl/strings/string_view.h"

namespace vitals {

enum class LogSeverity { kInfo, kWarning, kError };

// Returns "INFO", "WARNING" or "ERROR".
absl::string_view LogSeverityName(LogSeverity severity);

// Receives the agent's log lines, one whole line per call, without a trailing newline.
//
// Thread-safety: `Write` is called from any thread, including request threads and the agent's
// own threads, possibly at once; implementations must be thread-safe. `Write` must not call
// back into the agent.
class LogSink {
 public:
  virtual ~LogSink() = default;
  virtual void Write(LogSeverity severity, absl::string_view line) = 0;
};

// A sink that writes `vitals SEVERITY: line` to stderr with one `write(2)` per line, so
// lines from several threads never interleave. Shared and never destroyed.
std::shared_ptr<LogSink> StderrLogSink();

}  // namespace vitals

#endif  // VITALS_LOG_H_
