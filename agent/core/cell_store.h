// agent/core/cell_store.h: allocation of cell ranges, their per-CPU copies, and summing them.
//
// Threading model (no lock is shared between recording and reading):
// - Cells live in chunks of kChunkCells; each chunk holds one copy of its cells per CPU plus
//   the fallback stripes (vitals/detail/cells.h). A chunk is allocated the first time any
//   thread records into it and published with a compare-and-swap (release); readers load the
//   pointer with acquire. Chunks are never freed.
// - A record adds to its CPU's copy in a restartable sequence. Where rseq is not registered
//   (another architecture, or glibc.pthread.rseq=0), it adds with a compare-and-swap to one of
//   the fallback stripes, chosen per thread round-robin; rseq writers never touch the stripes,
//   so the two kinds of writer never mix on one copy.
// - Threads own nothing: a thread's start and exit cost nothing, and memory and scrape cost
//   follow the number of CPUs, never the number of threads alive or gone.
// - Readers (scrapes, Counter::Value) sum every copy with relaxed loads, without a lock.
// - `alloc_mu_` guards only the allocation of cell ranges and the free lists. Freed ranges are
//   zeroed in every copy before reuse, so a new series starts at zero.
// The store is a leaked process-wide singleton: records may come from thread-exit hooks that
// run after static destructors.

#ifndef VITALS_AGENT_CORE_CELL_STORE_H_
#define VITALS_AGENT_CORE_CELL_STORE_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "agent/base/mutex.h"
#include "vitals/detail/cells.h"

namespace vitals {
namespace internal {

class CellStore {
 public:
  static CellStore& Get();

  // A range of `n` zeroed cells (1 <= n <= kChunkCells) inside one chunk, starting at an even
  // cell (16-byte aligned), or -1 when the store is exhausted.
  int64_t Allocate(uint32_t n) ABSL_LOCKS_EXCLUDED(alloc_mu_);
  void Free(uint64_t base, uint32_t n) ABSL_LOCKS_EXCLUDED(alloc_mu_);
  // Zeroes cells [base, base + n) in every copy, for a range that stays allocated and that no
  // thread writes any more (a removed series about to be reused).
  void Zero(uint64_t base, uint32_t n) { ZeroRange(base, n); }

  // Sums cells [base, base + n) over all copies into `out` (overwritten). Lock-free.
  void Sum(uint64_t base, uint32_t n, double* out) const;
  double ReadF64(uint64_t index) const;
  // One copy of a cell (CPU `copy`, or a fallback stripe past the CPUs); for tests.
  double ReadCopy(uint64_t index, uint32_t copy) const;
  // Adds `amount` to copy `copy` of cells [base, base + n), as a thread that ran on that CPU
  // would have: for the big-host benchmark, which fills every emulated CPU's copy. Not for
  // recording (no restartable sequence; racing records on that copy would lose adds).
  void AddToCopyForBenchmark(uint64_t base, uint32_t n, uint32_t copy, double amount);

  // Whether records take the restartable per-CPU path (else every record takes the fallback).
  bool rseq_active() const { return g_cell_table.cpus > 0; }
  // Copies of each cell: one per CPU (when rseq is active) plus the fallback stripes.
  uint32_t copies() const { return g_cell_table.cpus + stripes_; }
  // Chunks allocated so far, and their bytes; for tests and the threads benchmark.
  size_t chunk_count() const { return chunk_count_.load(std::memory_order_relaxed); }
  size_t chunk_bytes() const;

  // The CPU-0 copy of cell `index`, its chunk mapped if needed (SeriesCells::cpu0); null for a
  // bad index or when no memory is left for the chunk.
  Cell* CpuZeroCopy(uint64_t index);

  // Hooks for vitals/detail/cells.h.
  void SlowAdd(uint64_t index, double amount);
  void SlowAddPair(uint64_t index, double value);
  // The compare-and-swap adds to the calling thread's fallback stripe.
  void FallbackAdd(Cell* cpu0, double amount);
  void FallbackAddPair(Cell* cpu0, double value);

 private:
  CellStore();
  Cell* ChunkFor(uint64_t chunk_index);  // allocates the chunk when it does not exist yet
  void ZeroRange(uint64_t base, uint32_t n);
  // The calling thread's fallback stripe copy of the cell whose CPU-0 copy is `cpu0`.
  Cell* StripeCopy(Cell* cpu0);
  static void CasAdd(Cell* cell, double amount);

  uint32_t stripes_ = 1;  // fallback copies after the CPU copies
  std::atomic<uint32_t> next_stripe_{0};
  std::atomic<size_t> chunk_count_{0};
  internal::Mutex alloc_mu_;
  uint64_t next_ ABSL_GUARDED_BY(alloc_mu_) = 0;
  std::map<uint32_t, std::vector<uint64_t>> free_ ABSL_GUARDED_BY(alloc_mu_);
};

// Makes the store keep `cpus` CPU copies instead of the machine's, to emulate a bigger host
// (bench/big_host_bench.cc; records from the real CPUs land in their own copies). Only before
// the store is first used; false when it is too late or `cpus` is 0 or above kMaxCpus.
bool EmulateCpusForBenchmark(uint32_t cpus);

// The number of CPU copies to keep: the highest CPU number listed in `present` ("0-3,8-11",
// the format of /sys/devices/system/cpu/present) plus one, or `fallback` when the text does not
// parse; at most kMaxCpus (CPUs above it take the fallback path). Exposed for tests.
inline constexpr uint32_t kMaxCpus = 4096;
uint32_t CpuCopiesFromList(const std::string& present, uint32_t fallback);

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_CORE_CELL_STORE_H_
