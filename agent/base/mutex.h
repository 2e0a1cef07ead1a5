// agent/base/mutex.h: the agent's mutex, a std::mutex with abseil's thread-safety annotations.
//
// Why not absl::Mutex: Debian ships abseil prebuilt without ThreadSanitizer, so TSan cannot see
// the ordering absl::Mutex provides and reports false races in the code it guards. std::mutex
// goes through pthread, which TSan intercepts, so the TSan build checks our real locking. None
// of these locks is on a recording hot path.

#ifndef VITALS_AGENT_BASE_MUTEX_H_
#define VITALS_AGENT_BASE_MUTEX_H_

#include <mutex>

#include "absl/base/thread_annotations.h"

namespace vitals {
namespace internal {

class ABSL_LOCKABLE Mutex {
 public:
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }

 private:
  std::mutex mu_;
};

class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* mu_;
};

}  // namespace internal
}  // namespace vitals

#endif  // VITALS_AGENT_BASE_MUTEX_H_
