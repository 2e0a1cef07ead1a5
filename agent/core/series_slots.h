// agent/core/series_slots.h: a few slots that remember which series of a family an integer
// key (an HTTP status code) selects, so a recorded request or call finds its series with a
// probe of at most eight integers instead of hashing label values.
//
// A slot also keeps the generation its series had when it was remembered, for families whose
// series may expire (Options::series_idle_ttl): the owner clears a slot (under its mutex)
// before the series it names is removed, and a reader takes a (series, generation) pair only
// when the slot still names the same series after it read the generation, so a record checked
// against that generation never lands in a series reused for other labels.
//
// Thread-safety: Find from any thread without a lock; Remember and Clear under the owner's
// mutex (the slot's series is written before its key is published with release).

#ifndef VITALS_AGENT_CORE_SERIES_SLOTS_H_
#define VITALS_AGENT_CORE_SERIES_SLOTS_H_

#include <atomic>
#include <cstdint>

#include "agent/core/family.h"

namespace vitals {
namespace internal {

class SeriesSlots {
 public:
  static constexpr int kSlots = 8;

  // The series remembered for `key` (>= 0), or null (none yet, or cleared). With `gen`, also
  // the generation it was remembered at.
  Series* Find(int key, uint32_t* gen = nullptr) const {
    for (const Slot& slot : slots_) {
      const int k = slot.key.load(std::memory_order_acquire);
      if (k == key) {
        Series* s = slot.series.load(std::memory_order_acquire);
        if (gen == nullptr || s == nullptr) return s;
        *gen = slot.gen.load(std::memory_order_acquire);
        // Cleared or replaced while the generation was read: the pair may not match.
        return slot.series.load(std::memory_order_acquire) == s ? s : nullptr;
      }
      if (k == -1) break;
    }
    return nullptr;
  }

  // Remembers `series` (at generation `gen`) for `key`: in the key's slot if it has one (a
  // cleared one is filled again), else in a free slot; when every slot is taken the key keeps
  // its slower lookup. Caller holds its mutex.
  void Remember(int key, Series* series, uint32_t gen = 0) {
    for (Slot& slot : slots_) {
      const int k = slot.key.load(std::memory_order_relaxed);
      if (k == key) {
        if (slot.series.load(std::memory_order_relaxed) == nullptr) {
          slot.gen.store(gen, std::memory_order_relaxed);
          slot.series.store(series, std::memory_order_release);
        }
        return;
      }
      if (k == -1) {
        slot.gen.store(gen, std::memory_order_relaxed);
        slot.series.store(series, std::memory_order_relaxed);
        slot.key.store(key, std::memory_order_release);
        return;
      }
    }
  }

  // Forgets every slot whose series `pred(series)` selects (it is about to be removed); the
  // key keeps its slot. Caller holds its mutex.
  template <typename Pred>
  void Clear(Pred&& pred) {
    for (Slot& slot : slots_) {
      if (slot.key.load(std::memory_order_relaxed) == -1) break;
      Series* s = slot.series.load(std::memory_order_relaxed);
      if (s != nullptr && pred(s)) slot.series.store(nullptr, std::memory_order_seq_cst);
    }
  }

 private:
  struct Slot {
    std::atomic<int> key{-1};  // -1: empty; published after `series`
    std::atomic<Series*> series{nullptr};
    std::atomic<uint32_t> gen{0};
  };
  Slot slots_[kSlots];
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_CORE_SERIES_SLOTS_H_
