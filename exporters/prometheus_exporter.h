// exporters/prometheus_exporter.h: the pull exporter, `/metrics` in the Prometheus text format.
//
// It owns no server: the agent's HTTP endpoint serves its `Route()` next to the others.
// Renders into bodies taken from a small pool and returned after the response is written, with
// a render's scratch (TextFormat::RenderBuffers) pooled the same way, so a steady-state scrape of
// the agent's own families allocates nothing in the text and OpenMetrics formats
// (tests/exporters/render_allocation_test.cc counts), and one slow client never holds up another
// scrape. gzip, when asked for, is zlib's own allocation.
// Each render is timed into `vitals_scrape_duration_seconds`.

#ifndef VITALS_EXPORTERS_PROMETHEUS_EXPORTER_H_
#define VITALS_EXPORTERS_PROMETHEUS_EXPORTER_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "agent/base/free_list.h"
#include "agent/base/mutex.h"
#include "agent/base/rate_limited_log.h"
#include "agent/core/registry.h"
#include "agent/http/http_route.h"
#include "exporters/text_format.h"
#include "vitals/clock.h"
#include "vitals/metrics.h"
#include "vitals/options.h"

namespace vitals {
namespace exporters {

class PrometheusExporter {
 public:
  // `basic_auth`: "user:password" that /metrics requires, or empty for none.
  PrometheusExporter(internal::Registry& registry, internal::RateLimitedLog* log,
                     const Clock* clock, bool gzip, std::string basic_auth = "");

  // Renders the whole exposition into `out` (cleared first), and times it.
  void Render(std::string& out, ExpositionFormat format = ExpositionFormat::kText);

  // `/metrics`, for the agent's HTTP endpoint.
  http::HttpRoute Route();

 private:
  // A buffer from the pool; it goes back to the pool when the last reference is dropped.
  std::shared_ptr<std::string> TakeBuffer();
  void HandleMetrics(const http::HttpRequest& req, http::HttpResponse& resp);

  internal::Registry& registry_;
  const Clock* clock_;
  TextFormat format_;
  Histogram scrape_duration_;
  const bool gzip_;
  const std::string basic_auth_;

  internal::FreeList<std::string> bodies_{4};
  internal::FreeList<TextFormat::RenderBuffers> scratch_{4};
};

}  // namespace exporters
}  // namespace vitals

#endif  // VITALS_EXPORTERS_PROMETHEUS_EXPORTER_H_
