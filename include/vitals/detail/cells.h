// vitals/detail/cells.h: the per-thread cells behind every metric. Not API; shipped because the
// hot-path recording calls are inline.
//
// Every series owns a small, contiguous range of cell indices. Each thread that records gets its
// own arena of 8-byte cells (allocated in 8 KiB chunks on first touch), and writes only its own
// arena, with a plain load and store: no lock, no atomic read-modify-write, no cache line shared
// with another writer. A scrape sums a cell over all arenas, plus the totals folded in from
// threads that have exited. See agent/cell_store.cc for the threading notes.

#ifndef VITALS_DETAIL_CELLS_H_
#define VITALS_DETAIL_CELLS_H_

#include <atomic>
#include <cstdint>
#include <cstring>

#include "absl/base/optimization.h"

namespace vitals {
namespace internal {

inline constexpr int kChunkShift = 10;
inline constexpr uint64_t kChunkCells = uint64_t{1} << kChunkShift;  // 8 KiB of cells
inline constexpr uint64_t kMaxChunks = 8192;                         // 8M cells in all

using Cell = std::atomic<uint64_t>;

struct Arena {
  std::atomic<Cell*> chunks[kMaxChunks];
};

// The calling thread's arena, or null before its first record. `__thread`, not `thread_local`:
// a C++ `extern thread_local` is reached through a wrapper that checks for a dynamic
// initializer on every access, which costs the hot path a few nanoseconds; `__thread` is a
// plain TLS load.
extern __thread Arena* tls_arena;

// Creates this thread's arena and/or the chunk holding `index`, then returns the cell.
Cell* SlowThreadCell(uint64_t index);

// The calling thread's cell number `index`. Cells of one series never straddle a chunk, so the
// pointer to a series' first cell may be indexed for the rest of its cells.
inline Cell* ThreadCell(uint64_t index) {
  Arena* arena = tls_arena;
  if (ABSL_PREDICT_TRUE(arena != nullptr)) {
    Cell* chunk = arena->chunks[index >> kChunkShift].load(std::memory_order_relaxed);
    if (ABSL_PREDICT_TRUE(chunk != nullptr)) return chunk + (index & (kChunkCells - 1));
  }
  return SlowThreadCell(index);
}

inline double CellToDouble(uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

inline uint64_t DoubleToCell(double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  return bits;
}

// Single-writer add: only the owning thread writes its cells, readers load them atomically.
// Every cell holds a double (bucket counts too: exact up to 2^53 observations per thread).
inline void AddF64(Cell* cell, double amount) {
  cell->store(DoubleToCell(CellToDouble(cell->load(std::memory_order_relaxed)) + amount),
              std::memory_order_relaxed);
}

// Where a histogram series keeps its numbers, relative to its first cell: one count cell per
// bucket (the `num_bounds` finite bounds, then +Inf), then the sum. The one owner of this layout:
// recording, reading and rendering all go through it. Counters and gauges use one cell.
struct HistogramLayout {
  uint32_t num_bounds = 0;
  // Count cells, +Inf included: cells [0, buckets()) are per-bucket (not cumulative) counts.
  constexpr uint32_t buckets() const { return num_bounds + 1; }
  // The cell of the sum of all observations.
  constexpr uint32_t sum() const { return num_bounds + 1; }
  // Cells of one series.
  constexpr uint32_t cells() const { return num_bounds + 2; }
};

// The part of a series the hot path reads.
struct SeriesCore {
  uint64_t cell = 0;
  const double* bounds = nullptr;
  uint32_t num_bounds = 0;
  HistogramLayout layout() const { return HistogramLayout{num_bounds}; }
};

// Index of the bucket that counts `value`: the first bound >= value, or num_bounds for +Inf.
inline uint32_t BucketIndex(const double* bounds, uint32_t num_bounds, double value) {
  uint32_t i = 0;
  if (num_bounds <= 16) {
    while (i < num_bounds && value > bounds[i]) ++i;
    return i;
  }
  uint32_t lo = 0, hi = num_bounds;  // binary search for larger layouts
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    if (value > bounds[mid]) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

inline void ObserveInto(const SeriesCore& s, double value) {
  if (ABSL_PREDICT_FALSE(value != value)) return;  // NaN
  Cell* cells = ThreadCell(s.cell);
  AddF64(cells + BucketIndex(s.bounds, s.num_bounds, value), 1.0);
  AddF64(cells + s.layout().sum(), value);
}

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_DETAIL_CELLS_H_
