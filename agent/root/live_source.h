// agent/root/live_source.h: the live page's view of an agent, gathered from its features for
// exporters/live_endpoint (which depends on no feature).
//
// Thread-safety: View() may be called from any thread at once; it only reads lock-free or
// briefly locked tables. Ownership: borrows the features, which must outlive it.

#ifndef VITALS_AGENT_ROOT_LIVE_SOURCE_H_
#define VITALS_AGENT_ROOT_LIVE_SOURCE_H_

#include "agent/db/db_metrics.h"
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

  // `db` may be null (no database feature); `history` points every `interval`.
  LiveSource(const Clock* clock, const RequestMetrics* requests, const DbMetrics* db,
             const exporters::LiveHistory* history, absl::Duration interval)
      : clock_(clock), requests_(requests), db_(db), history_(history), interval_(interval) {}

  exporters::LiveView View() override;

 private:
  const Clock* clock_;
  const RequestMetrics* requests_;
  const DbMetrics* db_;
  const exporters::LiveHistory* history_;
  absl::Duration interval_;
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_ROOT_LIVE_SOURCE_H_
