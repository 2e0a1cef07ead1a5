// agent/core/label_table.h: a bounded hash table from label values to an object, read without
// locks.
//
// Readers probe it with no lock: entries are published with release stores and never change
// while they are reachable. Writers are serialized by the caller's mutex. The slot array starts
// small and doubles when half full, so an empty table costs a few hundred bytes however high its
// limit; a grown array replaces the old one with one release store. Once `max_entries` entries
// are in, `full()` lets a reader skip the writer's lock.
//
// Removal (`RemoveIf`, only in a table made `reclaimable`): the entries are unlinked by
// publishing a rebuilt array without them. A reader may still be probing the old array or an
// unlinked entry, so both are kept until the writer sees no reader inside: a reclaimable table's
// readers raise and lower a count around each probe (two atomic adds on the table's line), and
// the writer frees what it unlinked once it reads that count at zero (sequentially consistent
// on both sides: a reader counted after that read loads the new array). A table that is not
// reclaimable keeps every array it published (at most twice the final one) and counts nothing.

#ifndef VITALS_AGENT_CORE_LABEL_TABLE_H_
#define VITALS_AGENT_CORE_LABEL_TABLE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace vitals {
namespace internal {

inline uint64_t HashLabelValues(absl::Span<const absl::string_view> values) {
  return absl::Hash<absl::Span<const absl::string_view>>{}(values);
}

template <typename T>
class LabelTable {
 public:
  static constexpr size_t kMaxUncounted = 8;

  explicit LabelTable(size_t max_entries) : max_entries_(max_entries) { Grow(8); }

  // Makes removal possible (see above); before the table is shared.
  void set_reclaimable() { reclaimable_ = true; }

  // Lock-free. Null when absent.
  T* Find(uint64_t hash, absl::Span<const absl::string_view> key) const {
    if (!reclaimable_) return Probe(hash, key);
    readers_.fetch_add(1, std::memory_order_seq_cst);
    T* found = Probe(hash, key);
    readers_.fetch_sub(1, std::memory_order_release);
    return found;
  }

  // Find, with `accept(T*)` called on a found value while this reader is still counted (a
  // reclaimable table's writer frees nothing, and its owner reuses nothing, that a counted
  // reader may hold): null when absent or when `accept` says no.
  template <typename Accept>
  T* FindIf(uint64_t hash, absl::Span<const absl::string_view> key, Accept&& accept) const {
    if (!reclaimable_) {
      T* found = Probe(hash, key);
      return found != nullptr && accept(found) ? found : nullptr;
    }
    readers_.fetch_add(1, std::memory_order_seq_cst);
    T* found = Probe(hash, key);
    if (found != nullptr && !accept(found)) found = nullptr;
    readers_.fetch_sub(1, std::memory_order_release);
    return found;
  }

  // True when no reader is inside a Find at this moment (sequentially consistent: a reader
  // that comes later sees every unlink made before). Always true for a table that is not
  // reclaimable (nothing is ever unlinked from it).
  bool NoReaders() const { return !reclaimable_ || readers_.load(std::memory_order_seq_cst) == 0; }
  bool reclaimable() const { return reclaimable_; }

  // Caller holds the writers' mutex. Unlinks every entry whose value `pred(value)` selects (a
  // value's other spellings too), with one rebuild for them all, and frees what no reader can
  // reach any more. Returns how many.
  template <typename Pred>
  size_t RemoveIf(Pred&& pred) {
    size_t removed = 0;
    size_t kept = 0;
    for (size_t i = 0; i < owned_.size(); ++i) {
      if (!pred(static_cast<const T*>(owned_[i]->value))) {
        if (kept != i) owned_[kept] = std::move(owned_[i]);
        ++kept;
        continue;
      }
      if (owned_[i]->counted) {
        --size_;
      } else {
        --uncounted_;
      }
      retired_entries_.push_back(std::move(owned_[i]));
      ++removed;
    }
    owned_.resize(kept);
    if (removed == 0) return 0;
    full_.store(size_ >= max_entries_, std::memory_order_release);
    Grow(current_.load(std::memory_order_relaxed)->mask + 1);  // the same size, without them
    Reclaim();
    return removed;
  }

