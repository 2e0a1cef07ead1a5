// agent/requests/slow_request_ring.h: the last slow requests (time, route, status, duration),
// kept for the live page.
//
// Thread-safety: Add may be called from any number of threads at once, lock-free and without
// allocating; Read from any thread. Each slot is a small seqlock: a reader skips a slot being
// written, and a writer that finds its slot busy (another writer 50 slow requests later, on the
// same slot at the same instant) drops its entry rather than wait.
// Cost of Add: one shared atomic increment and a few stores; it runs only for slow requests.

#ifndef VITALS_AGENT_REQUESTS_SLOW_REQUEST_RING_H_
#define VITALS_AGENT_REQUESTS_SLOW_REQUEST_RING_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "agent/core/request_db.h"

namespace vitals {
namespace internal {

class SlowRequestRing {
 public:
  static constexpr size_t kCapacity = 50;

  struct Entry {
    uint64_t sequence = 0;               // 0 for the first slow request, then 1, 2, ...
    int64_t at_nanos = 0;                // the agent clock when it ended
    const RouteLabels* route = nullptr;  // lives as long as the agent
    int status = 0;
    int64_t duration_nanos = 0;
  };

  void Add(const RouteLabels* route, int status, int64_t duration_nanos, int64_t at_nanos);
  // The kept entries, newest first.
  std::vector<Entry> Read() const;
  // Slow requests added so far (kept or not).
  uint64_t added() const { return next_.load(std::memory_order_relaxed); }

 private:
  struct Slot {
    std::atomic<uint64_t> version{0};  // odd while written
    std::atomic<uint64_t> sequence{0};
    std::atomic<int64_t> at_nanos{0};
    std::atomic<const RouteLabels*> route{nullptr};
    std::atomic<int> status{0};
    std::atomic<int64_t> duration_nanos{0};
  };
  std::atomic<uint64_t> next_{0};
  Slot slots_[kCapacity];
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_REQUESTS_SLOW_REQUEST_RING_H_
