// agent/base/series_ring.h: a bounded history of named numeric series on one timeline.
//
// Each Append() adds a point in time with a value for some keys; the ring keeps the last
// `capacity` points. A key missing from a point reads as NaN there; a key missing from every
// kept point is forgotten. New keys are refused (and counted) once the values would pass
// `max_bytes`, so the memory stays bounded whatever the callers append.
//
// Thread-safety: every method may be called from any thread; a mutex guards the ring (it is
// written once per sample interval and read per page refresh, never on a hot path).
// Cost: Append is O(keys in the point + keys kept); Snapshot copies the ring.

#ifndef VITALS_AGENT_BASE_SERIES_RING_H_
#define VITALS_AGENT_BASE_SERIES_RING_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "agent/base/mutex.h"

namespace vitals {
namespace internal {

class SeriesRing {
 public:
  // `capacity` points (at least 1); values of all keys together at most `max_bytes`.
  SeriesRing(size_t capacity, size_t max_bytes);

  // Adds a point at `time` (seconds since the epoch, non-decreasing) with `values`.
  void Append(double time, const std::vector<std::pair<std::string, double>>& values)
      ABSL_LOCKS_EXCLUDED(mu_);

  struct Snapshot {
    std::vector<double> times;                          // oldest first
    std::map<std::string, std::vector<double>> series;  // each times.size() long; NaN: absent
    uint64_t refused_keys = 0;                          // keys turned away by max_bytes
  };
  Snapshot Read() const ABSL_LOCKS_EXCLUDED(mu_);

  size_t capacity() const { return capacity_; }
  // Bytes the values take now (the bound `max_bytes` applies to).
  size_t bytes() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  size_t Slot(size_t age) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);  // age 0: the newest point

  const size_t capacity_;
  const size_t max_bytes_;
  mutable internal::Mutex mu_;
  std::vector<double> times_ ABSL_GUARDED_BY(mu_);  // a ring of capacity_ slots
  size_t size_ ABSL_GUARDED_BY(mu_) = 0;            // points kept
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;            // the slot the next point goes to
  // Per key, a ring parallel to times_, and the number of kept points that have a value.
  struct Values {
    std::vector<double> ring;
    size_t present = 0;
  };
  std::map<std::string, Values> series_ ABSL_GUARDED_BY(mu_);
  uint64_t refused_keys_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_BASE_SERIES_RING_H_
