// vitals/detail/cells.h: the per-CPU cells behind every metric. Not API; shipped because the
// hot-path recording calls are inline.
//
// A series written often owns a small, contiguous range of cell indices in the cell store
// (until then, one shared copy of its cells: SeriesCells). Each cell exists once per CPU
// (8-byte doubles; a CPU's copies of 1,024 consecutive cells form an 8 KiB block, so two CPUs
// never share a cache line). A record adds to the copy of the CPU it runs on inside a
// restartable sequence (Linux rseq, registered for every thread by glibc 2.35 and later): a
// load, an add and a store that the kernel restarts if the thread is preempted, migrated or
// signalled before the store. No lock, no atomic read-modify-write, no cache line another CPU
// writes; and memory and scrape cost follow the number of CPUs, not the number of threads.
// A histogram observe is one such sequence on a 16-byte (count, sum) pair. A scrape sums a
// cell's copies. Where rseq is not available (another architecture or C library, or glibc's
// rseq turned off with GLIBC_TUNABLES=glibc.pthread.rseq=0), records take the fallback: a
// compare-and-swap add on a fallback stripe, chosen per thread, that rseq writers never touch.
// See agent/core/cell_store.h and docs/architecture.md for the threading notes.

#ifndef VITALS_DETAIL_CELLS_H_
#define VITALS_DETAIL_CELLS_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "vitals/detail/export.h"
#include "vitals/detail/native_buckets.h"

#ifdef __SSE2__
#include <emmintrin.h>  // the 16-byte add of a histogram pair
#endif

#if defined(__x86_64__) && defined(__linux__) && !defined(VITALS_NO_RSEQ) && __has_include(<sys/rseq.h>)
#include <sys/rseq.h>
#if defined(RSEQ_SIG) && RSEQ_SIG == 0x53053053
#define VITALS_HAVE_RSEQ 1
#endif
#endif

