// agent/base/free_list.h: a small, bounded pool of owned objects that keep their capacity (a
// scrape's body and scratch buffers), so a steady state allocates nothing.
//
// Thread-safety: Take and Give from any thread (a mutex around a vector move; never on a
// recording path). Ownership: objects given back beyond `max_kept` are destroyed.

#ifndef VITALS_AGENT_BASE_FREE_LIST_H_
#define VITALS_AGENT_BASE_FREE_LIST_H_

#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "agent/base/mutex.h"

namespace vitals {
namespace internal {

template <typename T>
class FreeList {
 public:
  explicit FreeList(size_t max_kept) : max_kept_(max_kept) {}

  // A kept object, or a new one.
  std::unique_ptr<T> Take() ABSL_LOCKS_EXCLUDED(mu_) {
    {
      MutexLock lock(&mu_);
      if (!kept_.empty()) {
        std::unique_ptr<T> item = std::move(kept_.back());
        kept_.pop_back();
        return item;
      }
    }
    return std::make_unique<T>();
  }

  // Keeps `item` for a later Take, unless max_kept are kept already.
  void Give(std::unique_ptr<T> item) ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    if (kept_.size() < max_kept_) kept_.push_back(std::move(item));
  }

 private:
  const size_t max_kept_;
  Mutex mu_;
  std::vector<std::unique_ptr<T>> kept_ ABSL_GUARDED_BY(mu_);
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_BASE_FREE_LIST_H_
