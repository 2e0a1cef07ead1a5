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
// - A series starts in its shared form (SeriesCells): one copy, compare-and-swap adds, on
//   cache lines of its own (AllocateShared). Its shared records are sampled per thread (one in
//   kVoteEvery casts a vote; a collision with another thread casts kPromoteVotes); at
//   kPromoteVotes the recording thread promotes it (Promote) if the per-CPU cells of all
//   promoted series stay within the limit (SetPerCpuLimit). Promotion takes `alloc_mu_` with a
//   try-lock, so a record never waits: when it is busy, a later vote tries again.
// - `alloc_mu_` guards the allocation of cell ranges, the free lists and the promoted bytes.
//   Freed ranges are zeroed in every copy before reuse, so a new series starts at zero.
// The store is a leaked process-wide singleton: records may come from thread-exit hooks that
// run after static destructors.

#ifndef VITALS_AGENT_CORE_CELL_STORE_H_
#define VITALS_AGENT_CORE_CELL_STORE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "agent/base/mutex.h"
#include "vitals/detail/cells.h"

namespace vitals {
namespace internal {

// Promotion thresholds: one shared record in kVoteEvery (per thread) votes for its series, and
// a series with kPromoteVotes votes (about 256 records; one collision) is promoted.
inline constexpr uint32_t kVoteEvery = 64;
inline constexpr uint32_t kPromoteVotes = 4;

// The per-CPU memory all promoted series may take, unless an agent sets another
// (Options::per_cpu_memory_mib).
inline constexpr size_t kDefaultPerCpuLimitBytes = size_t{16} << 20;

// Owns a series' shared cells (SeriesCells::shared).
struct SharedCellsDelete {
  void operator()(Cell* cells) const;
};
using SharedCells = std::unique_ptr<Cell[], SharedCellsDelete>;

class CellStore {
 public:
  static CellStore& Get();

  // `n` zeroed shared cells on cache lines of their own: SharedBytes(n) bytes.
  static SharedCells AllocateShared(uint32_t n);
  static constexpr size_t SharedBytes(uint32_t n) {
    return (size_t{n} * sizeof(Cell) + 63) / 64 * 64;
  }
  // The bytes of `s`'s per-CPU form: its classic and native cells in every copy.
  size_t PerCpuBytes(const SeriesCells& s) const {
    return size_t{s.num_cells + s.native_cells()} * copies() * sizeof(Cell);
  }
  // A compare-and-swap add of `amount` to `cell`; true when another thread's write came between
  // its load and its first compare-and-swap (a collision).
  static bool CasAdd(Cell* cell, double amount);

  // Promotes `s` to per-CPU cells (without rseq: to the fallback stripes) unless it is
  // already, the limit would be passed, or another thread holds the allocation lock (then a
  // later vote retries). Returns
  // whether `s` is per-CPU now. Any thread; the record path calls it through NoteSharedRecord.
  bool Promote(SeriesCells& s) ABSL_LOCKS_EXCLUDED(alloc_mu_);
  // Counts a shared record of `s` towards its promotion (`collided`: its compare-and-swap met
  // another thread's) and promotes it at kPromoteVotes.
  void NoteSharedRecord(const SeriesCells& s, bool collided);
  // Sums cells [offset, offset + n) of series `s`, both forms, into `out` (overwritten). The
  // range is within the classic cells or within the native ones. Lock-free.
  void SumSeries(const SeriesCells& s, uint32_t offset, uint32_t n, double* out) const;
  // Zeroes both forms of a series that no thread writes any more (removed, about to be reused),
  // and its votes; a promoted series stays promoted.
  void ZeroSeries(const SeriesCells& s);
  // Returns a series' per-CPU cells, if it has any, when its family is destroyed.
  void FreeSeries(const SeriesCells& s) ABSL_LOCKS_EXCLUDED(alloc_mu_);
  // The per-CPU bytes promoted series may take in all (process-wide; every agent sets it from
  // its options when it is made). Series promoted before a lower limit keep their cells.
  void SetPerCpuLimit(size_t bytes) ABSL_LOCKS_EXCLUDED(alloc_mu_);
  size_t per_cpu_limit() const { return per_cpu_limit_.load(std::memory_order_relaxed); }
  // The per-CPU bytes and the number of series promoted so far (live ones; for tests, the
  // benchmark and the agent's own metrics).
  size_t promoted_bytes() const { return promoted_bytes_.load(std::memory_order_relaxed); }
  size_t promoted_series() const { return promoted_series_.load(std::memory_order_relaxed); }
  // The last promotion did not fit under the limit: busy series stay shared from now on.
  bool per_cpu_full() const { return full_.load(std::memory_order_relaxed); }

  // A range of `n` zeroed cells (1 <= n <= kChunkCells) inside one chunk, starting at an even
  // cell (16-byte aligned), or -1 when the store is exhausted.
  int64_t Allocate(uint32_t n) ABSL_LOCKS_EXCLUDED(alloc_mu_);
  void Free(uint64_t base, uint32_t n) ABSL_LOCKS_EXCLUDED(alloc_mu_);

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
  int64_t AllocateLocked(uint32_t n) ABSL_EXCLUSIVE_LOCKS_REQUIRED(alloc_mu_);
  void FreeLocked(uint64_t base, uint32_t n) ABSL_EXCLUSIVE_LOCKS_REQUIRED(alloc_mu_);
  Cell* ChunkFor(uint64_t chunk_index);  // allocates the chunk when it does not exist yet
  void ZeroRange(uint64_t base, uint32_t n);
  // Adds the sums of cells [base, base + n) over all copies to `out`.
  void Accumulate(uint64_t base, uint32_t n, double* out) const;
  // The calling thread's fallback stripe copy of the cell whose CPU-0 copy is `cpu0`.
  Cell* StripeCopy(Cell* cpu0);
  // The add to the calling thread's stripe `cell`; a thread that met another there moves on.
  void StripeCasAdd(Cell* cell, double amount);

  uint32_t stripes_ = 1;  // fallback copies after the CPU copies
  std::atomic<uint32_t> next_stripe_{0};
  std::atomic<size_t> chunk_count_{0};
  internal::Mutex alloc_mu_;
  uint64_t next_ ABSL_GUARDED_BY(alloc_mu_) = 0;
  std::map<uint32_t, std::vector<uint64_t>> free_ ABSL_GUARDED_BY(alloc_mu_);
  // Written under alloc_mu_; atomics so that records and readers may look without it.
  std::atomic<size_t> per_cpu_limit_{kDefaultPerCpuLimitBytes};
  std::atomic<size_t> promoted_bytes_{0};
  std::atomic<size_t> promoted_series_{0};
  std::atomic<bool> full_{false};  // the last promotion did not fit: votes stop trying
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