namespace vitals {
namespace internal {

inline constexpr int kChunkShift = 10;
inline constexpr uint64_t kChunkCells = uint64_t{1} << kChunkShift;  // 8 KiB per CPU
inline constexpr uint64_t kMaxChunks = 8192;                         // 8M cells in all

using Cell = std::atomic<uint64_t>;

// Chunk i holds cells [i * kChunkCells, (i + 1) * kChunkCells) for every CPU: CPU c's copy of
// cell k is at chunks[i][c * kChunkCells + (k % kChunkCells)]. `cpus` is fixed before the first
// chunk is published (release), so a reader that found a chunk (acquire) sees it.
struct CellTable {
  // __rseq_offset, copied here so that a record finds it next to `cpus` with one load.
  int64_t rseq_offset;
  uint32_t cpus;  // CPU copies per chunk: the highest present CPU number + 1; 0 without rseq
  std::atomic<Cell*> chunks[kMaxChunks];
};
extern VITALS_EXPORT CellTable g_cell_table;

// Adds `amount` to cell `index` when the fast path cannot: the cell's chunk does not exist yet
// (it is allocated), or rseq is not available (the compare-and-swap fallback).
VITALS_EXPORT void SlowAddToCell(uint64_t index, double amount);
// The compare-and-swap fallback for a cell whose CPU-0 copy a recorder holds (AddToCellAt,
// AddToPairAt): rseq is not available to this thread.
VITALS_EXPORT void SlowAddToCellAt(Cell* cpu0, double amount);
VITALS_EXPORT void SlowAddToPairAt(Cell* cpu0, double value);

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

#ifdef VITALS_HAVE_RSEQ
// The parts of a restartable sequence around its load, add and store (AddOnThisCpu says how
// it works). Label 3 is the descriptor, 1 the start, 2 the commit (just past the store), 4 the
// abort handler, preceded by the signature the kernel checks.
#define VITALS_RSEQ_BEGIN               \
  ".pushsection __rseq_cs, \"aw?\"\n\t" \
  ".balign 32\n\t"                      \
  "3:\n\t"                              \
  ".long 0x0, 0x0\n\t"                  \
  ".quad 1f, (2f - 1f), 4f\n\t"         \
  ".popsection\n\t"                     \
  "leaq 3b(%%rip), %%rax\n\t"           \
  "movq %%rax, %%fs:8(%[rseq])\n\t"     \
  "1:\n\t"                              \
  "cmpl %[cpu], %%fs:4(%[rseq])\n\t"    \
  "jnz 4f\n\t"
#define VITALS_RSEQ_END                      \
  "2:\n\t"                                   \
  ".pushsection __rseq_failure, \"ax?\"\n\t" \
  ".byte 0x0f, 0xb9, 0x3d\n\t"               \
  ".long 0x53053053\n\t"                     \
  "4:\n\t"                                   \
  "jmp %l[restart]\n\t"                      \
  ".popsection\n\t"

// The running CPU's number from glibc's registered struct rseq (at the thread pointer +
// __rseq_offset: cpu_id at +4, rseq_cs at +8). Callers compare it with g_cell_table.cpus: a
// CPU without copies, or rseq not registered (a negative id), reads as out of range.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline uint32_t CurrentCpu() {
  uint32_t cpu;
  asm volatile("movl %%fs:4(%1), %0" : "=r"(cpu) : "r"(g_cell_table.rseq_offset));
  return cpu;
}
#endif

// A histogram bucket's count and the sum of the values it counted, side by side: one 16-byte
// store updates both, so an observe is a single restartable sequence.
struct alignas(16) CellPair {
  Cell count;
  Cell sum;
};

#ifdef VITALS_HAVE_RSEQ
// Adds `amount` to the running CPU's copy of `Target` (a Cell with a double, or a CellPair
// with two packed doubles) whose CPU-0 copy is `cpu0`, in a restartable sequence. False when
// rseq is not registered for this thread or the CPU has no copy (nothing added).
//
// The critical section publishes its descriptor in rseq_cs, checks that the thread still runs
// on the CPU read before, then loads, adds and stores; the store (one instruction, 8 or 16
// bytes) commits. Preemption, migration or a signal before the store sends the thread to the
// abort label (the kernel checks the signature before it), and the add starts over on
// whatever CPU it then runs on. The descriptor and the abort stub go in sections of the
// function's own COMDAT group (the `?` flag): when the linker drops a duplicate inline copy,
// it drops them with it. The asm names the target as its only memory operand (no "memory"
// clobber), so the compiler keeps the table and offsets in registers around it.
template <typename Target, typename Amount>
ABSL_ATTRIBUTE_ALWAYS_INLINE inline bool RestartableAdd(Cell* cpu0, Amount amount) {
  static_assert(sizeof(Target) == sizeof(Amount), "one lane per double");
  for (;;) {
    const uint32_t cpu = CurrentCpu();
    if (ABSL_PREDICT_FALSE(cpu >= g_cell_table.cpus)) return false;
    Target* target = reinterpret_cast<Target*>(cpu0 + static_cast<size_t>(cpu) * kChunkCells);
#define VITALS_RSEQ_ADD(MOV, ADD)                                                          \
  asm goto(VITALS_RSEQ_BEGIN MOV " %[target], %%xmm0\n\t" ADD " %[amount], %%xmm0\n\t" MOV \
                                 " %%xmm0, %[target]\n\t" VITALS_RSEQ_END                  \
           : [target] "+m"(*target)                                                        \
           : [cpu] "r"(cpu), [rseq] "r"(g_cell_table.rseq_offset), [amount] "x"(amount)    \
           : "cc", "rax", "xmm0"                                                           \
           : restart)
    if constexpr (sizeof(Target) == 8) {
      VITALS_RSEQ_ADD("movsd", "addsd");
    } else {
      VITALS_RSEQ_ADD("movapd", "addpd");
    }
#undef VITALS_RSEQ_ADD
    return true;
  restart:;
  }
}
#endif

#ifdef VITALS_HAVE_RSEQ
// RestartableAdd for a series that may be removed (a public handle's): inside the critical
// section, after the CPU check, it compares the series' generation with `expected` and leaves
// without adding when they differ. A removal moves the generation and then runs a membarrier
// that restarts every critical section in flight (agent/core/series_reclaim.h), so once that
// returns no add for the old generation can still commit, and the cells may be reused. Returns
// 1 when it added, 0 when the generation differed (dropped), -1 when rseq is not registered
// for this thread or the CPU has no copy (nothing added).
template <typename Target, typename Amount>
ABSL_ATTRIBUTE_ALWAYS_INLINE inline int RestartableAddChecked(Cell* cpu0, Amount amount,
                                                              const std::atomic<uint32_t>* gen,
                                                              uint32_t expected) {
  static_assert(sizeof(Target) == sizeof(Amount), "one lane per double");
  for (;;) {
    const uint32_t cpu = CurrentCpu();
    if (ABSL_PREDICT_FALSE(cpu >= g_cell_table.cpus)) return -1;
    Target* target = reinterpret_cast<Target*>(cpu0 + static_cast<size_t>(cpu) * kChunkCells);
#define VITALS_RSEQ_ADD_CHECKED(MOV, ADD)                                                      \
  asm goto(VITALS_RSEQ_BEGIN                                                                   \
           "cmpl %[expected], %[gen]\n\t"                                                      \
           "jne %l[dropped]\n\t" MOV " %[target], %%xmm0\n\t" ADD " %[amount], %%xmm0\n\t" MOV \
           " %%xmm0, %[target]\n\t" VITALS_RSEQ_END                                            \
           : [target] "+m"(*target)                                                            \
           : [cpu] "r"(cpu), [rseq] "r"(g_cell_table.rseq_offset), [amount] "x"(amount),       \
             [expected] "r"(expected), [gen] "m"(*gen)                                         \
           : "cc", "rax", "xmm0"                                                               \
           : restart, dropped)
    if constexpr (sizeof(Target) == 8) {
      VITALS_RSEQ_ADD_CHECKED("movsd", "addsd");
    } else {
      VITALS_RSEQ_ADD_CHECKED("movapd", "addpd");
    }
#undef VITALS_RSEQ_ADD_CHECKED
    return 1;
  restart:;
  }
dropped:
  return 0;
}
#endif

// Adds `amount` to the running CPU's copy of the cell whose CPU-0 copy is `cpu0`, in a
// restartable sequence. False when rseq is not registered for this thread (nothing added).
ABSL_ATTRIBUTE_ALWAYS_INLINE inline bool AddOnThisCpu(Cell* cpu0, double amount) {
#ifdef VITALS_HAVE_RSEQ
  return RestartableAdd<Cell>(cpu0, amount);
#else
  (void)cpu0;
  (void)amount;
  return false;
#endif
}

// Adds 1 to the count and `value` to the sum of the running CPU's copy of the pair whose
// CPU-0 copy is `cpu0` (16-byte aligned), in one restartable sequence. False when rseq is not
// registered for this thread (nothing added).
ABSL_ATTRIBUTE_ALWAYS_INLINE inline bool AddPairOnThisCpu(CellPair* cpu0, double value) {
#if defined(VITALS_HAVE_RSEQ) && defined(__SSE2__)
  // Low lane: the count, high lane: the sum.
  return RestartableAdd<CellPair>(&cpu0->count, _mm_set_pd(value, 1.0));
#else
  (void)cpu0;
  (void)value;
  return false;
#endif
}

// Adds to a histogram's pair starting at cell `index` when the fast path cannot (see
// SlowAddToCell).
VITALS_EXPORT void SlowAddToPair(uint64_t index, double value);

// Adds `amount` to cell `index` for the calling thread's CPU. Cost: one table load and a
// restartable add (about 4 ns for a counter increment here; BENCHMARKS.md).
ABSL_ATTRIBUTE_ALWAYS_INLINE inline void AddToCell(uint64_t index, double amount) {
  Cell* chunk = g_cell_table.chunks[index >> kChunkShift].load(std::memory_order_acquire);
  if (ABSL_PREDICT_TRUE(chunk != nullptr) &&
      ABSL_PREDICT_TRUE(AddOnThisCpu(chunk + (index & (kChunkCells - 1)), amount))) {
    return;
  }
  SlowAddToCell(index, amount);
}

// AddToCell for a cell whose CPU-0 copy (SeriesCells::cpu0) the caller holds: no table load,
// so one dependent load less between the caller's pointer and the add.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline void AddToCellAt(Cell* cpu0, double amount) {
  if (ABSL_PREDICT_TRUE(AddOnThisCpu(cpu0, amount))) return;
  SlowAddToCellAt(cpu0, amount);
}

