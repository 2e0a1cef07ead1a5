#include "agent/executor/running_tasks.h"

#include <algorithm>
#include <cstring>

namespace vitals {
namespace internal {
namespace {

// Where this thread looks for a free slot first: the slot it released last, or a spread start.
uint32_t& SlotHint() {
  static std::atomic<uint32_t> next_thread{0};
  thread_local uint32_t hint = next_thread.fetch_add(1, std::memory_order_relaxed);
  return hint;
}

}  // namespace

RunningTasks::RunningTasks(uint32_t slots)
    : size_(std::max<uint32_t>(slots, 1)), slots_(new Slot[size_]) {}

uint32_t RunningTasks::Claim(int64_t start_nanos, absl::string_view name) {
  uint32_t& hint = SlotHint();
  const uint32_t first = hint % size_;
  for (uint32_t k = 0; k < size_; ++k) {
    const uint32_t i = first + k < size_ ? first + k : first + k - size_;
    Slot& s = slots_[i];
    uint64_t seq = s.seq.load(std::memory_order_relaxed);
    if ((seq & 3) != 0) continue;
    if (!s.seq.compare_exchange_strong(seq, seq + 1, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
      continue;
    }
    hint = i;
    uint64_t words[kMaxNameBytes / 8] = {};
    const size_t n = std::min(name.size(), kMaxNameBytes);
    if (n > 0) std::memcpy(words, name.data(), n);
    s.start.store(start_nanos, std::memory_order_release);
    for (size_t w = 0; w < kMaxNameBytes / 8; ++w)
      s.name[w].store(words[w], std::memory_order_release);
    s.name_size.store(static_cast<uint32_t>(n), std::memory_order_release);
    s.seq.store(seq + 2, std::memory_order_release);
    return i;
  }
  unwatched_.fetch_add(1, std::memory_order_relaxed);
  return kNoSlot;
}

void RunningTasks::Release(uint32_t slot) {
  if (slot >= size_) return;
  SlotHint() = slot;  // the next task of this thread starts looking here: it is free
  Slot& s = slots_[slot];
  s.seq.store(s.seq.load(std::memory_order_relaxed) + 2, std::memory_order_release);
}

void RunningTasks::Scan(absl::FunctionRef<void(const Running&)> fn) const {
  for (uint32_t i = 0; i < size_; ++i) {
    const Slot& s = slots_[i];
    const uint64_t before = s.seq.load(std::memory_order_acquire);
    if ((before & 3) != 2) continue;
    Running r;
    r.start_nanos = s.start.load(std::memory_order_acquire);
    char bytes[kMaxNameBytes];
    for (size_t w = 0; w < kMaxNameBytes / 8; ++w) {
      const uint64_t word = s.name[w].load(std::memory_order_acquire);
      std::memcpy(bytes + 8 * w, &word, 8);
    }
    const uint32_t n = std::min<uint32_t>(s.name_size.load(std::memory_order_acquire),
                                          static_cast<uint32_t>(kMaxNameBytes));
    if (s.seq.load(std::memory_order_relaxed) != before) continue;  // it ended meanwhile
    // The generation (sequence / 4) and the slot make the run's id.
    r.id = (before >> 2) * size_ + i;
    r.name.assign(bytes, n);
    fn(r);
  }
}

}  // namespace internal
}  // namespace vitals
