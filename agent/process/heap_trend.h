// agent/process/heap_trend.h: the leak hint, a least-squares slope of heap size over recent
// samples.
//
// A steady leak is a straight rising line: its slope is the leak rate. A sawtooth (a cache
// that fills and is flushed, a batch that allocates and frees) crosses its own mean in every
// period, so over a window of several periods its slope is near zero. Not thread-safe: the
// sampler owns it.

#ifndef VITALS_AGENT_PROCESS_HEAP_TREND_H_
#define VITALS_AGENT_PROCESS_HEAP_TREND_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <utility>

namespace vitals {
namespace internal {

class HeapTrend {
 public:
  // Keeps the samples of the last `window_nanos` (always at least the last two), and at most
  // `max_samples` of them.
  HeapTrend(int64_t window_nanos, size_t max_samples);

  void Add(int64_t now_nanos, double bytes);

  // Bytes per second; empty until two samples at different times are held.
  std::optional<double> SlopePerSecond() const;

  size_t size() const { return samples_.size(); }

 private:
  const int64_t window_nanos_;
  const size_t max_samples_;
  std::deque<std::pair<int64_t, double>> samples_;  // (time, bytes), oldest first
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_PROCESS_HEAP_TREND_H_