// Where a histogram series keeps its numbers, relative to its first cell (always even, so
// pairs are 16-byte aligned): for each bucket (the `num_bounds` finite bounds, then +Inf) a
// CellPair of its count and the sum of the values it counted. Readers fold that into `values`:
// per-bucket (not cumulative) counts, then the sum of all observations. The one owner of this
// layout: recording, reading and rendering all go through it. Counters and gauges use one cell.
struct HistogramLayout {
  uint32_t num_bounds = 0;
  // Buckets, +Inf included.
  constexpr uint32_t buckets() const { return num_bounds + 1; }
  // Cells of one series in the store.
  constexpr uint32_t cells() const { return 2 * buckets(); }
  // The first cell of bucket `i`'s pair (its count; the sum follows).
  static constexpr uint32_t pair(uint32_t i) { return 2 * i; }
  // The folded view: values [0, buckets()) are per-bucket counts, value sum() the sum.
  constexpr uint32_t values() const { return buckets() + 1; }
  constexpr uint32_t sum() const { return buckets(); }
  // Folds summed cells (cells() of them) into values (values() of them). `cells` and `out`
  // may be the same array.
  void Fold(const double* cells, double* out) const {
    double total = 0;
    for (uint32_t i = 0; i < buckets(); ++i) {
      const double count = cells[pair(i)];
      total += cells[pair(i) + 1];
      out[i] = count;
    }
    out[sum()] = total;
  }
};

