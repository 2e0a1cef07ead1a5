#include "agent/process/heap_trend.h"

namespace vitals {
namespace internal {

HeapTrend::HeapTrend(int64_t window_nanos, size_t max_samples)
    : window_nanos_(window_nanos), max_samples_(max_samples < 2 ? 2 : max_samples) {}

void HeapTrend::Add(int64_t now_nanos, double bytes) {
  samples_.emplace_back(now_nanos, bytes);
  while (samples_.size() > 2 &&
         (samples_.size() > max_samples_ || samples_.front().first < now_nanos - window_nanos_)) {
    samples_.pop_front();
  }
}

std::optional<double> HeapTrend::SlopePerSecond() const {
  const size_t n = samples_.size();
  if (n < 2) return std::nullopt;
  // Times relative to the first sample, in seconds, and bytes relative to the first value, so
  // the sums stay small and exact enough in doubles.
  const int64_t t0 = samples_.front().first;
  const double y0 = samples_.front().second;
  double sx = 0, sy = 0;
  for (const auto& [t, y] : samples_) {
    sx += static_cast<double>(t - t0) * 1e-9;
    sy += y - y0;
  }
  const double mx = sx / static_cast<double>(n), my = sy / static_cast<double>(n);
  double sxy = 0, sxx = 0;
  for (const auto& [t, y] : samples_) {
    const double dx = static_cast<double>(t - t0) * 1e-9 - mx;
    sxy += dx * ((y - y0) - my);
    sxx += dx * dx;
  }
  if (!(sxx > 0)) return std::nullopt;
  return sxy / sxx;
}

}  // namespace internal
}  // namespace vitals
