#include "agent/core/exemplar.h"

#include <cstring>

#include "absl/time/clock.h"

namespace vitals {
namespace internal {

int64_t UnixOffsetNanos(const Clock& clock) {
  // Bracket the wall-clock read with two reads of `clock` and take their middle.
  const int64_t before = clock.NowNanos();
  const int64_t unix_nanos = absl::GetCurrentTimeNanos();
  const int64_t after = clock.NowNanos();
  return unix_nanos - (before + (after - before) / 2);
}

bool ExemplarSlot::Store(const Exemplar& e, uint64_t seq) {
  if (!seq_.compare_exchange_strong(seq, seq + 1, std::memory_order_acquire,
                                    std::memory_order_relaxed)) {
    return false;
  }
  uint64_t bits;
  std::memcpy(&bits, &e.value, sizeof bits);
  trace_high_.store(e.trace.trace_id_high, std::memory_order_release);
  trace_low_.store(e.trace.trace_id_low, std::memory_order_release);
  span_.store(e.trace.span_id, std::memory_order_release);
  value_bits_.store(bits, std::memory_order_release);
  clock_nanos_.store(e.clock_nanos, std::memory_order_release);
  seq_.store(seq + 2, std::memory_order_release);
  return true;
}

bool ExemplarSlot::Read(Exemplar& out) const {
  // A writer is inside for a few stores; one preempted there could hold the slot for a while,
  // so a scrape gives up on this bucket's exemplar after a bounded number of tries.
  for (int tries = 0; tries < 1000; ++tries) {
    const uint64_t before = seq_.load(std::memory_order_acquire);
    if (before == 0) return false;
    if (before & 1) continue;
    out.trace.trace_id_high = trace_high_.load(std::memory_order_acquire);
    out.trace.trace_id_low = trace_low_.load(std::memory_order_acquire);
    out.trace.span_id = span_.load(std::memory_order_acquire);
    const uint64_t bits = value_bits_.load(std::memory_order_acquire);
    out.clock_nanos = clock_nanos_.load(std::memory_order_acquire);
    if (seq_.load(std::memory_order_relaxed) != before) continue;
    std::memcpy(&out.value, &bits, sizeof bits);
    return true;
  }
  return false;
}

}  // namespace internal
}  // namespace vitals