// The number of entries of a bucket-exponent index (see SeriesCells::by_exponent).
inline constexpr uint32_t kExponentIndexSize = 2049;

// The part of a series the hot path reads.
//
// A series has two forms (docs/architecture.md, "Memory per series"). It starts *shared*: one
// copy of its cells (`shared`, on lines of its own), added to with a compare-and-swap, which
// costs 8 bytes a cell on any host. A series written often is *promoted* to per-CPU cells: a
// range in the cell store, one copy per CPU, added to in a restartable sequence. Promotion
// happens once, on the record path, when a sampled count of the series' shared records reaches
// a threshold or two threads collided on its shared cells (CellStore::NoteSharedRecord), and
// only while the process's per-CPU cells stay under their limit (Options::per_cpu_memory_mib);
// the shared cells are kept and summed with the per-CPU ones for ever, so no record is moved
// and totals stay exact.
struct SeriesCells {
  // The per-CPU form's CPU-0 copy of the first cell, null while the series is shared. Set once
  // (release) after `cell`, `native_cell` and `native_cpu0`, which readers trust after an
  // acquire load of it.
  std::atomic<Cell*> cpu0{nullptr};
  uint64_t cell = 0;         // the per-CPU form's first cell in the store
  uint64_t native_cell = 0;  // and that of its native buckets
  Cell* native_cpu0 = nullptr;
  // The shared form: the `num_cells` classic cells, then the native cells; never null for a
  // series of a family (owned by it), 16-byte aligned.
  Cell* shared = nullptr;
  uint32_t num_cells = 1;  // classic cells: 1 for a counter or gauge, layout().cells() else
  // Sampled shared records and collisions, towards promotion (CellStore::NoteSharedRecord).
  mutable std::atomic<uint32_t> votes{0};
  const double* bounds = nullptr;
  uint32_t num_bounds = 0;
  // For histograms, an index by binary exponent that narrows a value's bucket to the few
  // bounds in its power-of-two range: by_exponent[e] is the number of bounds below the
  // smallest positive double whose biased exponent is e (below 0 for e = 0, below +Inf for
  // e = 2047), and by_exponent[2048] is num_bounds. nullptr when there is none.
  const uint16_t* by_exponent = nullptr;
  // For histograms that also keep native buckets: their layout (the family's); null when the
  // family has none. Native cell k is shared[num_cells + k], or native_cpu0 + k per CPU.
  const NativeLayout* native = nullptr;
  // Moved by each removal of the series (MetricFamily::Remove): a handle keeps the generation
  // it was made at and records only while they match (AddToCellChecked, ObserveIntoChecked).
  // The layout fields never change while the family lives: a removed series' cells (both
  // forms) and this struct are reused, whole, by a later series of the same family.
  std::atomic<uint32_t> generation{0};
  // For a series of a family that expires idle series (Options::series_idle_ttl): the agent's
  // record epoch, which its sweeper moves on every sweep period; null for every other series.
  // A record copies it into `last_epoch` when they differ, so a series written a million
  // times a second writes this line once per period (NoteRecord).
  std::atomic<const std::atomic<uint32_t>*> idle_epoch{nullptr};
  mutable std::atomic<uint32_t> last_epoch{0};
  HistogramLayout layout() const { return HistogramLayout{num_bounds}; }
  uint32_t native_cells() const { return native == nullptr ? 0 : native->cells(); }
};