  // Caller holds the writers' mutex. Frees unlinked arrays and entries when no reader is inside.
  void Reclaim() {
    if (retired_entries_.empty() && arrays_.size() <= 1) return;
    if (readers_.load(std::memory_order_seq_cst) != 0) return;
    retired_entries_.clear();
    arrays_.erase(arrays_.begin(), arrays_.end() - 1);  // all but the current one
  }

  // Caller holds the writers' mutex and has checked that `key` is absent. False when full.
  // An entry that is not `counted` (an alias the caller bounds itself) does not use up one of
  // the `max_entries`; at most kMaxUncounted of them are taken.
  bool Insert(uint64_t hash, absl::Span<const absl::string_view> key, T* value,
              bool counted = true) {
    if (counted ? size_ >= max_entries_ : uncounted_ >= kMaxUncounted) return false;
    const Slots* slots = current_.load(std::memory_order_relaxed);
    if (2 * (owned_.size() + 1) > slots->mask + 1) Grow(2 * (slots->mask + 1));
    auto entry = std::make_unique<Entry>();
    entry->hash = hash;
    entry->key.reserve(key.size());
    for (absl::string_view k : key) entry->key.emplace_back(k);
    entry->value = value;
    entry->counted = counted;
    Place(*arrays_.back(), entry.get());
    owned_.push_back(std::move(entry));
    if (!counted) {
      ++uncounted_;
      return true;
    }
    if (++size_ >= max_entries_) full_.store(true, std::memory_order_release);
    return true;
  }

  bool full() const { return full_.load(std::memory_order_acquire); }
  // Slots in the current array (for tests).
  size_t capacity() const { return current_.load(std::memory_order_acquire)->mask + 1; }
  size_t size() const { return size_; }  // caller holds the writers' mutex

 private:
  struct Entry {
    uint64_t hash;
    std::vector<std::string> key;
    T* value;
    bool counted = true;
  };

  T* Probe(uint64_t hash, absl::Span<const absl::string_view> key) const {
    const Slots* slots = current_.load(std::memory_order_acquire);
    for (size_t i = hash & slots->mask;; i = (i + 1) & slots->mask) {
      const Entry* e = slots->slot[i].load(std::memory_order_acquire);
      if (e == nullptr) return nullptr;
      if (e->hash == hash && Equal(e->key, key)) return e->value;
    }
  }
  struct Slots {
    size_t mask;
    std::unique_ptr<std::atomic<Entry*>[]> slot;
  };

  static bool Equal(const std::vector<std::string>& a, absl::Span<const absl::string_view> b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (absl::string_view(a[i]) != b[i]) return false;
    }
    return true;
  }

  static void Place(Slots& slots, Entry* e) {
    size_t i = e->hash & slots.mask;
    while (slots.slot[i].load(std::memory_order_relaxed) != nullptr) i = (i + 1) & slots.mask;
    slots.slot[i].store(e, std::memory_order_release);
  }

  // A new array of `capacity` slots (a power of two) holding every entry, then published.
  void Grow(size_t capacity) {
    auto slots = std::make_unique<Slots>();
    slots->mask = capacity - 1;
    slots->slot = std::unique_ptr<std::atomic<Entry*>[]>(new std::atomic<Entry*>[capacity]);
    for (size_t i = 0; i < capacity; ++i) slots->slot[i].store(nullptr, std::memory_order_relaxed);
    for (const auto& e : owned_) Place(*slots, e.get());
    current_.store(slots.get(), std::memory_order_release);
    arrays_.push_back(std::move(slots));
    if (reclaimable_) Reclaim();
  }

  const size_t max_entries_;
  std::atomic<Slots*> current_{nullptr};
  // Every array published and not yet freed; the last is the current one.
  std::vector<std::unique_ptr<Slots>> arrays_;
  std::vector<std::unique_ptr<Entry>> owned_;
  std::vector<std::unique_ptr<Entry>> retired_entries_;  // unlinked, freed by Reclaim
  bool reclaimable_ = false;
  mutable std::atomic<uint64_t> readers_{0};
  size_t size_ = 0;
  size_t uncounted_ = 0;
  std::atomic<bool> full_{false};
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_CORE_LABEL_TABLE_H_
