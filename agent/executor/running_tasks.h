// agent/executor/running_tasks.h: the tasks a pool is running now, watched for stalls without a
// lock on the worker's path.
//
// A fixed array of slots, one cache line each. A worker that starts a task claims a free slot
// with one compare-and-swap, starting at the slot it released last (a thread-local hint), so a
// pool's workers settle on slots of their own and a task touches no line another thread
// writes. The slot's sequence tells its state (mod 4): 0 free, 1 claimed and being written,
// 2 running, 3 unused; the claim moves 0 -> 1, the stores of start time and name are release
// stores, publishing moves 1 -> 2 and the release moves 2 -> 4 (free again, next generation).
// The scanner copies a running slot between two reads of its sequence (a seqlock with acquire
// loads, as agent/core/exemplar.h): a copy that saw any field of a later task also sees the
// later sequence, so a torn copy never passes. When every slot is busy the task runs unwatched
// (counted in unwatched()).
//
// Thread-safety: Claim and Release from any thread; Scan from one thread at a time (the caller
// serializes it). Memory: 64 bytes per slot.

#ifndef VITALS_AGENT_EXECUTOR_RUNNING_TASKS_H_
#define VITALS_AGENT_EXECUTOR_RUNNING_TASKS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"

namespace vitals {
namespace internal {

class RunningTasks {
 public:
  // Task names longer than this are cut.
  static constexpr size_t kMaxNameBytes = 40;
  static constexpr uint32_t kNoSlot = ~uint32_t{0};

  explicit RunningTasks(uint32_t slots);

  // Marks a task named `name` as running since `start_nanos`; returns its slot, or kNoSlot
  // when all are busy. Lock-free: one compare-and-swap, eight release stores.
  uint32_t Claim(int64_t start_nanos, absl::string_view name);
  // The task in `slot` (from Claim; kNoSlot is ignored) has ended. One release store.
  void Release(uint32_t slot);

  struct Running {
    uint64_t id;  // unique per task run, for reporting it once
    int64_t start_nanos;
    std::string name;
  };
  // Calls `fn` for each task running when it is looked at (a task that starts or ends
  // meanwhile may be missed; one never is reported with another's fields).
  void Scan(absl::FunctionRef<void(const Running&)> fn) const;

  uint32_t size() const { return size_; }
  uint64_t unwatched() const { return unwatched_.load(std::memory_order_relaxed); }

 private:
  struct alignas(64) Slot {
    std::atomic<uint64_t> seq{0};
    std::atomic<int64_t> start{0};
    std::atomic<uint64_t> name[kMaxNameBytes / 8] = {};
    std::atomic<uint32_t> name_size{0};
  };
  static_assert(sizeof(Slot) == 64, "one cache line per slot");

  const uint32_t size_;
  std::unique_ptr<Slot[]> slots_;
  std::atomic<uint64_t> unwatched_{0};
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_EXECUTOR_RUNNING_TASKS_H_
