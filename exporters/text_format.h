// exporters/text_format.h: the Prometheus text exposition format (version 0.0.4).
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

class TextFormat {
 public:
  // `log` may be null (nothing is logged).
  explicit TextFormat(internal::RateLimitedLog* log)
      : skipped_log_(log, &Clock::Steady(), absl::InfiniteDuration()),
        throw_log_(log, &Clock::Steady(), absl::Minutes(1)) {}

  // Appends the whole exposition of `registry` (its families, then its collectables) to `out`.
  void Render(internal::Registry& registry, std::string& out);

  // Appends one vitals family.
  static void RenderFamily(internal::Family& family, std::string& out);

  // Appends one prometheus-cpp family (already checked for name clashes).
  static void RenderForeignFamily(const prometheus::MetricFamily& family, std::string& out);

 private:
  void WarnOnce(const std::string& name, absl::string_view why);

  internal::LogThrottle skipped_log_;  // one line per skipped family name, ever
  internal::LogThrottle throw_log_;    // one line a minute about collectables that throw
};

}  // namespace exporters
}  // namespace vitals

#endif  // VITALS_EXPORTERS_TEXT_FORMAT_H_
