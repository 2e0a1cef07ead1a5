// agent/core/series_reclaim.h: when a removed series' cells and record may be reused.
//
// A public handle (Counter, Gauge, Histogram) records only while its series' generation is the
// one it was made at (SeriesCells::generation). Removing a series moves the generation; from
// then on a handle's record is dropped, but a record that read the old generation just before
// may still be on its way. Two kinds of writer, two ways to wait for them:
// - A record on the per-CPU path compares the generation inside its restartable sequence
//   (RestartableAddChecked). A membarrier with MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ restarts
//   every such sequence in flight on every CPU; a restarted one reads the new generation and
//   drops its add. So after one membarrier no add for an old generation can commit.
// - A record on the compare-and-swap fallback, and Gauge::Set and exemplar stores, run inside
//   `WhileGeneration`: a writer count is raised (one of 64 padded slots, picked per thread, and
//   in it the count of the current reclaim epoch), then the generation compared (both
//   sequentially consistent). The reclaimer, which moved the generation first, flips the epoch
//   and waits for the previous epoch's counts to drain: new writers count in the new epoch and
//   compare after the move, so they drop, and the old counts only fall. A writer that raised an
//   old count after the flip sees the flip when it re-reads the epoch, and backs out before it
//   compares. (Waiting for a single count to be seen at zero would starve under writers that
//   record without pause; the epoch is what lets the old counts drain.)
// A family reuses a removed series (its struct and its cells, zeroed) only after ReclaimGrace()
// held at a moment no scrape was reading the family. Where the membarrier is not available
// (kernels before 5.10, or a seccomp filter that refuses it), removed series are never reused:
// they stay out of the exposition and their handles still record nothing, but their memory is
// kept (CanReuseRemovedSeries says why).
//
// Thread-safety: all functions may be called from any thread. Cost: WhileGeneration is two
// loads of the epoch (a line written only by a reclaim) and two atomic adds on a line shared by
// the threads that picked the same slot; only fallback records, Gauge::Set and exemplar
// replacements (at most 10 a second per bucket) take it.

#ifndef VITALS_AGENT_CORE_SERIES_RECLAIM_H_
#define VITALS_AGENT_CORE_SERIES_RECLAIM_H_

#include <atomic>
#include <cstdint>
#include <string>

namespace vitals {
namespace internal {

inline constexpr int kCheckedWriterCounts = 64;
struct alignas(64) CheckedWriterCount {
  std::atomic<uint64_t> n[2] = {};  // writers inside, by the epoch's low bit when they entered
};
extern CheckedWriterCount g_checked_writers[kCheckedWriterCounts];
struct alignas(64) ReclaimEpoch {
  std::atomic<uint32_t> value{0};
};
extern ReclaimEpoch g_reclaim_epoch;

// The calling thread's slot (assigned round-robin at its first use).
CheckedWriterCount& ThreadWriterCount();

// Runs fn() while `gen` is `expected`, counted as a checked writer. Returns whether it ran.
template <typename Fn>
bool WhileGeneration(const std::atomic<uint32_t>& gen, uint32_t expected, Fn&& fn) {
  CheckedWriterCount& count = ThreadWriterCount();
  uint32_t e = g_reclaim_epoch.value.load(std::memory_order_seq_cst) & 1;
  for (;;) {
    count.n[e].fetch_add(1, std::memory_order_seq_cst);
    // Unchanged epoch: the add came before any later flip, so that flip's reclaimer waits for
    // it. Changed: back out and count in the new one.
    const uint32_t now = g_reclaim_epoch.value.load(std::memory_order_seq_cst) & 1;
    if (now == e) break;
    count.n[e].fetch_sub(1, std::memory_order_release);
    e = now;
  }
  const bool current = gen.load(std::memory_order_seq_cst) == expected;
  if (current) fn();
  count.n[e].fetch_sub(1, std::memory_order_release);
  return current;
}

// True when the series whose generations were moved before this call may be reused: the
// membarrier ran (or rseq is not in use), the epoch flipped, and every writer counted before
// the flip has left. Reclaims are serialized by a mutex. Costs one membarrier system call
// (about 0.1-1 us) and 128 loads, a few more for a count still draining (at most 1,000 each,
// then up to 20 yields of the CPU to a writer preempted inside; false if it is still inside).
bool ReclaimGrace();

// Whether removed series can be reused in this process at all; when not, `why` says why.
bool CanReuseRemovedSeries(std::string* why = nullptr);

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_CORE_SERIES_RECLAIM_H_
