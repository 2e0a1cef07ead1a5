// agent/upstream/upstream_metrics.h: the built-in outbound-call metrics behind UpstreamHandle
// and ClientCallScope (vitals/client.h).
//
// Upstreams are keyed by (normalized method, server address, server port) in an EntryTable. Each
// UpstreamEntry holds its active-calls series and slots that cache its duration series per status
// code, so a recorded call costs a slot probe and one histogram observe; a call with an error type
// looks its series up by label values.

#ifndef VITALS_AGENT_UPSTREAM_UPSTREAM_METRICS_H_
#define VITALS_AGENT_UPSTREAM_UPSTREAM_METRICS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "agent/base/mutex.h"
#include "agent/core/entry_table.h"
#include "agent/core/family.h"
#include "agent/core/registry.h"
#include "agent/core/series_slots.h"
#include "vitals/clock.h"

namespace vitals {
namespace internal {

struct UpstreamEntry {
  std::string method, address, port;  // label values, repaired
  std::string label;                  // "GET address:port", for the sequential-call log
  Series* active = nullptr;
  SeriesSlots by_status;  // duration series by status code
  bool overflow = false;
};

class UpstreamMetrics {
 public:
  // Creates the two families in `registry`; `buckets` are the duration bounds.
  static absl::StatusOr<std::unique_ptr<UpstreamMetrics>> Create(Registry& registry,
                                                                 std::vector<double> buckets,
                                                                 const Clock* clock, size_t limit);

  UpstreamEntry* Find(absl::string_view method, absl::string_view address, int port);
  void Record(UpstreamEntry* entry, int status, int64_t nanos);
  void RecordError(UpstreamEntry* entry, absl::string_view error_type, int64_t nanos);
  const Clock& clock() const { return *clock_; }

 private:
  UpstreamMetrics(Family* duration, Family* active, const Clock* clock, size_t limit);
  Series* SeriesFor(UpstreamEntry* entry, int status, absl::string_view error_type);

  Family* const duration_;
  Family* const active_;
  const Clock* const clock_;
  internal::Mutex mu_;  // status slots' writers
  EntryTable<UpstreamEntry> table_;
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_UPSTREAM_UPSTREAM_METRICS_H_
