// exporters/pushgateway_exporter.h: the push exporter, for batch jobs and short-lived processes.
//
// Sends the same exposition `/metrics` serves (the agent's registry through TextFormat) to a
// Prometheus Pushgateway with HTTP PUT to /metrics/job/<job>/<label>/<value>..., replacing the
// group each time. A thread pushes every `push_interval` (0: only on demand); `Stop()` makes a
// final push (and deletes the group when asked); a process-exit hook makes the final push for
// agents still alive when exit() runs. Every request is bounded by `push_timeout`; a failure is
// counted in `vitals_push_failures_total`, logged at most once a minute, and retried at the next
// interval. libcurl does the HTTP.
//
// Thread-safety: all methods may be called from any thread.

#ifndef VITALS_EXPORTERS_PUSHGATEWAY_EXPORTER_H_
#define VITALS_EXPORTERS_PUSHGATEWAY_EXPORTER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/base/log_throttle.h"
#include "agent/base/mutex.h"
#include "agent/base/periodic_thread.h"
#include "agent/base/rate_limited_log.h"
#include "agent/core/registry.h"
#include "exporters/text_format.h"
#include "vitals/clock.h"
#include "vitals/metrics.h"
#include "vitals/options.h"

namespace vitals {
namespace exporters {

// "/metrics/job/<job>/<k>/<v>...": values with '/' (or empty) use the @base64 form.
std::string PushgatewayPath(absl::string_view job,
                            const std::map<std::string, std::string>& grouping);

class PushgatewayExporter {
 public:
  // `before_push` runs before each push (the agent refreshes its process sample there).
  static absl::StatusOr<std::unique_ptr<PushgatewayExporter>> Create(
      internal::Registry& registry, const Options& options, internal::RateLimitedLog* log,
      std::function<void()> before_push);
  ~PushgatewayExporter();

  // Starts the interval thread (none when push_interval is 0).
  void Start();
  // Stops the thread, then pushes one last time (and deletes the group if configured).
  // Idempotent: the final push happens once.
  void Stop();

  // Pushes now, on the caller's thread.
  absl::Status PushNow();

  const std::string& url() const { return url_; }

 private:
  PushgatewayExporter(internal::Registry& registry, const Options& options,
                      internal::RateLimitedLog* log, std::function<void()> before_push);
  absl::Status Send(const char* method, const std::string& body);
  void Failed(const absl::Status& status);

  internal::Registry& registry_;
  internal::RateLimitedLog* log_;
  std::function<void()> before_push_;
  TextFormat format_;
  std::string url_;  // base URL + group path
  const absl::Duration interval_;
  const absl::Duration timeout_;
  const bool delete_on_stop_;
  Counter failures_;
  Counter pushes_;

  internal::Mutex push_mu_;            // held for the whole of each Send: one push at a time
  internal::LogThrottle failure_log_;  // one line a minute

  internal::Mutex run_mu_;
  bool final_pushed_ ABSL_GUARDED_BY(run_mu_) = false;
  internal::PeriodicThread thread_;
};

}  // namespace exporters
}  // namespace vitals

#endif  // VITALS_EXPORTERS_PUSHGATEWAY_EXPORTER_H_