// Marks `s` as recorded in the current epoch when its family expires idle series. Cost: one
// load of `s`'s line (which the record reads anyway) and, for such a series, a load of the
// epoch (a line written once per sweep period) and a store once per period.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline void NoteRecord(const SeriesCells& s) {
  const std::atomic<uint32_t>* epoch = s.idle_epoch.load(std::memory_order_relaxed);
  if (ABSL_PREDICT_TRUE(epoch == nullptr)) return;
  const uint32_t now = epoch->load(std::memory_order_relaxed);
  if (s.last_epoch.load(std::memory_order_relaxed) != now) {
    s.last_epoch.store(now, std::memory_order_relaxed);
  }
}

// Adds `amount` (`pair`: 1 and `amount` to the pair) to cell `offset` of `s`'s shared form,
// and counts the record towards the series' promotion (which it may perform). Out of line:
// the path of series written rarely.
VITALS_EXPORT void SharedAdd(const SeriesCells& s, uint32_t offset, double amount, bool pair);

// Adds `amount` to cell `offset` of series `s` (a counter's or gauge's 0; the agent's own
// series, which are never removed). Cost: one load of `s` and a restartable add once the
// series is per-CPU (about 2-4 ns); a compare-and-swap add on the shared form before.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline void AddToSeries(const SeriesCells& s, double amount,
                                                     uint32_t offset = 0) {
  Cell* cpu0 = s.cpu0.load(std::memory_order_acquire);
  if (ABSL_PREDICT_TRUE(cpu0 != nullptr)) {
    AddToCellAt(cpu0 + offset, amount);
    return;
  }
  SharedAdd(s, offset, amount, /*pair=*/false);
}

// The slow path of the checked adds below (the shared form, no rseq for this thread, or a CPU
// without a copy): adds `amount` to cell `offset` of `s` (a pair at an even offset when
// `pair`; offsets from num_cells on are native cells) while `s`'s generation is `expected`.
// What does not run in a restartable sequence runs counted as a checked writer, which the
// reclaimer waits for (agent/core/series_reclaim.h).
VITALS_EXPORT void SlowAddChecked(const SeriesCells& s, uint32_t expected, uint32_t offset,
                                  double amount, bool pair);

// Adds `amount` to `s`'s cell while its generation is `expected` (a public handle's
// record). Cost: the AddToCellAt path with the generation compare inside the restartable
// sequence (one more load of `s`'s line, which the caller has just read).
ABSL_ATTRIBUTE_ALWAYS_INLINE inline void AddToCellChecked(const SeriesCells& s, uint32_t expected,
                                                          double amount) {
  NoteRecord(s);
#ifdef VITALS_HAVE_RSEQ
  Cell* cpu0 = s.cpu0.load(std::memory_order_acquire);
  if (ABSL_PREDICT_TRUE(cpu0 != nullptr) &&
      ABSL_PREDICT_TRUE(RestartableAddChecked<Cell>(cpu0, amount, &s.generation, expected) >= 0)) {
    return;
  }
#endif
  SlowAddChecked(s, expected, 0, amount, /*pair=*/false);
}

// The number of bounds in [lo, hi) below `value`, plus lo: a scan for a few, else a binary
// search.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline uint32_t CountBelow(const double* bounds, uint32_t lo,
                                                        uint32_t hi, double value) {
  if (hi - lo <= 8) {
    while (lo < hi && value > bounds[lo]) ++lo;
    return lo;
  }
  while (lo < hi) {
    const uint32_t mid = lo + (hi - lo) / 2;
    if (value > bounds[mid]) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

// Index of the bucket that counts `value` (not NaN): the first bound >= value, or num_bounds
// for +Inf; that is, the number of bounds below `value`. A value in the first bucket (the
// usual fast request or query) costs one compare; any other positive value one look-up in
// `by_exponent` and a compare or two for OpenTelemetry's default bounds (about 2 ns whatever
// the spread of values); without the index, a scan or a binary search.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline uint32_t BucketIndex(const double* bounds, uint32_t num_bounds,
                                                         double value,
                                                         const uint16_t* by_exponent = nullptr) {
  if (num_bounds == 0 || value <= bounds[0]) return 0;
  if (ABSL_PREDICT_TRUE(by_exponent != nullptr) && value > 0) {
    uint64_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    const uint32_t e = static_cast<uint32_t>(bits >> 52);  // the sign bit is 0
    return CountBelow(bounds, by_exponent[e], by_exponent[e + 1], value);
  }
  return CountBelow(bounds, 1, num_bounds, value);  // value > bounds[0] already
}

// Adds 1 to the count and `value` to the sum of the pair at cell `index` (even) for the calling
// thread's CPU: one table load and one restartable 16-byte add.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline void AddToPair(uint64_t index, double value) {
  Cell* chunk = g_cell_table.chunks[index >> kChunkShift].load(std::memory_order_acquire);
  if (ABSL_PREDICT_TRUE(chunk != nullptr) &&
      ABSL_PREDICT_TRUE(AddPairOnThisCpu(
          reinterpret_cast<CellPair*>(chunk + (index & (kChunkCells - 1))), value))) {
    return;
  }
  SlowAddToPair(index, value);
}

