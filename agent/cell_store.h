// agent/cell_store.h: allocation of cell ranges and summing them over all threads.
//
// Threading model (the hot path never takes `mu_`):
// - A thread writes only its own arena (vitals/detail/cells.h). Its chunk pointers are published
//   with release stores; readers load them with acquire.
// - `mu_` guards the list of arenas, the retired totals, and the free lists. It is taken when a
//   thread records for the first time (to register its arena), when a thread exits (its values
//   are folded into `retired_` and its arena is freed), by scrapes (`ReadLock`), and when a
//   range is allocated or freed.
// - Freed ranges are zeroed in every arena before reuse, so a new series starts at zero.
// The store is a leaked process-wide singleton: thread-exit hooks may run after static
// destructors.

#ifndef VITALS_AGENT_CELL_STORE_H_
#define VITALS_AGENT_CELL_STORE_H_

#include <cstdint>
#include <map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "agent/mutex.h"
#include "vitals/detail/cells.h"

namespace vitals {
namespace internal {

class CellStore {
 public:
  static CellStore& Get();

  // A range of `n` zeroed cells (1 <= n <= kChunkCells) inside one chunk, or -1 when the store
  // is exhausted.
  int64_t Allocate(uint32_t n) ABSL_LOCKS_EXCLUDED(mu_);
  void Free(uint64_t base, uint32_t n) ABSL_LOCKS_EXCLUDED(mu_);

  // Holds the store's lock so a scrape sees one consistent set of arenas.
  class ReadLock {
   public:
    explicit ReadLock(CellStore& store) : store_(store) { store_.mu_.Lock(); }
    ~ReadLock() { store_.mu_.Unlock(); }
    ReadLock(const ReadLock&) = delete;
    ReadLock& operator=(const ReadLock&) = delete;

   private:
    CellStore& store_;
  };

  // Sums cells [base, base + n) over all threads into `out` (overwritten). Caller holds a
  // ReadLock.
  void Sum(uint64_t base, uint32_t n, double* out) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Sum, taking the lock itself (for one-off reads such as Counter::Value).
  void Read(uint64_t base, uint32_t n, double* out) ABSL_LOCKS_EXCLUDED(mu_);
  double ReadF64(uint64_t index) ABSL_LOCKS_EXCLUDED(mu_);

  // Hooks for vitals/detail/cells.h and thread exit.
  Cell* SlowThreadCell(uint64_t index);
  void RetireArena(Arena* arena) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  CellStore() = default;
  static Cell* NewChunk();
  static void ZeroRange(Arena* arena, uint64_t base, uint32_t n);

  internal::Mutex mu_;
  std::vector<Arena*> arenas_ ABSL_GUARDED_BY(mu_);
  Arena* retired_ ABSL_GUARDED_BY(mu_);
  uint64_t next_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<uint32_t, std::vector<uint64_t>> free_ ABSL_GUARDED_BY(mu_);
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_CELL_STORE_H_
