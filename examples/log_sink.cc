// The README's LogSink example: the agent's lines go to the service's own logger instead of
// stderr. Here that logger is syslog (journald and every log shipper read it), at the priority
// of each line's severity. Built with the project and run by its tests, which read the lines
// on stderr (LOG_PERROR below).
//
//   examples/log_sink

#include <syslog.h>

#include <memory>

#include "vitals/agent.h"

// [readme:log_sink]
// Sends the agent's lines to syslog. Write is called from any thread; syslog(3) is thread-safe.
class SyslogSink : public vitals::LogSink {
 public:
  void Write(vitals::LogSeverity severity, absl::string_view line) override {
    const int priority = severity == vitals::LogSeverity::kError     ? LOG_ERR
                         : severity == vitals::LogSeverity::kWarning ? LOG_WARNING
                                                                     : LOG_INFO;
    syslog(priority, "%.*s", static_cast<int>(line.size()), line.data());
  }
};

std::unique_ptr<vitals::Agent> MakeAgent() {
  vitals::Options options;
  options.log_sink = std::make_shared<SyslogSink>();
  options.log_level = vitals::LogSeverity::kWarning;  // or VITALS_LOG_LEVEL=warning
  return std::make_unique<vitals::Agent>(options);
}
// [/readme:log_sink]

int main() {
  // LOG_PERROR: also on stderr, so that running this example shows the lines.
  openlog("log_sink", LOG_PID | LOG_PERROR, LOG_USER);
  std::unique_ptr<vitals::Agent> agent = MakeAgent();
  // A slow request makes the agent log one warning, through the sink.
  agent->Record("GET", "/reports/:id", 200, absl::Seconds(3));
  closelog();
  return 0;
}
