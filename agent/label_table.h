// agent/label_table.h: a bounded hash table from label values to an object, read without locks.
//
// Readers probe it with no lock: slots are published with release stores and never change or
// disappear while the table lives. Writers are serialized by the caller's mutex. The capacity is
// fixed at twice the entry limit (a power of two), so it never resizes and linear probes stay
// short. Once `max_entries` entries are in, `full()` lets a reader skip the writer's lock.

#ifndef VITALS_AGENT_LABEL_TABLE_H_
#define VITALS_AGENT_LABEL_TABLE_H_

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
  explicit LabelTable(size_t max_entries) : max_entries_(max_entries) {
    size_t cap = 8;
    while (cap < 2 * max_entries + 2) cap <<= 1;
    slots_ = std::unique_ptr<std::atomic<Entry*>[]>(new std::atomic<Entry*>[cap]);
    for (size_t i = 0; i < cap; ++i) slots_[i].store(nullptr, std::memory_order_relaxed);
    mask_ = cap - 1;
  }

  // Lock-free. Null when absent.
  T* Find(uint64_t hash, absl::Span<const absl::string_view> key) const {
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Entry* e = slots_[i].load(std::memory_order_acquire);
      if (e == nullptr) return nullptr;
      if (e->hash == hash && Equal(e->key, key)) return e->value;
    }
  }

  // Caller holds the writers' mutex and has checked that `key` is absent. False when full.
  bool Insert(uint64_t hash, absl::Span<const absl::string_view> key, T* value) {
    if (size_ >= max_entries_) return false;
    auto entry = std::make_unique<Entry>();
    entry->hash = hash;
    entry->key.reserve(key.size());
    for (absl::string_view k : key) entry->key.emplace_back(k);
    entry->value = value;
    size_t i = hash & mask_;
    while (slots_[i].load(std::memory_order_relaxed) != nullptr) i = (i + 1) & mask_;
    slots_[i].store(entry.get(), std::memory_order_release);
    owned_.push_back(std::move(entry));
    if (++size_ >= max_entries_) full_.store(true, std::memory_order_release);
    return true;
  }

  bool full() const { return full_.load(std::memory_order_acquire); }
  size_t size() const { return size_; }  // caller holds the writers' mutex

 private:
  struct Entry {
    uint64_t hash;
    std::vector<std::string> key;
    T* value;
  };

  static bool Equal(const std::vector<std::string>& a, absl::Span<const absl::string_view> b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (absl::string_view(a[i]) != b[i]) return false;
    }
    return true;
  }

  const size_t max_entries_;
  size_t mask_ = 0;
  std::unique_ptr<std::atomic<Entry*>[]> slots_;
  std::vector<std::unique_ptr<Entry>> owned_;
  size_t size_ = 0;
  std::atomic<bool> full_{false};
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_LABEL_TABLE_H_
