// agent/core/cell_store.h: allocation of cell ranges and summing them over all threads.
//
// Threading model (no lock is shared between recording and reading):
// - A thread writes only the arena it owns (vitals/detail/cells.h). Its chunk pointers are
//   published with release stores; readers load them with acquire.
// - Arenas live on a lock-free list that only grows. A thread's first record claims an arena
//   nobody owns (or pushes a new one) with one compare-and-swap; when the thread exits, a
//   pthread key destructor gives the arena up with one store. The arena keeps its values, so
//   sums stay exact without folding anything, and the next new thread reuses it: memory grows
//   with the number of threads alive at once, not with the number that ever recorded.
// - Readers (scrapes, Counter::Value) walk the list without a lock. A thread's first record or
//   its exit never waits for a scrape, and a scrape never waits for them.
// - `alloc_mu_` guards only the allocation of cell ranges and the free lists. Freed ranges are
//   zeroed in every arena before reuse, so a new series starts at zero.
// The store is a leaked process-wide singleton: thread-exit hooks may run after static
// destructors.

#ifndef VITALS_AGENT_CORE_CELL_STORE_H_
#define VITALS_AGENT_CORE_CELL_STORE_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "agent/base/mutex.h"
#include "vitals/detail/cells.h"

namespace vitals {
namespace internal {

class CellStore {
 public:
  static CellStore& Get();

  // A range of `n` zeroed cells (1 <= n <= kChunkCells) inside one chunk, or -1 when the store
  // is exhausted.
  int64_t Allocate(uint32_t n) ABSL_LOCKS_EXCLUDED(alloc_mu_);
  void Free(uint64_t base, uint32_t n) ABSL_LOCKS_EXCLUDED(alloc_mu_);

  // Sums cells [base, base + n) over all threads into `out` (overwritten). Lock-free.
  void Sum(uint64_t base, uint32_t n, double* out) const;
  double ReadF64(uint64_t index) const;

  // Arenas in the list (owned or free), for tests and the threads benchmark.
  size_t arena_count() const { return arena_count_.load(std::memory_order_relaxed); }

  // Hook for vitals/detail/cells.h.
  Cell* SlowThreadCell(uint64_t index);

 private:
  struct Node;
  CellStore();
  static Cell* NewChunk();
  static void ZeroRange(Arena* arena, uint64_t base, uint32_t n);
  // An arena for the calling thread: a free one from the list, or a new one.
  Node* Claim();
  static void Release(void* node);  // pthread key destructor

  std::atomic<Node*> head_{nullptr};
  std::atomic<size_t> arena_count_{0};
  unsigned int exit_key_ = 0;  // pthread_key_t
  internal::Mutex alloc_mu_;
  uint64_t next_ ABSL_GUARDED_BY(alloc_mu_) = 0;
  std::map<uint32_t, std::vector<uint64_t>> free_ ABSL_GUARDED_BY(alloc_mu_);
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_CORE_CELL_STORE_H_
