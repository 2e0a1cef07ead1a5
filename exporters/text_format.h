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

#include "absl/container/flat_hash_set.h"
#include "agent/family.h"
#include "agent/mutex.h"
#include "agent/rate_limited_log.h"
#include "agent/registry.h"

namespace prometheus {
struct MetricFamily;
}  // namespace prometheus

namespace vitals {
namespace exporters {

inline constexpr absl::string_view kTextContentType = "text/plain; version=0.0.4; charset=utf-8";

class TextFormat {
 public:
  explicit TextFormat(internal::RateLimitedLog* log) : log_(log) {}

  // Appends the whole exposition of `registry` (its families, then its collectables) to `out`.
  void Render(internal::Registry& registry, std::string& out);

  // Appends one vitals family.
  static void RenderFamily(internal::Family& family, std::string& out);

  // Appends one prometheus-cpp family (already checked for name clashes).
  static void RenderForeignFamily(const prometheus::MetricFamily& family, std::string& out);

 private:
  void WarnOnce(const std::string& name, absl::string_view why);

  internal::RateLimitedLog* log_;
  internal::Mutex mu_;
  absl::flat_hash_set<std::string> warned_ ABSL_GUARDED_BY(mu_);
};

}  // namespace exporters
}  // namespace vitals

#endif  // VITALS_EXPORTERS_TEXT_FORMAT_H_
