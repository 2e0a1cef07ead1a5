#include "agent/core/series_reclaim.h"

#include <linux/membarrier.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "agent/base/mutex.h"
#include "agent/core/cell_store.h"

namespace vitals {
namespace internal {

CheckedWriterCount g_checked_writers[kCheckedWriterCounts];
ReclaimEpoch g_reclaim_epoch;

namespace {

// linux/membarrier.h declares the commands as an enum, so they cannot be tested for with #ifdef;
// these are their values since Linux 5.10, which the kernel rejects (EINVAL) when older.
constexpr int kRegisterExpeditedRseq = 1 << 8;  // MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ
constexpr int kExpeditedRseq = 1 << 7;          // MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ
static_assert(kRegisterExpeditedRseq == MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ);
static_assert(kExpeditedRseq == MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ);

std::atomic<uint32_t> next_count{0};
thread_local int tls_count_plus_one = 0;

struct Membarrier {
  bool ok = false;
  std::string why;
};

const Membarrier& MembarrierState() {
  static const Membarrier* state = [] {
    auto* m = new Membarrier;
    if (!CellStore::Get().rseq_active()) {
      m->ok = true;  // every record is a checked writer: the counts are enough
      return m;
    }
    if (syscall(SYS_membarrier, kRegisterExpeditedRseq, 0, 0) == 0) {
      m->ok = true;
    } else {
      m->why = absl::StrCat("membarrier(REGISTER_PRIVATE_EXPEDITED_RSEQ) failed: ",
                            std::strerror(errno));
    }
    return m;
  }();
  return *state;
}

}  // namespace

CheckedWriterCount& ThreadWriterCount() {
  if (tls_count_plus_one == 0) {
    tls_count_plus_one = static_cast<int>(next_count.fetch_add(1, std::memory_order_relaxed) %
                                          kCheckedWriterCounts) +
                         1;
  }
  return g_checked_writers[tls_count_plus_one - 1];
}

bool CanReuseRemovedSeries(std::string* why) {
  const Membarrier& m = MembarrierState();
  if (!m.ok && why != nullptr) *why = m.why;
  return m.ok;
}

namespace {

// Waits for every slot's count of epoch parity `e` to be seen at zero once. Only writers that
// entered before the flip away from `e` are counted there (a later one backs out), so once seen
// at zero a count holds no writer that could still compare an old generation.
bool Drained(uint32_t e) {
  for (const CheckedWriterCount& c : g_checked_writers) {
    int tries = 0;
    while (c.n[e].load(std::memory_order_seq_cst) != 0) {
      ++tries;
      if (tries > 1000) sched_yield();  // a writer preempted inside may be waiting for this CPU
      if (tries == 1020) return false;
    }
  }
  return true;
}

}  // namespace

bool ReclaimGrace() {
  if (!CanReuseRemovedSeries()) return false;
  if (CellStore::Get().rseq_active() && syscall(SYS_membarrier, kExpeditedRseq, 0, 0) != 0) {
    return false;
  }
  static Mutex* const mu = new Mutex;
  MutexLock lock(mu);
  const uint32_t e = g_reclaim_epoch.value.load(std::memory_order_seq_cst) & 1;
  // The other parity first: a previous grace that gave up may have left a writer there, and
  // after this flip that parity is the current one again. Nothing new enters it meanwhile.
  if (!Drained(e ^ 1)) return false;
  g_reclaim_epoch.value.fetch_add(1, std::memory_order_seq_cst);
  // Every writer that entered before the flip counts in `e` (or, from before an earlier flip,
  // in the parity just drained); every one after it compares the moved generation.
  return Drained(e);
}

}  // namespace internal
}  // namespace vitals