// AddToPair for a pair whose CPU-0 copy the caller holds (see AddToCellAt).
ABSL_ATTRIBUTE_ALWAYS_INLINE inline void AddToPairAt(Cell* cpu0, double value) {
  if (ABSL_PREDICT_TRUE(AddPairOnThisCpu(reinterpret_cast<CellPair*>(cpu0), value))) return;
  SlowAddToPairAt(cpu0, value);
}

// The native-bucket half of an observe (ObserveInto): one restartable add of 1 to the cell of
// `value`'s native bucket. Out of line, so that the classic observe every histogram makes
// stays small enough to inline where it is called.
VITALS_EXPORT void AddToNativeBucket(const SeriesCells& s, double value);

// What ObserveInto returns for a NaN, which it does not count.
inline constexpr uint32_t kNoBucket = ~uint32_t{0};

// One restartable add of (1, value) to the bucket's pair on the running CPU's copy; with
// native buckets, one more restartable add of 1 to the native bucket's cell. Returns the
// classic bucket it counted (for its exemplar), or kNoBucket for a NaN. (A shared series:
// compare-and-swap adds to its shared cells instead.)
ABSL_ATTRIBUTE_ALWAYS_INLINE inline uint32_t ObserveInto(const SeriesCells& s, double value) {
  if (ABSL_PREDICT_FALSE(value != value)) return kNoBucket;  // NaN
  const uint32_t bucket = BucketIndex(s.bounds, s.num_bounds, value, s.by_exponent);
  Cell* cpu0 = s.cpu0.load(std::memory_order_acquire);
  if (ABSL_PREDICT_TRUE(cpu0 != nullptr)) {
    AddToPairAt(cpu0 + HistogramLayout::pair(bucket), value);
  } else {
    SharedAdd(s, HistogramLayout::pair(bucket), value, /*pair=*/true);
  }
  if (ABSL_PREDICT_FALSE(s.native != nullptr)) AddToNativeBucket(s, value);
  return bucket;
}

// The native half of ObserveIntoChecked.
VITALS_EXPORT void AddToNativeBucketChecked(const SeriesCells& s, uint32_t expected, double value);

// ObserveInto for a public handle: records only while `s`'s generation is `expected` (see
// RestartableAddChecked). Returns the bucket, or kNoBucket for a NaN.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline uint32_t ObserveIntoChecked(const SeriesCells& s,
                                                                uint32_t expected, double value) {
  if (ABSL_PREDICT_FALSE(value != value)) return kNoBucket;  // NaN
  NoteRecord(s);
  const uint32_t bucket = BucketIndex(s.bounds, s.num_bounds, value, s.by_exponent);
  bool done = false;
#if defined(VITALS_HAVE_RSEQ) && defined(__SSE2__)
  Cell* cpu0 = s.cpu0.load(std::memory_order_acquire);
  if (ABSL_PREDICT_TRUE(cpu0 != nullptr)) {
    done = RestartableAddChecked<CellPair>(cpu0 + HistogramLayout::pair(bucket),
                                           _mm_set_pd(value, 1.0), &s.generation, expected) >= 0;
  }
#endif
  if (ABSL_PREDICT_FALSE(!done)) {
    SlowAddChecked(s, expected, HistogramLayout::pair(bucket), value, /*pair=*/true);
  }
  if (ABSL_PREDICT_FALSE(s.native != nullptr)) AddToNativeBucketChecked(s, expected, value);
  return bucket;
}

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_DETAIL_CELLS_H_
