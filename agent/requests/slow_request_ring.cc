#include "agent/requests/slow_request_ring.h"

#include <algorithm>

namespace vitals {
namespace internal {

void SlowRequestRing::Add(const RouteLabels* route, int status, int64_t duration_nanos,
                          int64_t at_nanos) {
  const uint64_t n = next_.fetch_add(1, std::memory_order_relaxed);
  Slot& slot = slots_[n % kCapacity];
  uint64_t version = slot.version.load(std::memory_order_relaxed);
  if ((version & 1) != 0 ||
      !slot.version.compare_exchange_strong(version, version + 1, std::memory_order_acquire)) {
    return;  // another writer holds the slot this instant: drop rather than wait
  }
  // Release stores (no fences, which ThreadSanitizer cannot follow): a reader that sees any new
  // field also sees the odd version stored before it, and discards what it read.
  slot.sequence.store(n, std::memory_order_release);
  slot.at_nanos.store(at_nanos, std::memory_order_release);
  slot.route.store(route, std::memory_order_release);
  slot.status.store(status, std::memory_order_release);
  slot.duration_nanos.store(duration_nanos, std::memory_order_release);
  slot.version.store(version + 2, std::memory_order_release);
}

std::vector<SlowRequestRing::Entry> SlowRequestRing::Read() const {
  std::vector<Entry> out;
  out.reserve(kCapacity);
  for (const Slot& slot : slots_) {
    const uint64_t before = slot.version.load(std::memory_order_acquire);
    if (before == 0 || (before & 1) != 0) continue;  // never written, or being written
    Entry e;
    // Acquire loads: the re-check below cannot move before them, and a field from a newer
    // write brings that write's odd version with it.
    e.sequence = slot.sequence.load(std::memory_order_acquire);
    e.at_nanos = slot.at_nanos.load(std::memory_order_acquire);
    e.route = slot.route.load(std::memory_order_acquire);
    e.status = slot.status.load(std::memory_order_acquire);
    e.duration_nanos = slot.duration_nanos.load(std::memory_order_acquire);
    if (slot.version.load(std::memory_order_relaxed) != before || e.route == nullptr) continue;
    out.push_back(e);
  }
  std::sort(out.begin(), out.end(),
            [](const Entry& a, const Entry& b) { return a.sequence > b.sequence; });
  return out;
}

}  // namespace internal
}  // namespace vitals
