// agent/core/series_slots.h: a few slots that remember which series of a family an integer
// key (an HTTP status code) selects, so a recorded request or call finds its series with a
// probe of at most eight integers instead of hashing label values.
//
// Thread-safety: Find from any thread without a lock; Remember under the owner's mutex (the
// slot's series is written before its key is published with release).

#ifndef VITALS_AGENT_CORE_SERIES_SLOTS_H_
#define VITALS_AGENT_CORE_SERIES_SLOTS_H_

#include <atomic>

#include "agent/core/family.h"

namespace vitals {
namespace internal {

class SeriesSlots {
 public:
  static constexpr int kSlots = 8;

  // The series remembered for `key` (>= 0), or null.
  Series* Find(int key) const {
    for (const Slot& slot : slots_) {
      const int k = slot.key.load(std::memory_order_acquire);
      if (k == key) return slot.series;
      if (k == -1) break;
    }
    return nullptr;
  }

  // Remembers `series` for `key` unless it is already there or every slot is taken (the key
  // then keeps its slower lookup). Caller holds its mutex.
  void Remember(int key, Series* series) {
    for (Slot& slot : slots_) {
      const int k = slot.key.load(std::memory_order_relaxed);
      if (k == key) return;
      if (k == -1) {
        slot.series = series;
        slot.key.store(key, std::memory_order_release);
        return;
      }
    }
  }

 private:
  struct Slot {
    std::atomic<int> key{-1};  // -1: empty; published after `series`
    Series* series = nullptr;
  };
  Slot slots_[kSlots];
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_CORE_SERIES_SLOTS_H_
