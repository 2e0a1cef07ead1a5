// agent/core/series_slots.h: a few slots that remember which series of a family a key selects
// (an HTTP status code, an error type), so a recorded request or call finds its series with a
// probe of at most eight keys instead of hashing label values.
//
// A slot also keeps the generation its series had when it was remembered, for families whose
// series may expire (Options::series_idle_ttl): the owner clears a slot (under its mutex)
// before the series it names is removed, and a reader takes a (series, generation) pair only
// when the slot still names the same series after it read the generation (CachedSeries), so a
// record checked against that generation never lands in a series reused for other labels.
//
// Thread-safety: Find from any thread without a lock; Remember and Clear under the owner's
// mutex (a slot's series and key are written before the key is published with release, and a
// key never changes after).

#ifndef VITALS_AGENT_CORE_SERIES_SLOTS_H_
#define VITALS_AGENT_CORE_SERIES_SLOTS_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "absl/strings/string_view.h"
#include "agent/core/family.h"

namespace vitals {
namespace internal {

// A series pointer and the generation it was cached at, read without a lock.
struct CachedSeries {
  std::atomic<Series*> series{nullptr};
  std::atomic<uint32_t> gen{0};

  // The series (null when none or cleared) and, with `gen`, its generation: a pair read across
  // a clear or a refill is refused (null).
  Series* Read(uint32_t* gen_out) const {
    Series* s = series.load(std::memory_order_acquire);
    if (gen_out == nullptr || s == nullptr) return s;
    *gen_out = gen.load(std::memory_order_acquire);
    return series.load(std::memory_order_acquire) == s ? s : nullptr;
  }
  // Caches `s` at `g` if nothing is cached (the owner's mutex held).
  void Fill(Series* s, uint32_t g) {
    if (series.load(std::memory_order_relaxed) != nullptr) return;
    gen.store(g, std::memory_order_relaxed);
    series.store(s, std::memory_order_release);
  }
  // Forgets the series if `pred(series)` selects it (the owner's mutex held).
  template <typename Pred>
  void ClearIf(Pred&& pred) {
    Series* s = series.load(std::memory_order_relaxed);
    if (s != nullptr && pred(s)) series.store(nullptr, std::memory_order_seq_cst);
  }
};

// The key kinds: an integer (>= 0), or a text of at most 64 bytes.
struct IntSlotKey {
  using Arg = int;
  std::atomic<int> value{-1};  // -1: empty
  bool empty(std::memory_order order) const { return value.load(order) == -1; }
  bool Is(int key, std::memory_order order) const { return value.load(order) == key; }
  static bool Fits(int) { return true; }
  void Publish(int key) { value.store(key, std::memory_order_release); }
};
struct TextSlotKey {
  using Arg = absl::string_view;
  static constexpr size_t kMaxBytes = 64;
  std::atomic<int> len{-1};  // -1: empty; published after `bytes`
  char bytes[kMaxBytes] = {};
  bool empty(std::memory_order order) const { return len.load(order) < 0; }
  bool Is(absl::string_view key, std::memory_order order) const {
    const int n = len.load(order);
    return n >= 0 && static_cast<size_t>(n) == key.size() &&
           std::memcmp(bytes, key.data(), key.size()) == 0;
  }
  static bool Fits(absl::string_view key) { return key.size() <= kMaxBytes; }
  void Publish(absl::string_view key) {
    std::memcpy(bytes, key.data(), key.size());
    len.store(static_cast<int>(key.size()), std::memory_order_release);
  }
};

template <typename Key>
class BasicSeriesSlots {
 public:
  static constexpr int kSlots = 8;
  using Arg = typename Key::Arg;

  // The series remembered for `key`, or null (none yet, or cleared). With `gen`, also the
  // generation it was remembered at.
  Series* Find(Arg key, uint32_t* gen = nullptr) const {
    for (const Slot& slot : slots_) {
      if (slot.key.Is(key, std::memory_order_acquire)) return slot.cached.Read(gen);
      if (slot.key.empty(std::memory_order_acquire)) break;
    }
    return nullptr;
  }

  // Remembers `series` (at generation `gen`) for `key`: in the key's slot if it has one (a
  // cleared one is filled again), else in a free slot; when every slot is taken (or a text key
  // is too long) the key keeps its slower lookup. Caller holds its mutex.
  void Remember(Arg key, Series* series, uint32_t gen = 0) {
    if (!Key::Fits(key)) return;
    for (Slot& slot : slots_) {
      if (slot.key.Is(key, std::memory_order_relaxed)) {
        slot.cached.Fill(series, gen);
        return;
      }
      if (slot.key.empty(std::memory_order_relaxed)) {
        slot.cached.Fill(series, gen);
        slot.key.Publish(key);
        return;
      }
    }
  }

  // Forgets every slot whose series `pred(series)` selects (it is about to be removed); the
  // key keeps its slot. Caller holds its mutex.
  template <typename Pred>
  void Clear(Pred&& pred) {
    for (Slot& slot : slots_) {
      if (slot.key.empty(std::memory_order_relaxed)) break;
      slot.cached.ClearIf(pred);
    }
  }

 private:
  struct Slot {
    Key key;
    CachedSeries cached;
  };
  Slot slots_[kSlots];
};

using SeriesSlots = BasicSeriesSlots<IntSlotKey>;
using TextSeriesSlots = BasicSeriesSlots<TextSlotKey>;

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_CORE_SERIES_SLOTS_H_
