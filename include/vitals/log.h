// vitals/log.h: where the agent's log lines go.
//
// The agent logs rarely (a slow request, a failed scrape, a server error) and always through a
// rate limiter, so a burst of slow requests cannot flood the host's log. Lines below
// `Options::log_level` (VITALS_LOG_LEVEL: info, warning or error) are not written. The sink is
// pluggable: route lines into the host's own logger by implementing `LogSink`
// (examples/log_sink.cc sends them to syslog).

#ifndef VITALS_LOG_H_
#define VITALS_LOG_H_

#include <memory>

#include "absl/strings/string_view.h"
#include "vitals/detail/export.h"

namespace vitals {

enum class LogSeverity { kInfo, kWarning, kError };

// Returns "INFO", "WARNING" or "ERROR".
VITALS_EXPORT absl::string_view LogSeverityName(LogSeverity severity);

// Receives the agent's log lines, one whole line per call, without a trailing newline.
//
// Thread-safety: `Write` is called from any thread, including request threads and the agent's
// own threads, possibly at once; implementations must be thread-safe. `Write` must not call
// back into the agent.
class VITALS_EXPORT LogSink {
 public:
  virtual ~LogSink() = default;
  virtual void Write(LogSeverity severity, absl::string_view line) = 0;
};

// A sink that writes each line to stderr with one `write(2)`, so lines from several threads
// never interleave, as
//   <RFC 3339 UTC time, microseconds> <SEVERITY> <thread id> vitals: <message>
//   2026-12-06T06:48:40.123456Z WARNING 41873 vitals: slow request: GET /users/:id took 1.2s
// (a line break inside a message becomes a space). The thread id is the kernel's, as top -H,
// /proc/<pid>/task and gdb show it. Shared and never destroyed.
VITALS_EXPORT std::shared_ptr<LogSink> StderrLogSink();

}  // namespace vitals

#endif  // VITALS_LOG_H_
