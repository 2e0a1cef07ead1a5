// exporters/text_format.h: the Prometheus text exposition format (version 0.0.4), and
// OpenMetrics 1.0 text, and the protobuf format (exporters/protobuf_format.h), for clients that
// ask for them (Prometheus does, first, in its Accept
// header): counter families named without `_total` in # TYPE and # HELP (their samples keep
// it), # UNIT for families whose name ends in a unit (`_seconds`, `_bytes`), `unknown` for
// untyped families, `"` escaped in HELP text, and `# EOF` at the end. Sample lines are the same
// in both, so the series a Prometheus stores do not depend on the format it scraped.
//
// Renders an agent's registry straight from its families: label text is pre-rendered per
// series, numbers go through std::to_chars, and everything is appended to one caller-owned
// buffer that is reused from scrape to scrape, so a scrape allocates almost nothing. Families of
// registered prometheus-cpp collectables are rendered by the same code, escaped and repaired
// the same way, and skipped when their name is already emitted.

#ifndef VITALS_EXPORTERS_TEXT_FORMAT_H_
#define VITALS_EXPORTERS_TEXT_FORMAT_H_

#include <string>
#include <vector>

#include "agent/base/log_throttle.h"
#include "agent/base/rate_limited_log.h"
#include "agent/core/family.h"
#include "agent/core/registry.h"

namespace prometheus {
struct MetricFamily;
}  // namespace prometheus

namespace vitals {
namespace exporters {

inline constexpr absl::string_view kTextContentType = "text/plain; version=0.0.4; charset=utf-8";
inline constexpr absl::string_view kOpenMetricsContentType =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

// kProtobuf: exporters/protobuf_format.h, rendered through the same walk of the registry.
enum class ExpositionFormat { kText, kOpenMetrics, kProtobuf };

// The format an HTTP Accept header asks for: the protobuf format when it accepts
// application/vnd.google.protobuf with proto=io.prometheus.client.MetricFamily and
// encoding=delimited at least as much as either text format; else OpenMetrics when it accepts
// application/openmetrics-text (version 1.0.0, 0.0.1 or none) at least as much as text/plain;
// else the 0.0.4 text (no header, */*, a browser's list).
ExpositionFormat NegotiateFormat(absl::string_view accept);

class TextFormat {
 public:
  // `log` may be null (nothing is logged).
  explicit TextFormat(internal::RateLimitedLog* log)
      : skipped_log_(log, &Clock::Steady(), absl::InfiniteDuration()),
        throw_log_(log, &Clock::Steady(), absl::Minutes(1)) {}

  // Scratch a render reuses: the family list, one family's series, and native bucket cells. A
  // caller that keeps one across renders (PrometheusExporter pools them with its bodies) makes
  // a render of the agent's own families allocate nothing once the buffers have grown, in the
  // text and OpenMetrics formats (the protobuf format allocates for native buckets only).
  struct RenderBuffers {
    std::vector<internal::Family*> families;
    internal::Family::VisitBuffers visit;
    std::vector<double> native_cells;
  };

  // Appends the whole exposition of `registry` (its families, then its collectables) to `out`.
  void Render(internal::Registry& registry, std::string& out,
              ExpositionFormat format = ExpositionFormat::kText);
  void Render(internal::Registry& registry, std::string& out, ExpositionFormat format,
              RenderBuffers& buffers);

  // Appends one vitals family; `constant_labels` (`a="x",b="y"`, the registry's) go first in
  // every sample's labels, unless the family identifies the target (Family::identity).
  static void RenderFamily(internal::Family& family, std::string& out,
                           ExpositionFormat format = ExpositionFormat::kText);
  static void RenderFamily(internal::Family& family, std::string& out, ExpositionFormat format,
                           internal::Family::VisitBuffers& buffers,
                           absl::string_view constant_labels = {});

  // Appends one prometheus-cpp family (already checked for name clashes).
  static void RenderForeignFamily(const prometheus::MetricFamily& family, std::string& out,
                                  ExpositionFormat format = ExpositionFormat::kText);

 private:
  void WarnOnce(const std::string& name, absl::string_view why);

  internal::LogThrottle skipped_log_;  // one line per skipped family name, ever
  internal::LogThrottle throw_log_;    // one line a minute about collectables that throw
};

}  // namespace exporters
}  // namespace vitals

#endif  // VITALS_EXPORTERS_TEXT_FORMAT_H_
