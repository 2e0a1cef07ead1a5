// agent/core/exemplar.h: one exemplar per histogram bucket, written without a lock.
//
// A slot holds the last trace recorded into its bucket: trace and span ids, the observed value
// and when (the agent clock's nanoseconds; the exporter turns them into Unix time). Writers
// and readers never block each other:
// - A writer first reads the slot's sequence and time. It leaves the slot alone when another
//   writer holds it (odd sequence) or when the exemplar there is younger than
//   kExemplarMinIntervalNanos, so a busy bucket costs two loads of a line that stays shared,
//   not a write per request. Otherwise it claims the slot with one compare-and-swap (even to
//   odd), stores the fields (release) and publishes the next even sequence (release). A writer
//   that loses the race drops its exemplar: one per bucket is all that is kept anyway.
// - A reader (a scrape) copies the fields between two reads of the sequence and retries when
//   a writer was inside (a seqlock). Fields are atomics loaded with acquire: a reader that saw
//   any new field also sees the odd sequence that preceded it, so a torn copy never passes.
// No allocation: a series' slots are allocated with the series.

#ifndef VITALS_AGENT_CORE_EXEMPLAR_H_
#define VITALS_AGENT_CORE_EXEMPLAR_H_

#include <atomic>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "vitals/clock.h"
#include "vitals/trace_context.h"

namespace vitals {
namespace internal {

// A trace's ids as lower-case hex in buffers of its own, as the exemplar labels print them (a
// scrape writes one per exemplar and must not allocate). TraceContext::TraceIdHex uses it too.
class TraceHex {
 public:
  explicit TraceHex(const TraceContext& trace);
  absl::string_view trace_id() const { return absl::string_view(trace_, sizeof trace_); }
  absl::string_view span_id() const { return absl::string_view(span_, sizeof span_); }

 private:
  char trace_[32];
  char span_[16];
};

// An exemplar younger than this is not replaced (a bucket changes hands at most 10 times a
// second); an older one is replaced by the next traced value in its bucket.
inline constexpr int64_t kExemplarMinIntervalNanos = 100'000'000;

struct Exemplar {
  TraceContext trace;
  double value = 0;
  int64_t clock_nanos = 0;  // when, on the agent's clock
};

// What to add to `clock`'s nanoseconds to get Unix nanoseconds, now.
int64_t UnixOffsetNanos(const Clock& clock);

class ExemplarSlot {
 public:
  // Stores `e` unless the slot is busy or holds a younger exemplar (see above). Returns
  // whether it stored it. Lock-free; no allocation. The refusal (the common case) is inline.
  bool Offer(const Exemplar& e) {
    uint64_t seq = seq_.load(std::memory_order_relaxed);
    if (seq & 1) return false;  // another writer is inside
    if (seq != 0 &&
        e.clock_nanos - clock_nanos_.load(std::memory_order_relaxed) < kExemplarMinIntervalNanos) {
      return false;
    }
    return Store(e, seq);
  }

  // Whether Offer would try to store an exemplar taken at `clock_nanos` (the inline refusal,
  // without storing).
  bool Wants(int64_t clock_nanos) const {
    const uint64_t seq = seq_.load(std::memory_order_relaxed);
    if (seq & 1) return false;
    return seq == 0 ||
           clock_nanos - clock_nanos_.load(std::memory_order_relaxed) >= kExemplarMinIntervalNanos;
  }
  // Empties the slot; only when no writer or reader can reach it (a reused series).
  void Clear() {
    seq_.store(0, std::memory_order_relaxed);
    clock_nanos_.store(0, std::memory_order_relaxed);
  }

  // The slot's exemplar; false when it never held one, or when a writer stayed inside for
  // 1,000 tries (preempted between its stores). Lock-free.
  bool Read(Exemplar& out) const;

 private:
  // Claims the slot from sequence `seq` and writes `e`; false when another writer claimed it.
  bool Store(const Exemplar& e, uint64_t seq);

  std::atomic<uint64_t> seq_{0};  // odd while a writer is inside; 0: never written
  std::atomic<int64_t> clock_nanos_{0};
  std::atomic<uint64_t> trace_high_{0}, trace_low_{0}, span_{0}, value_bits_{0};
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_CORE_EXEMPLAR_H_
