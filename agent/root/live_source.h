// agent/root/live_source.h: the live page's view of an agent, gathered from its features for
// exporters/live_endpoint (which depends on no feature).
//
// Thread-safety: View() may be called from any thread at once; it only reads lock-free or
// briefly locked tables. Ownership: borrows the features, which must outlive it.

#ifndef VITALS_AGENT_ROOT_LIVE_SOURCE_H_
#define VITALS_AGENT_ROOT_LIVE_SOURCE_H_

#include <string>
#include <utility>

#include "agent/core/registry.h"
#include "agent/db/db_metrics.h"
#include "agent/process/thread_cpu.h"
#include "agent/requests/request_metrics.h"
#include "exporters/live_endpoint.h"
#include "exporters/live_history.h"
#include "vitals/clock.h"

namespace vitals {
namespace internal {

class LiveSource : public exporters::LiveSource {
 public:
  // The top statements shown.
  static constexpr size_t kTopStatements = 20;

  struct Config {
    std::string service, version;  // the program's name, the agent's version
    bool profiling = false;        // Options::profiling
    bool auto_profile = false;     // Options::auto_profile
    absl::Duration interval;       // of the history's points
  };

  // `db` may be null (no database feature), and `rpc` (the RPC calls' request metrics). `proc_root`
  // is where /proc is mounted.
  LiveSource(Config config, const Clock* clock, Registry* registry, const RequestMetrics* requests,
             const DbMetrics* db, const exporters::LiveHistory* history,
             const std::string& proc_root = "/proc", const RequestMetrics* rpc = nullptr)
      : config_(std::move(config)),
        clock_(clock),
        registry_(registry),
        requests_(requests),
        rpc_(rpc),
        db_(db),
        history_(history),
        threads_(ThreadCpu::Config{proc_root}, clock) {}

  exporters::LiveView View() override;

 private:
  const Config config_;
  const Clock* clock_;
  Registry* registry_;
  const RequestMetrics* requests_;
  const RequestMetrics* rpc_;
  const DbMetrics* db_;
  const exporters::LiveHistory* history_;
  ThreadCpu threads_;
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_ROOT_LIVE_SOURCE_H_
